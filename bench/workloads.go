package bench

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Params scale the workloads. The defaults keep the default slabbench run to
// a few minutes on 2 cores; where they differ from the published parameters
// the comment gives those.
type Params struct {
	PairSizes    []int // object sizes of Pair and PairParallel
	KmallocSizes []int // object sizes of KmallocPair

	BatchSize int   // object size of Batch
	BatchNs   []int // objects per batch
	BatchCap  int   // sheaf capacity of Batch's cap=N variants, beside cap=auto (PS-v5: 32)

	BulkSize int   // object size of Bulk
	BulkNs   []int // objects per AllocBulk / FreeBulk

	NoLockSize int // object size of NoLock and NoLockHook
	HookBatch  int // objects allocated then freed per NoLockHook op, to reach the slow paths

	LarsonSlots   int // slots per worker (published: 5000)
	LarsonMinSize int // block sizes are uniform in [LarsonMinSize, LarsonMaxSize]
	LarsonMaxSize int
	LarsonHandoff int // steps a worker makes before it hands its slots to a successor

	XmallocSize  int // object size
	XmallocBatch int // objects per batch (published: 4096)
	XmallocQueue int // batches queued before producers block (published: 100)

	ScratchSize  int // object size of CacheScratch and CacheThrash (the smallest class)
	ScratchIters int // allocations per worker (published: 1000)
	ScratchReps  int // writes and reads of each object, divided among the workers (published: 2000000)

	// MaxCachedObjects caps what the alloc designs' caches of Batch and
	// Larson may park per P and in the barn (alloc.Config.MaxCachedObjects);
	// 0 leaves each cache its default bound. Their memory units show what
	// stays mapped under each cap.
	MaxCachedObjects int
}

// DefaultParams returns the parameters the suite runs with unless told
// otherwise.
func DefaultParams() Params {
	return Params{
		PairSizes:     []int{16, 64, 256, 1024},
		KmallocSizes:  []int{64},
		BatchSize:     64,
		BatchNs:       []int{1, 10, 100, 1000},
		BatchCap:      32,
		BulkSize:      64,
		BulkNs:        []int{8, 16, 64, 250},
		NoLockSize:    64,
		HookBatch:     256,
		LarsonSlots:   5000,
		LarsonMinSize: 8,
		LarsonMaxSize: 999,
		LarsonHandoff: 4096,
		XmallocSize:   64,
		XmallocBatch:  4096,
		XmallocQueue:  100,
		ScratchSize:   8,
		ScratchIters:  100,
		ScratchReps:   10000,
	}
}

// Published returns the parameters of the original programs (see
// reference/workloads.md); a run with them takes much longer.
func Published() Params {
	p := DefaultParams()
	p.ScratchIters = 1000
	p.ScratchReps = 2000000
	return p
}

// A Workload is one benchmark program, run in variants (sub-benchmark names
// such as "n=100/order=shuffled") on each design.
type Workload struct {
	Name  string
	Doc   string
	Needs []Capability
	// Threads says that the workload runs on GOMAXPROCS goroutines, so
	// that its throughput depends on GOMAXPROCS (go test -cpu, slabbench -cpu).
	Threads bool
	// variants returns the variants for procs = GOMAXPROCS.
	variants func(p *Params, procs int) []variant
}

type variant struct {
	name  string // "/key=value" parts without the leading slash; "" for none
	needs []Capability
	run   func(b *testing.B, d *Design)
}

// Workloads lists the workloads in the order they run.
func Workloads() []*Workload { return workloads }

// Benchmark is one leaf benchmark: a workload variant on a design.
type Benchmark struct {
	Name     string // "Batch/n=100/order=shuffled/design=sheaves", without "Benchmark" and -procs
	Workload *Workload
	Variant  string // "n=100/order=shuffled"
	Design   *Design
	// Skip, when not empty, says why this design cannot run this workload.
	Skip string
	Run  func(b *testing.B)
}

// List returns the benchmarks of every workload variant on every one of
// designs, for the current GOMAXPROCS, grouped by variant with the designs in
// the given order.
func List(p *Params, designs []*Design) []Benchmark {
	procs := runtime.GOMAXPROCS(0)
	var out []Benchmark
	for _, w := range workloads {
		for _, v := range w.variants(p, procs) {
			for _, d := range designs {
				name := w.Name
				if v.name != "" {
					name += "/" + v.name
				}
				name += "/design=" + d.Name
				out = append(out, Benchmark{
					Name:     name,
					Workload: w,
					Variant:  v.name,
					Design:   d,
					Skip:     skipReason(w, v, d),
					Run:      func(b *testing.B) { v.run(b, d) },
				})
			}
		}
	}
	return out
}

// skipReason says why d cannot run variant v of w, or "" when it can.
func skipReason(w *Workload, v variant, d *Design) string {
	for _, c := range append(w.Needs[:len(w.Needs):len(w.Needs)], v.needs...) {
		if ok, why := d.Can(c); !ok {
			return why
		}
	}
	return ""
}

// RunWorkload runs the workload named name as sub-benchmarks of b, nested by
// their /key=value parts so that `go test -bench` prints the same names as
// slabbench.
func RunWorkload(b *testing.B, name string, p *Params) {
	var w *Workload
	for _, x := range workloads {
		if x.Name == name {
			w = x
		}
	}
	if w == nil {
		b.Fatalf("no workload %q", name)
	}
	// Variants that share leading parts ("n=100/order=inorder" and
	// "n=100/order=shuffled") share the sub-benchmarks of those parts.
	root := &variantNode{}
	for _, v := range w.variants(p, runtime.GOMAXPROCS(0)) {
		root.insert(splitParts(v.name), v)
	}
	root.run(b, w)
}

// variantNode is a tree of variant name parts.
type variantNode struct {
	name     string
	children []*variantNode
	leaf     *variant
}

func (n *variantNode) insert(parts []string, v variant) {
	if len(parts) == 0 {
		n.leaf = &v
		return
	}
	for _, c := range n.children {
		if c.name == parts[0] {
			c.insert(parts[1:], v)
			return
		}
	}
	c := &variantNode{name: parts[0]}
	n.children = append(n.children, c)
	c.insert(parts[1:], v)
}

func (n *variantNode) run(b *testing.B, w *Workload) {
	if n.leaf != nil {
		for _, d := range Designs() {
			b.Run("design="+d.Name, func(b *testing.B) {
				if why := skipReason(w, *n.leaf, d); why != "" {
					b.Skip(why)
				}
				n.leaf.run(b, d)
			})
		}
	}
	for _, c := range n.children {
		b.Run(c.name, func(b *testing.B) { c.run(b, w) })
	}
}

func splitParts(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "/")
}

// newAllocator makes d's instance for spec or fails the benchmark.
func newAllocator(b *testing.B, d *Design, spec Spec) Allocator {
	b.Helper()
	a, err := d.New(spec)
	if err != nil {
		b.Fatalf("%s: %v", d.Name, err)
	}
	return a
}

// closeOrFail tears a down, failing the benchmark on error (for package
// alloc, objects still allocated).
func closeOrFail(b *testing.B, a Allocator) {
	if err := closeAllocator(a); err != nil {
		b.Errorf("close: %v", err)
	}
}

func sizes(key string, vals []int, mk func(v int) func(*testing.B, *Design)) []variant {
	var vs []variant
	for _, v := range vals {
		vs = append(vs, variant{name: key + "=" + strconv.Itoa(v), run: mk(v)})
	}
	return vs
}

// threadCounts returns 1 and procs, without repeating 1.
func threadCounts(procs int) []int {
	if procs <= 1 {
		return []int{1}
	}
	return []int{1, procs}
}

var workloads = []*Workload{
	{
		Name: "Pair",
		Doc:  "allocate one object and free it at once",
		variants: func(p *Params, _ int) []variant {
			return sizes("size", p.PairSizes, func(size int) func(*testing.B, *Design) {
				return func(b *testing.B, d *Design) { runPair(b, d, size) }
			})
		},
	},
	{
		Name:  "KmallocPair",
		Doc:   "Pair through the allocator's interface for any size (alloc.Heap.Malloc and Free)",
		Needs: []Capability{CapVarSize},
		variants: func(p *Params, _ int) []variant {
			return sizes("size", p.KmallocSizes, func(size int) func(*testing.B, *Design) {
				return func(b *testing.B, d *Design) { runKmallocPair(b, d, size) }
			})
		},
	},
	{
		Name:    "PairParallel",
		Threads: true,
		Doc:     "Pair on every P at once",
		variants: func(p *Params, _ int) []variant {
			return sizes("size", p.PairSizes, func(size int) func(*testing.B, *Design) {
				return func(b *testing.B, d *Design) { runPairParallel(b, d, size) }
			})
		},
	},
	{
		Name:  "Batch",
		Doc:   "allocate n objects, then free all n, in order or shuffled; sheaves of the automatic capacity or of BatchCap",
		Needs: []Capability{CapGeneral},
		variants: func(p *Params, _ int) []variant {
			var vs []variant
			for _, n := range p.BatchNs {
				for _, shuffled := range []bool{false, true} {
					order := "inorder"
					if shuffled {
						order = "shuffled"
					}
					for _, capacity := range []int{0, p.BatchCap} {
						v := variant{
							name: fmt.Sprintf("n=%d/order=%s/cap=auto", n, order),
							run: func(b *testing.B, d *Design) {
								runBatch(b, d, p.BatchSize, n, shuffled, capacity, p.MaxCachedObjects)
							},
						}
						if capacity != 0 {
							v.name = fmt.Sprintf("n=%d/order=%s/cap=%d", n, order, capacity)
							v.needs = []Capability{CapSheaves}
						}
						vs = append(vs, v)
					}
				}
			}
			return vs
		},
	},
	{
		Name:  "Bulk",
		Doc:   "AllocBulk then FreeBulk of n objects",
		Needs: []Capability{CapGeneral, CapBulk},
		variants: func(p *Params, _ int) []variant {
			return sizes("n", p.BulkNs, func(n int) func(*testing.B, *Design) {
				return func(b *testing.B, d *Design) { runBulk(b, d, p.BulkSize, n) }
			})
		},
	},
	{
		Name:  "NoLock",
		Doc:   "AllocNoLock + FreeNoLock",
		Needs: []Capability{CapGeneral, CapNoLock},
		variants: func(p *Params, _ int) []variant {
			return sizes("size", []int{p.NoLockSize}, func(size int) func(*testing.B, *Design) {
				return func(b *testing.B, d *Design) { runNoLock(b, d, size) }
			})
		},
	},
	{
		Name:  "NoLockHook",
		Doc:   "AllocNoLock + FreeNoLock from the trace hook, while the allocator may hold its locks",
		Needs: []Capability{CapGeneral, CapNoLock, CapTrace},
		variants: func(p *Params, _ int) []variant {
			return sizes("size", []int{p.NoLockSize}, func(size int) func(*testing.B, *Design) {
				return func(b *testing.B, d *Design) { runNoLockHook(b, d, size, p.HookBatch) }
			})
		},
	},
	{
		Name:    "Larson",
		Threads: true,
		Doc:     "server with bleeding: random sizes, slots handed to successor goroutines",
		Needs:   []Capability{CapGeneral, CapVarSize},
		variants: func(p *Params, _ int) []variant {
			return []variant{{run: func(b *testing.B, d *Design) { runLarson(b, d, p) }}}
		},
	},
	{
		Name:    "Xmalloc",
		Threads: true,
		Doc:     "producers allocate batches, consumers free them: every free is remote",
		Needs:   []Capability{CapGeneral},
		variants: func(p *Params, _ int) []variant {
			return []variant{{run: func(b *testing.B, d *Design) { runXmalloc(b, d, p) }}}
		},
	},
	{
		Name:    "CacheScratch",
		Threads: true,
		Doc:     "passive false sharing: each worker frees an object handed to it, then allocates and writes",
		Needs:   []Capability{CapGeneral},
		variants: func(p *Params, procs int) []variant {
			return sizes("threads", threadCounts(procs), func(t int) func(*testing.B, *Design) {
				return func(b *testing.B, d *Design) { runCacheFalse(b, d, p, t, true) }
			})
		},
	},
	{
		Name:    "CacheThrash",
		Threads: true,
		Doc:     "active false sharing: workers allocate and write at the same time",
		Needs:   []Capability{CapGeneral},
		variants: func(p *Params, procs int) []variant {
			return sizes("threads", threadCounts(procs), func(t int) func(*testing.B, *Design) {
				return func(b *testing.B, d *Design) { runCacheFalse(b, d, p, t, false) }
			})
		},
	},
	{
		Name:    "RCURead",
		Threads: true,
		Doc:     "an empty read-side section: alloc.RCU, or the RWMutex or atomic count a baseline's user would take",
		Needs:   []Capability{CapGeneral, CapRCURead},
		variants: func(_ *Params, procs int) []variant {
			return sizes("threads", threadCounts(procs), func(t int) func(*testing.B, *Design) {
				return func(b *testing.B, d *Design) { runRCURead(b, d, t) }
			})
		},
	},
	{
		Name:    "FreeRCU",
		Threads: true,
		Doc:     "objects in a shared table replaced by every P and freed with FreeRCU, read in RCU sections (kfree_rcu, mmap stress)",
		Needs:   []Capability{CapGeneral, CapFreeRCU},
		variants: func(*Params, int) []variant {
			return sizes("size", []int{freeRCUSize}, func(size int) func(*testing.B, *Design) {
				return func(b *testing.B, d *Design) { runFreeRCU(b, d, size) }
			})
		},
	},
}
