package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goslub/slub/bench"
	"github.com/goslub/slub/cpuid"
)

// testdata/synthetic.txt is a result file made up by writeSynthetic, written
// by bench.ResultWriter as a run writes one, on a machine other than the
// one of small.txt. It has every cell the targets and the kernel's table
// read, on every design, with known medians: the golden tests of targets,
// kernel and summary read it, and so do the report tests. A few cells are
// left out on purpose, to show how missing data prints.

const syntheticRuns = 10

// syntheticKernel gives, for each cell of the kernel's table, the time per
// object of cpuslab and the "better by" of hybrid@32, sheaves@32 and
// sheaves@auto against it (a fraction), and of sheaves@32 against
// cpuslab-locked. Some agree with the kernel and some do not.
var syntheticKernel = []struct {
	n                               int
	order                           string
	cpuslab                         float64 // ns/obj
	hybrid32, sheaves32, sheavesAut float64 // better by, against cpuslab
	locked                          float64 // better by of sheaves@32 against cpuslab-locked
}{
	{1, "inorder", 20, 0.17, 0.30, 0.28, 0.55},
	{10, "inorder", 12, 0.15, 0.35, 0.33, 0.60},
	{100, "inorder", 10, 0.31, 0.62, 0.60, 0.72},
	{1000, "inorder", 11, 0.10, 0.55, 0.52, 0.70},
	{10, "shuffled", 14, 0.13, 0.30, 0.29, 0.55},
	{100, "shuffled", 13, 0.29, 0.60, 0.58, 0.70},
	{1000, "shuffled", 16, 0.06, 0.45, 0.40, 0.62},
}

func writeSynthetic(w *bytes.Buffer) error {
	run := bench.RunConfig{
		Machine: cpuid.Machine{GOOS: "linux", GOARCH: "amd64", Brand: "AMD Ryzen 7 5700 8-Core Processor",
			Vendor: "AuthenticAMD", CPUs: 16, DCAS: "cmpxchg16b"},
		Go:       "go1.26.8",
		Commit:   "5700aaaabbbb",
		Runstamp: time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC),
	}
	rw := bench.NewResultWriter(w, run)
	rng := rand.New(rand.NewPCG(5700, 32))
	type res struct {
		name  string
		procs int
		ns    float64 // ns/op
		extra map[string]float64
		perOp float64 // objects per op: ns/obj = ns/op / perOp
	}
	var all []res
	add := func(name string, procs int, ns float64, extra map[string]float64, perOp float64) {
		all = append(all, res{name, procs, ns, extra, perOp})
	}
	for _, des := range []struct {
		name string
		ns   float64
	}{{"sheaves", 10}, {"cpuslab", 24}, {"cpuslab-locked", 30}, {"hybrid", 13}, {"goheap", 60}, {"syncpool", 12.5}, {"modernc", 8}, {"floor", 9.5}} {
		add("Pair/size=64/design="+des.name, 2, des.ns, map[string]float64{"peak-mapped-B": 4096, "shrunk-mapped-B": 0, "mapped-B/live-B": 64}, 0)
	}
	add("KmallocPair/size=64/design=sheaves", 2, 11.2, nil, 0)
	for _, procs := range []int{1, 2} {
		for _, des := range []struct {
			name string
			ns   float64
		}{{"sheaves", 6}, {"cpuslab", 14}, {"syncpool", 7.5}, {"modernc", 45}} {
			add("PairParallel/size=64/design="+des.name, procs, des.ns*float64(3-procs)/2, nil, 0)
		}
	}
	for _, k := range syntheticKernel {
		v := fmt.Sprintf("n=%d/order=%s", k.n, k.order)
		locked := k.cpuslab * (1 - k.sheaves32) / (1 - k.locked)
		for _, c := range []struct {
			design, capacity string
			ns               float64
		}{
			{"cpuslab", "auto", k.cpuslab},
			{"cpuslab-locked", "auto", locked},
			{"hybrid", "auto", k.cpuslab * (1 - k.hybrid32) * 1.02},
			{"hybrid", "32", k.cpuslab * (1 - k.hybrid32)},
			{"sheaves", "auto", k.cpuslab * (1 - k.sheavesAut)},
			{"sheaves", "32", k.cpuslab * (1 - k.sheaves32)},
		} {
			if c.design == "hybrid" && c.capacity == "32" && k.n == 1000 && k.order == "shuffled" {
				continue // a cell the file lacks
			}
			mem := map[string]float64{"peak-mapped-B": 64 * float64(k.n) * 1.25, "shrunk-mapped-B": 0, "mapped-B/live-B": 1.25, "allocs/op": 0}
			add(fmt.Sprintf("Batch/%s/cap=%s/design=%s", v, c.capacity, c.design), 2, c.ns*float64(k.n), mem, float64(k.n))
		}
	}
	for _, des := range []struct {
		name string
		ns   float64
	}{{"sheaves", 3.6}, {"cpuslab", 6.5}, {"cpuslab-locked", 8}, {"hybrid", 4.2}} {
		add("Bulk/n=64/design="+des.name, 2, des.ns*64, nil, 64)
	}
	for _, des := range []struct {
		name string
		ns   float64
	}{{"sheaves", 120}, {"cpuslab", 200}, {"goheap", 150}} {
		add("Xmalloc/design="+des.name, 2, des.ns, map[string]float64{"frees/s": 1e9 / des.ns}, 0)
	}
	for _, des := range []struct {
		name   string
		ns     float64
		shrunk float64
	}{{"sheaves", 30, 0}, {"cpuslab", 45, 4096}, {"modernc", 95, 2 << 20}} {
		add("Larson/design="+des.name, 2, des.ns, map[string]float64{"peak-mapped-B": 12 << 20, "shrunk-mapped-B": des.shrunk, "mapped-B/live-B": 1.4}, 0)
	}

	for range syntheticRuns {
		for _, r := range all {
			// Uniform noise of ±4%: arithmetic only, so that every
			// architecture writes the same file.
			ns := r.ns * (1 + 0.08*(rng.Float64()-0.5))
			n := int(max(1, 2e7/ns))
			br := testing.BenchmarkResult{N: n, T: time.Duration(ns * float64(n)), Extra: map[string]float64{}}
			for k, v := range r.extra {
				br.Extra[k] = v
			}
			if r.perOp > 0 {
				br.Extra["ns/obj"] = ns / r.perOp
			}
			if err := rw.Write(r.name, r.procs, br); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestSyntheticFile keeps testdata/synthetic.txt what writeSynthetic
// writes (go test -update rewrites it).
func TestSyntheticFile(t *testing.T) {
	var buf bytes.Buffer
	if err := writeSynthetic(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "synthetic.txt", buf.String())
}

// syntheticPath is the synthetic file, written afresh by -update before
// the tests that read it.
func syntheticPath(t *testing.T) string {
	t.Helper()
	path := filepath.Join("testdata", "synthetic.txt")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	return path
}
