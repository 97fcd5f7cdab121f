// Package envlog tells the go command which environment variables this
// module's packages read, so that go test does not answer a run from the
// cache of a run made with other values.
//
// go test caches a package's result under its test binary, its flags, and
// the environment variables and files the tests consulted, which package
// testing records in a test log while the tests run. A variable read before
// that, in a package's init (GOSLUB_NODCAS, GOSLUB_FAILSLAB), is missing
// from the log: "GOSLUB_NODCAS=1 go test ./alloc" right after "go test
// ./alloc" printed "(cached)" and ran nothing.
//
// Main, called from every package's TestMain, adds to the log, after the
// tests, every variable that the module's code names in a call of
// os.Getenv or os.LookupEnv (or their syscall twins). It finds them in the
// module's source, so a variable added later is covered without a list to
// keep. The name must be a string constant, in the same package or another
// one of the module; code that reads the environment in a way whose names
// cannot be read off the source (os.Environ, os.ExpandEnv, os.Getenv
// passed as a function) makes Main fail the test binary, naming the place.
// Test files are not looked at: a test reads its variables while the test
// log records them.
package envlog

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Main runs the tests and, when go test asked for a test log, adds the
// module's environment variables to it. It does not return.
//
//	func TestMain(m *testing.M) { envlog.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if err := record(); err != nil {
		fmt.Fprintf(os.Stderr, "envlog: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// record appends a "getenv NAME" line, the test log's record of a read of
// NAME, for each variable of the module to the file -test.testlogfile
// names. The go command writes that flag only when it may cache the result
// (never for go test -exec, for example).
func record() error {
	f := flag.Lookup("test.testlogfile")
	if f == nil || f.Value.String() == "" {
		return nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return err
	}
	names, err := ModuleVars(root)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "getenv %s\n", n)
	}
	log, err := os.OpenFile(f.Value.String(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := log.WriteString(b.String()); err != nil {
		log.Close()
		return err
	}
	return log.Close()
}

// moduleRoot returns the directory at or above dir that holds go.mod.
func moduleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s", dir)
		}
	}
}

// pkg is one directory of Go files: its string constants, by name, as
// expressions not yet evaluated.
type pkg struct {
	consts map[string]ast.Expr
	files  []*ast.File
}

// ModuleVars returns, sorted, the environment variables that the non-test
// Go files of the module rooted at root read with os.Getenv, os.LookupEnv,
// syscall.Getenv or syscall.LookupEnv. It is an error when one of them is
// called with a name that is not a string constant, or when the code reads
// the environment in another way.
func ModuleVars(root string) ([]string, error) {
	modPath, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	pkgs := map[string]*pkg{} // by import path
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if p != root {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		ip := path.Join(modPath, filepath.ToSlash(rel))
		pk := pkgs[ip]
		if pk == nil {
			pk = &pkg{consts: map[string]ast.Expr{}}
			pkgs[ip] = pk
		}
		pk.files = append(pk.files, f)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						pk.consts[n.Name] = vs.Values[i]
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	s := scan{root: root, modPath: modPath, fset: fset, pkgs: pkgs, names: map[string]bool{}}
	ips := make([]string, 0, len(pkgs))
	for ip := range pkgs {
		ips = append(ips, ip)
	}
	slices.Sort(ips)
	for _, ip := range ips {
		for _, f := range pkgs[ip].files {
			s.file(ip, f)
		}
	}
	if len(s.errs) > 0 {
		return nil, errors.Join(s.errs...)
	}
	names := make([]string, 0, len(s.names))
	for n := range s.names {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// modulePath reads the module line of a go.mod file.
func modulePath(gomod string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok {
			p := strings.Trim(strings.TrimSpace(rest), `"`)
			if p != "" {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

type scan struct {
	root    string
	modPath string
	fset    *token.FileSet
	pkgs    map[string]*pkg
	names   map[string]bool
	errs    []error
}

// readers are the functions that read one variable named by their first
// argument; others are those that read the environment in ways this
// package cannot follow.
var (
	readers = map[string]map[string]bool{
		"os":      {"Getenv": true, "LookupEnv": true},
		"syscall": {"Getenv": true, "LookupEnv": true},
	}
	others = map[string]map[string]bool{
		"os":      {"Environ": true, "ExpandEnv": true},
		"syscall": {"Environ": true},
	}
)

func (s *scan) errorf(pos token.Pos, format string, args ...any) {
	p := s.fset.Position(pos)
	if rel, err := filepath.Rel(s.root, p.Filename); err == nil {
		p.Filename = filepath.ToSlash(rel)
	}
	s.errs = append(s.errs, fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...)))
}

// file records the variables f reads; ip is its package's import path.
func (s *scan) file(ip string, f *ast.File) {
	imports := map[string]string{} // local name -> import path
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := path.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		imports[name] = p
	}
	// fn returns the standard package and function a selector names, if it
	// is one this scan cares about.
	fn := func(e ast.Expr) (string, string, bool) {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			return "", "", false
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return "", "", false
		}
		p := imports[x.Name]
		if readers[p][sel.Sel.Name] || others[p][sel.Sel.Name] {
			return p, sel.Sel.Name, true
		}
		return "", "", false
	}
	called := map[ast.Expr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			p, name, ok := fn(n.Fun)
			if !ok {
				return true
			}
			called[n.Fun] = true
			if !readers[p][name] {
				s.errorf(n.Pos(), "%s.%s reads variables whose names the source does not give; read each with os.Getenv or os.LookupEnv and a constant name", p, name)
				return true
			}
			if len(n.Args) != 1 {
				return true
			}
			v, err := s.eval(ip, imports, n.Args[0], 0)
			if err != nil {
				s.errorf(n.Args[0].Pos(), "%s.%s: %v", p, name, err)
				return true
			}
			s.names[v] = true
		case *ast.SelectorExpr:
			if p, name, ok := fn(n); ok && !called[n] {
				s.errorf(n.Pos(), "%s.%s used other than in a call: the variables it reads cannot be told", p, name)
			}
		}
		return true
	})
}

// eval returns the value of a string constant expression of package ip.
func (s *scan) eval(ip string, imports map[string]string, e ast.Expr, depth int) (string, error) {
	if depth > 20 {
		return "", errors.New("constant defined in terms of itself")
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			return strconv.Unquote(e.Value)
		}
	case *ast.ParenExpr:
		return s.eval(ip, imports, e.X, depth+1)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			x, err := s.eval(ip, imports, e.X, depth+1)
			if err != nil {
				return "", err
			}
			y, err := s.eval(ip, imports, e.Y, depth+1)
			return x + y, err
		}
	case *ast.Ident:
		if v, ok := s.pkgs[ip].consts[e.Name]; ok {
			return s.eval(ip, imports, v, depth+1)
		}
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok {
			p := imports[x.Name]
			if other := s.pkgs[p]; other != nil {
				if v, ok := other.consts[e.Sel.Name]; ok {
					// The imports of the file that declares it are not
					// at hand: such a constant is a plain string or
					// refers to its own package's constants.
					return s.eval(p, nil, v, depth+1)
				}
			}
		}
	}
	return "", fmt.Errorf("the name is not a string constant of this module")
}
