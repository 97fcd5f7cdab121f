package main

import (
	"bytes"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/goslub/slub/bench"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// run runs slabbench with args and returns its stdout, stderr and status.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := slabbench(args, &out, &errb)
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// withoutLegend drops the "files:" legend that compare prints before
// comparing files.
func withoutLegend(s string) string {
	if !strings.HasPrefix(s, "files:\n") {
		return s
	}
	_, rest, _ := strings.Cut(s, "\n\n")
	return rest
}

// fieldLines splits text into lines of whitespace-separated fields, without
// the table rules, so that two tables with the same numbers and labels
// compare equal whatever their column widths.
func fieldLines(s string) [][]string {
	var out [][]string
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(strings.ReplaceAll(line, "│", " "))
		if len(f) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// TestCompareMatchesBenchstat checks compare against the output of the
// benchstat command on the same files (testdata/*.benchstat, made with
// golang.org/x/perf/cmd/benchstat and the arguments given here): the same
// labels, medians, ranges, deltas, p-values and footnotes.
func TestCompareMatchesBenchstat(t *testing.T) {
	for _, c := range []struct {
		ref  string
		args []string // benchstat: the same files, with the projections of -by
	}{
		{"design.benchstat", []string{"compare", "testdata/small.txt"}},                                               // -col /design small.txt
		{"design2.benchstat", []string{"compare", "-by", "design", "testdata/small.txt", "testdata/small-rerun.txt"}}, // -col /design small.txt small-rerun.txt
		{"file.benchstat", []string{"compare", "testdata/small.txt", "testdata/small-rerun.txt"}},                     // -table "" -col .file small=... small-rerun=...
	} {
		t.Run(c.ref, func(t *testing.T) {
			out, errOut, code := run(t, c.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			ref, err := os.ReadFile(filepath.Join("testdata", c.ref))
			if err != nil {
				t.Fatal(err)
			}
			got, want := fieldLines(withoutLegend(out)), fieldLines(string(ref))
			if len(got) != len(want) {
				t.Fatalf("%d lines, benchstat has %d:\n%s", len(got), len(want), out)
			}
			for i := range want {
				if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
					t.Errorf("line %d:\n got %q\nwant %q", i+1, got[i], want[i])
				}
			}
		})
	}
}

func TestCompareGolden(t *testing.T) {
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"compare-design.golden", []string{"compare", "testdata/small.txt"}},
		{"compare-file.golden", []string{"compare", "-units", "ns/op,frees/s", "testdata/small.txt", "testdata/small-rerun.txt"}},
		{"compare-machines.golden", []string{"compare", "-units", "ns/op", "-filter", "/design:sheaves", "testdata/small.txt", "testdata/synthetic.txt"}},
		{"compare-filter.golden", []string{"compare", "-filter", "/design:(sheaves OR cpuslab)", "-units", "ns/op", "testdata/small.txt"}},
		{"targets.golden", []string{"targets", "testdata/small.txt"}},
		{"targets-synthetic.golden", []string{"targets", "testdata/synthetic.txt"}},
		{"kernel.golden", []string{"kernel", "testdata/synthetic.txt"}},
		{"summary.golden", []string{"summary", "testdata/synthetic.txt"}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			out, errOut, code := run(t, c.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, c.golden, out)
			checkLegend(t, out)
		})
	}
}

// fileConfig reads the configuration lines at the top of a result file as
// plain text, without benchfmt, as the reference for legends.
func fileConfig(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Benchmark") {
			break
		}
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.ContainsAny(k, " \t") {
			cfg[k] = v
		}
	}
	return cfg
}

// checkLegend checks every line of a "files:" legend in out against the
// file it names: each key=value must be what that file says.
func checkLegend(t *testing.T, out string) {
	t.Helper()
	if !strings.HasPrefix(out, "files:\n") {
		return
	}
	legend, _, _ := strings.Cut(strings.TrimPrefix(out, "files:\n"), "\n\n")
	for _, line := range strings.Split(legend, "\n") {
		label, desc, _ := strings.Cut(strings.TrimSpace(line), "  ")
		cfg := fileConfig(t, filepath.Join("testdata", label+".txt"))
		checkDescription(t, label, strings.TrimSpace(desc), cfg)
	}
}

// checkDescription checks a legend's "k=v k=v" against cfg, the keys in
// legendKeys order, each value whole (values may hold spaces).
func checkDescription(t *testing.T, label, desc string, cfg map[string]string) {
	t.Helper()
	var want []string
	for _, k := range legendKeys {
		if v, ok := cfg[k]; ok {
			want = append(want, k+"="+v)
		}
	}
	if w := strings.Join(want, " "); desc != w {
		t.Errorf("legend of %s:\n got %s\nwant %s (from the file)", label, desc, w)
	}
}

// TestOutputWidth: what a person reads at the end of a run, and the
// targets and kernel tables, fit 120 columns.
func TestOutputWidth(t *testing.T) {
	for _, args := range [][]string{
		{"summary", "testdata/synthetic.txt"},
		{"summary", "testdata/small.txt"},
		{"targets", "testdata/synthetic.txt"},
		{"kernel", "testdata/synthetic.txt", "testdata/small.txt"},
	} {
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		for i, line := range strings.Split(out, "\n") {
			if w := width(line); w > 120 && !strings.Contains(line, "testdata/") {
				t.Errorf("%v: line %d has %d columns:\n%s", args, i+1, w, line)
			}
		}
	}
}

func TestTargetsCheck(t *testing.T) {
	// synthetic.txt misses one target: the pair against modernc.
	_, errOut, code := run(t, "targets", "-check", "testdata/synthetic.txt")
	if code != 1 || !strings.Contains(errOut, "1 of 20 targets missed") {
		t.Errorf("targets -check with a miss: exit %d, stderr %q; want 1 and the count", code, errOut)
	}
	if _, _, code := run(t, "targets", "testdata/synthetic.txt"); code != 0 {
		t.Errorf("targets without -check: exit %d, want 0", code)
	}
	// Without modernc's Pair results that target has no data, which is no
	// miss.
	b, err := os.ReadFile("testdata/synthetic.txt")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "BenchmarkPair/size=64/design=modernc") {
			kept = append(kept, line)
		}
	}
	path := filepath.Join(t.TempDir(), "no-modernc.txt")
	if err := os.WriteFile(path, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "targets", "-check", path)
	if code != 0 || !strings.Contains(out, "19 met, 0 missed, 1 without data") {
		t.Errorf("targets -check without a miss: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
}

// TestTargetDirections: each ratio is printed as its sentence reads it.
func TestTargetDirections(t *testing.T) {
	d, err := loadResults([]string{"testdata/synthetic.txt"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range d.checkTargets("synthetic") {
		got[r.t.String()] = r.ratio.Value
	}
	// writeSynthetic: Xmalloc sheaves 120 ns, cpuslab 200 ns: 1.67 times
	// the throughput; Larson sheaves 30 ns, modernc 95 ns: 3.17 times;
	// the Pair 10 ns against floor's 9.5 ns: 1.05 times the time.
	for what, want := range map[string]float64{
		"Xmalloc sheaves ≥ 1.5 × cpuslab throughput":              200.0 / 120,
		"Larson sheaves ≥ 3 × modernc throughput at GOMAXPROCS=2": 95.0 / 30,
		"Pair/size=64 sheaves ≤ 1.1 × floor":                      10 / 9.5,
	} {
		if g, ok := got[what]; !ok || math.Abs(g/want-1) > 0.05 {
			t.Errorf("%s: ratio %.3f, want about %.3f", what, g, want)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msgs []string
	}{
		{[]string{"compre", "x.txt"}, 2, []string{`unknown command "compre"`, `did you mean "compare"?`, "usage:"}},
		{[]string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`, "usage:"}},
		{[]string{"list", "extra"}, 2, []string{`unexpected argument "extra"`}},
		{[]string{"targets", "-h"}, 0, []string{"Prints each of the project's performance targets", "-check"}},
		{[]string{"report", "-h"}, 0, []string{"Writes one HTML page", "kernel's batch table"}},
		{[]string{"kernel", "-h"}, 0, []string{"PS-v5", "whether the kernel's"}},
		{[]string{"summary", "-h"}, 0, []string{"what a default run ends with"}},
	} {
		_, errOut, code := run(t, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", c.args, code, c.code, errOut)
		}
		for _, m := range c.msgs {
			if !strings.Contains(errOut, m) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, m, errOut)
			}
		}
	}
	if strings.Contains(usage, "compre") || nearestCommand("zzzzzz") != "" {
		t.Errorf("nearestCommand suggests far words")
	}
}

// TestNewestResult: without a file, the newest run is the one with the
// latest runstamp, whatever the modification times say; a file without
// one counts by the date in its name.
func TestNewestResult(t *testing.T) {
	dir := t.TempDir()
	write := func(name, runstamp string, mtime time.Time) {
		text := "goos: linux\n"
		if runstamp != "" {
			text += "runstamp: " + runstamp + "\n"
		}
		text += "\nBenchmarkPair/size=64/design=sheaves-2 1 10 ns/op\n"
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	write("m_2026-01-01_000000.txt", "2026-01-01T00:00:00Z", now)
	write("m_2026-03-01_000000.txt", "2026-03-01T00:00:00Z", now.Add(-time.Hour))
	write("m_2026-02-01_000000.txt", "", now.Add(time.Hour))
	got, err := newestResult(dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(got) != "m_2026-03-01_000000.txt" {
		t.Errorf("newest is %s, want the one with the latest runstamp", got)
	}
	write("n_2026-04-01_000000.txt", "", now.Add(-2*time.Hour))
	if got, _ := newestResult(dir); filepath.Base(got) != "n_2026-04-01_000000.txt" {
		t.Errorf("newest is %s, want the one whose name is latest", got)
	}
}

func TestCompareErrors(t *testing.T) {
	if _, errOut, code := run(t, "compare", "-by", "machine", "testdata/small.txt"); code != 1 || !strings.Contains(errOut, "want design or file") {
		t.Errorf("-by machine: exit %d, %q", code, errOut)
	}
	if _, errOut, code := run(t, "compare", "testdata/nosuch.txt"); code != 1 || !strings.Contains(errOut, "nosuch.txt") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
	if _, _, code := run(t, "compare", "-nosuchflag"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

// TestRunWritesResultFile runs a tiny suite and reads the result file back:
// configuration lines, one result per benchmark and run, designs rotated
// between repetitions, a GOMAXPROCS sweep, and the table on stdout.
func TestRunWritesResultFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.txt")
	out, errOut, code := run(t, "-bench", "^Pair(Parallel)?/size=16/design=(goheap|floor)$",
		"-count", "2", "-benchtime", "1x", "-cpu", "1,2", "-idle", "0", "-o", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "writing "+path) || !strings.Contains(errOut, "wrote "+path+" (12 results)") {
		t.Errorf("stderr does not name the file:\n%s", errOut)
	}
	if !strings.Contains(out, "Summary of "+path) || !strings.Contains(out, "Targets: ") ||
		!strings.Contains(out, "The kernel's batch benchmark") {
		t.Errorf("stdout has no summary:\n%s", out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := benchfmt.NewReader(f, path)
	var names, procs []string
	for r.Scan() {
		var res *benchfmt.Result
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			res = rec
		case *benchfmt.UnitMetadata:
			continue
		default:
			t.Fatalf("bad line: %v", rec)
		}
		if len(names) == 0 {
			var keys []string
			for _, c := range res.Config {
				keys = append(keys, c.Key)
			}
			want := "goos goarch pkg cpu cores gomaxprocs dcas go commit runstamp machine"
			if got := strings.Join(keys, " "); got != want {
				t.Errorf("config keys %q, want %q", got, want)
			}
		}
		names = append(names, res.Name.String())
		procs = append(procs, res.GetConfig("gomaxprocs"))
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	// Pair runs on one goroutine: only at the largest GOMAXPROCS.
	want := []string{
		"PairParallel/size=16/design=goheap", "PairParallel/size=16/design=floor",
		"Pair/size=16/design=goheap-2", "Pair/size=16/design=floor-2",
		"PairParallel/size=16/design=goheap-2", "PairParallel/size=16/design=floor-2",
		"PairParallel/size=16/design=floor", "PairParallel/size=16/design=goheap",
		"Pair/size=16/design=floor-2", "Pair/size=16/design=goheap-2",
		"PairParallel/size=16/design=floor-2", "PairParallel/size=16/design=goheap-2",
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("results\n%v\nwant\n%v", names, want)
	}
	if got := strings.Join(procs, " "); got != "1 1 2 2 2 2 1 1 2 2 2 2" {
		t.Errorf("gomaxprocs config per result: %s", got)
	}
	if runtime.GOMAXPROCS(0) != orig {
		t.Errorf("GOMAXPROCS left at %d", runtime.GOMAXPROCS(0))
	}
}

var orig = runtime.GOMAXPROCS(0)

func TestRunErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-bench", "NoSuchWorkload", "-idle", "0"}, 1, "no benchmark matches"},
		{[]string{"-designs", "jemalloc"}, 1, `unknown design "jemalloc"`},
		{[]string{"-cpu", "0"}, 1, "-cpu"},
		{[]string{"-benchtime", "soon"}, 1, "-benchtime"},
		{[]string{"-param", "NoSuch=1"}, 1, `no parameter "NoSuch"`},
		{[]string{"-count", "0"}, 1, "-count"},
		{[]string{"stray"}, 2, "usage"},
	} {
		_, errOut, code := run(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}

func TestList(t *testing.T) {
	out, errOut, code := run(t, "list", "-cpu", "2", "-bench", "Bulk/n=64/")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"BenchmarkBulk/n=64/design=sheaves-2\n",
		"BenchmarkBulk/n=64/design=syncpool-2: skipped: sync.Pool has no bulk API",
		"BenchmarkBulk/n=64/design=floor-2: skipped: floor is the Pair fast-path bound",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
}

func TestSplitName(t *testing.T) {
	for _, c := range []struct {
		name                      string
		workload, variant, design string
		procs                     int
	}{
		{"Batch/n=100/order=shuffled/design=sheaves-2", "Batch", "n=100/order=shuffled", "sheaves", 2},
		{"Larson/design=goheap", "Larson", "", "goheap", 1},
		{"CacheScratch/threads=4/design=cpuslab-4", "CacheScratch", "threads=P", "cpuslab", 4},
		{"CacheScratch/threads=1/design=cpuslab-4", "CacheScratch", "threads=1", "cpuslab", 4},
	} {
		w, v, d, p := splitName(benchfmt.Name(c.name))
		if w != c.workload || v != c.variant || d != c.design || p != c.procs {
			t.Errorf("splitName(%q) = %q %q %q %d", c.name, w, v, d, p)
		}
	}
}

func TestParseCPULine(t *testing.T) {
	busy, total, err := parseCPULine("cpu  100 5 50 800 40 3 2 0 10 0\n")
	if err != nil {
		t.Fatal(err)
	}
	// user nice system irq softirq steal are busy; idle and iowait are not;
	// guest is already in user.
	if busy != 160 || total != 1000 {
		t.Errorf("busy %d total %d, want 160 1000", busy, total)
	}
	if _, _, err := parseCPULine("intr 1 2 3"); err == nil {
		t.Error("no error for a line that is not the cpu line")
	}
}

func TestResultName(t *testing.T) {
	cfgTime := mustTime(t, "2026-01-05T10:15:00Z")
	if got := resultName("amd-ryzen-7-5700-16cpu", cfgTime); got != "amd-ryzen-7-5700-16cpu_2026-01-05_101500.txt" {
		t.Errorf("resultName = %q", got)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestApplyParams(t *testing.T) {
	p := bench.DefaultParams()
	if err := applyParams(&p, []string{"LarsonSlots=100", "BatchNs=1,10"}); err != nil {
		t.Fatal(err)
	}
	if p.LarsonSlots != 100 || len(p.BatchNs) != 2 || p.BatchNs[1] != 10 {
		t.Errorf("params not applied: %+v", p)
	}
	if got := bench.DiffParams(bench.DefaultParams(), p); got != "BatchNs=1,10 LarsonSlots=100" {
		t.Errorf("DiffParams = %q", got)
	}
	for _, bad := range []string{"BatchSize=1,2", "LarsonSlots=-1", "LarsonSlots=x", "nosuch=1"} {
		if err := applyParams(&p, []string{bad}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
