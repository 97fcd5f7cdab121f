package envlog

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestModuleVarsHere: the variables this module reads at start-up are
// found in its source.
func TestModuleVarsHere(t *testing.T) {
	root, err := moduleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ModuleVars(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GOSLUB_FAILSLAB", "GOSLUB_NODCAS", "GOSLUB_SLAB_DEBUG"} {
		if !slices.Contains(got, want) {
			t.Errorf("ModuleVars = %q, lacks %s", got, want)
		}
	}
}

// writeModule lays out a module of the given files under a new directory.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	files["go.mod"] = "module example.com/m\n\ngo 1.26\n"
	for name, text := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestModuleVarsNames(t *testing.T) {
	root := writeModule(t, map[string]string{
		"a/a.go": `package a

import (
	"os"
	sc "syscall"
)

const EnvA = "A_VAR"

const (
	prefix = "P_"
	EnvB   = prefix + "B"
)

var _ = os.Getenv(EnvA)

func init() {
	_, _ = os.LookupEnv(EnvB)
	_ = os.Getenv("LITERAL")
	_, _ = sc.Getenv(("PAREN"))
}
`,
		"b/b.go": `package b

import (
	"os"

	"example.com/m/a"
)

var _ = os.Getenv(a.EnvB + "_2")
`,
		// Not looked at: test files, testdata, hidden directories.
		"a/a_test.go":        "package a\n\nimport \"os\"\n\nvar _ = os.Environ()\n",
		"a/testdata/x.go":    "package x\n\nimport \"os\"\n\nvar _ = os.Getenv(\"TESTDATA\")\n",
		".hidden/h.go":       "package h\n\nimport \"os\"\n\nvar _ = os.Getenv(\"HIDDEN\")\n",
		"sub/go.mod":         "module example.com/sub\n",
		"sub/s.go":           "package s\n\nimport \"os\"\n\nvar _ = os.Getenv(\"OTHER_MODULE\")\n",
		"c/notos.go":         "package c\n\nimport os \"strings\"\n\nvar _ = os.ToLower(\"X\")\n",
		"c/shadowed_name.go": "package c\n\nimport \"os\"\n\nvar Getenv = os.Args\n",
	})
	got, err := ModuleVars(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A_VAR", "LITERAL", "PAREN", "P_B", "P_B_2"}
	if !slices.Equal(got, want) {
		t.Fatalf("ModuleVars = %q, want %q", got, want)
	}
}

func TestModuleVarsRefuses(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"var name = \"X\"\nvar _ = os.Getenv(name)", "d/d.go:6:19: os.Getenv: the name is not a string constant of this module"},
		{"var _ = os.Environ()", "d/d.go:5:9: os.Environ reads variables"},
		{"var _ = os.ExpandEnv(\"$HOME\")", "d/d.go:5:9: os.ExpandEnv reads variables"},
		{"var _ = os.Expand(\"$HOME\", os.Getenv)", "d/d.go:5:28: os.Getenv used other than in a call"},
		{"const c = c2\nconst c2 = c\nvar _ = os.Getenv(c)", "constant defined in terms of itself"},
	} {
		root := writeModule(t, map[string]string{"d/d.go": "package d\n\nimport \"os\"\n\n" + tc.src + "\n"})
		_, err := ModuleVars(root)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\nerror %v\nwant it to say %q", tc.src, err, tc.want)
		}
	}
}

// TestRecord: the test log gets one getenv line per variable, after what
// package testing wrote.
func TestRecord(t *testing.T) {
	f := flag.Lookup("test.testlogfile")
	if f == nil {
		t.Fatal("no -test.testlogfile flag")
	}
	was := f.Value.String()
	t.Cleanup(func() { f.Value.Set(was) })

	log := filepath.Join(t.TempDir(), "testlog.txt")
	if err := os.WriteFile(log, []byte("# test log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Value.Set(log); err != nil {
		t.Fatal(err)
	}
	if err := record(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != "# test log" || !slices.Contains(lines, "getenv GOSLUB_NODCAS") {
		t.Fatalf("test log:\n%s", b)
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "getenv GOSLUB_") {
			t.Errorf("test log line %q", l)
		}
	}

	// Without the flag, as under go test -exec, nothing is written.
	f.Value.Set("")
	if err := record(); err != nil {
		t.Fatal(err)
	}
}
