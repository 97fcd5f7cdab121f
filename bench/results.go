package bench

import (
	"fmt"
	"io"
	"math"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/goslub/slub/cpuid"
)

// Result files are in the Go benchmark format
// (https://golang.org/design/14313-benchmark-format), written by
// golang.org/x/perf/benchfmt's Writer: configuration lines ("key: value"),
// then one line per benchmark run with the values go test -bench prints, so
// that the stock benchstat command reads them too.

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

// unitBetter says which direction is better for the units whose direction
// benchstat cannot guess (it takes lower as better for the rest).
var unitBetter = []KV{
	{"allocs/s", "higher"},
	{"frees/s", "higher"},
}

// A ResultWriter writes the results of one run through benchfmt.Writer: the
// unit metadata lines first, then the configuration lines of the run before
// the first result, and again whenever a value changes (gomaxprocs during a
// -cpu sweep), then one line per benchmark run.
type ResultWriter struct {
	w     *benchfmt.Writer
	run   RunConfig
	units bool // the unit metadata lines are written
}

// NewResultWriter returns a writer of the results of run to w.
func NewResultWriter(w io.Writer, run RunConfig) *ResultWriter {
	return &ResultWriter{w: benchfmt.NewWriter(w), run: run}
}

// Write writes one result of the benchmark name (as Benchmark.Name: no
// "Benchmark" prefix, no -procs suffix) run at GOMAXPROCS procs.
func (rw *ResultWriter) Write(name string, procs int, r testing.BenchmarkResult) error {
	if !rw.units {
		for _, u := range unitBetter {
			m := &benchfmt.UnitMetadata{UnitMetadataKey: benchfmt.UnitMetadataKey{Unit: u.Key, Key: "better"}, OrigUnit: u.Key, Value: u.Value}
			if err := rw.w.Write(m); err != nil {
				return err
			}
		}
		rw.units = true
	}
	// A new Result each time: benchfmt indexes a Result's configuration
	// when it is first read.
	res := &benchfmt.Result{
		Name:   benchfmt.Name(strings.TrimPrefix(FullName(name, procs), "Benchmark")),
		Iters:  r.N,
		Values: ResultValues(r),
	}
	for _, kv := range rw.run.Config(procs) {
		res.Config = append(res.Config, benchfmt.Config{Key: kv.Key, Value: []byte(oneLine(kv.Value)), File: true})
	}
	return rw.w.Write(res)
}

// ResultValues returns the measurements of r as go test -benchmem prints
// them, with the same rounding: ns/op, the workload's own metrics in unit
// order, B/op and allocs/op.
func ResultValues(r testing.BenchmarkResult) []benchfmt.Value {
	var vs []benchfmt.Value
	ns, ok := r.Extra["ns/op"]
	if !ok && r.N > 0 {
		ns = float64(r.T.Nanoseconds()) / float64(r.N)
	}
	vs = append(vs, benchfmt.Value{Value: testingRound(ns), Unit: "ns/op"})
	var extra []string
	for k := range r.Extra {
		switch k {
		case "ns/op", "B/op", "allocs/op":
			continue
		}
		extra = append(extra, k)
	}
	slices.Sort(extra)
	for _, k := range extra {
		vs = append(vs, benchfmt.Value{Value: testingRound(r.Extra[k]), Unit: k})
	}
	return append(vs,
		benchfmt.Value{Value: float64(r.AllocedBytesPerOp()), Unit: "B/op"},
		benchfmt.Value{Value: float64(r.AllocsPerOp()), Unit: "allocs/op"})
}

// testingRound rounds x to the digits go test prints of a metric: whole
// numbers from 1000 up, four or five significant digits below.
func testingRound(x float64) float64 {
	decimals := 0
	switch y := math.Abs(x); {
	case y == 0 || y >= 999.95:
	case y >= 99.995:
		decimals = 1
	case y >= 9.9995:
		decimals = 2
	case y >= 0.99995:
		decimals = 3
	case y >= 0.099995:
		decimals = 4
	case y >= 0.0099995:
		decimals = 5
	case y >= 0.00099995:
		decimals = 6
	default:
		decimals = 7
	}
	v, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', decimals, 64), 64)
	if err != nil {
		return x
	}
	return v
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// FullName returns the name of a benchmark as go test prints it:
// "Benchmark" + name, and "-procs" unless procs is 1.
func FullName(name string, procs int) string {
	if procs == 1 {
		return "Benchmark" + name
	}
	return "Benchmark" + name + "-" + strconv.Itoa(procs)
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
