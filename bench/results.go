package bench

import (
	"fmt"
	"io"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goslub/slub/cpuid"
)

// Result files are in the Go benchmark format
// (https://golang.org/design/14313-benchmark-format): configuration lines
// ("key: value") and then one line per benchmark run, as `go test -bench`
// prints them, so that the stock benchstat command reads them too.

// Pkg is the import path written as the pkg configuration line, as go test
// writes it for this package.
const Pkg = "github.com/goslub/slub/bench"

// RunConfig describes one run of the suite.
type RunConfig struct {
	Machine  cpuid.Machine
	Go       string    // runtime.Version()
	Commit   string    // see Commit
	Runstamp time.Time // when the run started
	// Params describes parameters that differ from DefaultParams; "" when
	// none do.
	Params string
}

// NewRunConfig describes a run starting now on this machine, of the code in
// the git work tree around dir.
func NewRunConfig(dir string, p Params) RunConfig {
	return RunConfig{
		Machine:  cpuid.Describe(),
		Go:       runtime.Version(),
		Commit:   Commit(dir),
		Runstamp: time.Now(),
		Params:   DiffParams(DefaultParams(), p),
	}
}

// KV is one configuration line.
type KV struct{ Key, Value string }

// Config returns the configuration lines of a run at the given GOMAXPROCS,
// in the order they are written.
func (c RunConfig) Config(gomaxprocs int) []KV {
	kvs := []KV{
		{"goos", c.Machine.GOOS},
		{"goarch", c.Machine.GOARCH},
		{"pkg", Pkg},
		{"cpu", c.Machine.Brand},
		{"cores", strconv.Itoa(c.Machine.CPUs)},
		{"gomaxprocs", strconv.Itoa(gomaxprocs)},
		{"dcas", c.Machine.DCAS},
		{"go", c.Go},
		{"commit", c.Commit},
		{"runstamp", c.Runstamp.UTC().Format(time.RFC3339)},
		{"machine", c.Machine.Name()},
	}
	if c.Params != "" {
		kvs = append(kvs, KV{"params", c.Params})
	}
	return kvs
}

// WriteConfig writes kvs as configuration lines followed by a blank line.
func WriteConfig(w io.Writer, kvs []KV) error {
	var b strings.Builder
	for _, kv := range kvs {
		fmt.Fprintf(&b, "%s: %s\n", kv.Key, oneLine(kv.Value))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// unitBetter says which direction is better for the units whose direction
// benchstat cannot guess (it takes lower as better for the rest).
var unitBetter = []KV{
	{"allocs/s", "higher"},
	{"frees/s", "higher"},
}

// WriteUnits writes the unit metadata lines of the suite.
func WriteUnits(w io.Writer) error {
	var b strings.Builder
	for _, u := range unitBetter {
		fmt.Fprintf(&b, "Unit %s better=%s\n", u.Key, u.Value)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FullName returns the name of a benchmark as go test prints it:
// "Benchmark" + name, and "-procs" unless procs is 1.
func FullName(name string, procs int) string {
	if procs == 1 {
		return "Benchmark" + name
	}
	return "Benchmark" + name + "-" + strconv.Itoa(procs)
}

// FormatResult returns the result line of a benchmark, as go test -benchmem
// prints it, with the name padded to width.
func FormatResult(fullName string, r testing.BenchmarkResult, width int) string {
	return fmt.Sprintf("%-*s\t%s\t%s", width, fullName, r.String(), r.MemString())
}

// Commit returns the commit of the git work tree around dir (with "-dirty"
// when it has changes to tracked files), else the vcs revision built into
// the binary, else "unknown".
func Commit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err == nil {
		rev := strings.TrimSpace(string(out))
		st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
		if err == nil && len(strings.TrimSpace(string(st))) > 0 {
			rev += "-dirty"
		}
		return rev
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			if modified == "true" {
				rev += "-dirty"
			}
			return rev
		}
	}
	return "unknown"
}

// DiffParams describes the fields of p that differ from base, as
// "Name=value" words in field order ("LarsonSlots=100 BatchNs=1,10");
// "" when none differ.
func DiffParams(base, p Params) string {
	var diffs []string
	bv, pv := reflect.ValueOf(base), reflect.ValueOf(p)
	for i := range bv.NumField() {
		a, b := fmt.Sprint(bv.Field(i).Interface()), fmt.Sprint(pv.Field(i).Interface())
		if a != b {
			b = strings.ReplaceAll(strings.Trim(b, "[]"), " ", ",")
			diffs = append(diffs, bv.Type().Field(i).Name+"="+b)
		}
	}
	return strings.Join(diffs, " ")
}
