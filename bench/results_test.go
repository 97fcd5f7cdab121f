package bench

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/goslub/slub/cpuid"
)

// TestResultWriter writes results at two GOMAXPROCS values and reads them
// back: unit metadata, the configuration before the first result and again
// when gomaxprocs changes, names and values as go test prints them.
func TestResultWriter(t *testing.T) {
	run := RunConfig{
		Machine:  cpuid.Machine{GOOS: "linux", GOARCH: "amd64", Brand: "Test  CPU", CPUs: 4, DCAS: "cmpxchg16b"},
		Go:       "go1.0",
		Commit:   "0123456789ab",
		Runstamp: time.Date(2026, 1, 5, 10, 15, 0, 0, time.UTC),
	}
	r1 := testing.BenchmarkResult{N: 3000, T: 100 * time.Microsecond, MemAllocs: 3000, MemBytes: 192000,
		Extra: map[string]float64{"ns/obj": 0.3333333, "peak-mapped-B": 1234567, "frees/s": 2270876.4}}
	r2 := testing.BenchmarkResult{N: 7, T: 7 * time.Millisecond}
	var buf bytes.Buffer
	w := NewResultWriter(&buf, run)
	if err := w.Write("Batch/n=100/design=sheaves", 1, r1); err != nil {
		t.Fatal(err)
	}
	if err := w.Write("Pair/size=64/design=floor", 2, r2); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if !strings.HasPrefix(text, "Unit allocs/s better=higher\nUnit frees/s better=higher\n") {
		t.Errorf("file does not open with the unit lines:\n%s", text)
	}
	if n := strings.Count(text, "goos: linux\n"); n != 1 {
		t.Errorf("configuration written %d times, want once:\n%s", n, text)
	}
	if !strings.Contains(text, "\ngomaxprocs: 2\n") || !strings.Contains(text, "cpu: Test CPU\n") {
		t.Errorf("no gomaxprocs change or cpu line:\n%s", text)
	}

	// What go test prints of the same results, read by the same reader.
	var gotest bytes.Buffer
	fmt.Fprintf(&gotest, "BenchmarkBatch/n=100/design=sheaves\t%s\t%s\n", r1.String(), r1.MemString())
	fmt.Fprintf(&gotest, "BenchmarkPair/size=64/design=floor-2\t%s\t%s\n", r2.String(), r2.MemString())
	want := readBack(t, gotest.String())

	got := readBack(t, text)
	if len(got) != 2 {
		t.Fatalf("read %d results back, want 2", len(got))
	}
	for i, res := range got {
		if g, w := valuesString(res), valuesString(want[i]); g != w {
			t.Errorf("result %d values\n got %s\nwant %s (as go test prints them)", i, g, w)
		}
	}
	if g := got[0].Name.String(); g != "Batch/n=100/design=sheaves" {
		t.Errorf("name %q", g)
	}
	if g := got[1].Name.String(); g != "Pair/size=64/design=floor-2" {
		t.Errorf("name %q", g)
	}
	var keys []string
	for _, c := range got[0].Config {
		if c.File {
			keys = append(keys, c.Key+"="+string(c.Value))
		}
	}
	wantKeys := "goos=linux goarch=amd64 pkg=github.com/goslub/slub/bench cpu=Test CPU cores=4 gomaxprocs=1 " +
		"dcas=cmpxchg16b go=go1.0 commit=0123456789ab runstamp=2026-01-05T10:15:00Z machine=" + run.Machine.Name()
	if g := strings.Join(keys, " "); g != wantKeys {
		t.Errorf("config\n got %s\nwant %s", g, wantKeys)
	}
	if g := got[1].GetConfig("gomaxprocs"); g != "2" {
		t.Errorf("second result at gomaxprocs %q, want 2", g)
	}
}

func readBack(t *testing.T, text string) []*benchfmt.Result {
	t.Helper()
	r := benchfmt.NewReader(strings.NewReader(text), "test")
	var out []*benchfmt.Result
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			out = append(out, rec.Clone())
		case *benchfmt.SyntaxError:
			t.Fatalf("%v", rec)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func valuesString(r *benchfmt.Result) string {
	var parts []string
	for _, v := range r.Values {
		parts = append(parts, fmt.Sprintf("%v %s", v.Value, v.Unit))
	}
	return strings.Join(parts, " ")
}

func TestTestingRound(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{28.2537, 28.25}, {1234.6, 1235}, {0.333333, 0.3333}, {999.96, 1000}, {0, 0}, {123.456, 123.5},
	} {
		if got := testingRound(c.x); got != c.want {
			t.Errorf("testingRound(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}
