package bench

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// checkAlloc is an Allocator that records every block it hands out, so that
// a test can see that a workload frees exactly what it allocated, once, with
// the size it asked for.
type checkAlloc struct {
	mu     sync.Mutex
	live   map[unsafe.Pointer]int
	allocs int64
	frees  int64
	errs   []string
}

func newCheckAlloc() *checkAlloc { return &checkAlloc{live: map[unsafe.Pointer]int{}} }

func (c *checkAlloc) Alloc(size int) unsafe.Pointer {
	p := unsafe.Pointer(unsafe.SliceData(make([]byte, max(size, 1))))
	c.mu.Lock()
	c.live[p] = size
	c.allocs++
	c.mu.Unlock()
	return p
}

func (c *checkAlloc) Free(p unsafe.Pointer, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	got, ok := c.live[p]
	switch {
	case !ok:
		c.errs = append(c.errs, fmt.Sprintf("free of %p, not live", p))
	case got != size:
		c.errs = append(c.errs, fmt.Sprintf("free of %p with size %d, allocated with %d", p, size, got))
	}
	delete(c.live, p)
	c.frees++
}

// check fails t unless every block was freed once, and allocs blocks were
// allocated (allocs < 0: any number).
func (c *checkAlloc) check(t *testing.T, allocs int64) {
	t.Helper()
	for _, e := range c.errs {
		t.Error(e)
	}
	if len(c.live) != 0 {
		t.Errorf("%d blocks still live", len(c.live))
	}
	if c.allocs != c.frees {
		t.Errorf("%d allocs, %d frees", c.allocs, c.frees)
	}
	if allocs >= 0 && c.allocs != allocs {
		t.Errorf("%d allocs, want %d", c.allocs, allocs)
	}
}

func TestLarsonHandsSlotsToSuccessorsAndFreesEverything(t *testing.T) {
	p := DefaultParams()
	p.LarsonSlots = 100
	p.LarsonHandoff = 50
	const workers, steps = 3, 3000
	c := newCheckAlloc()
	nop := func() {}
	st, err := larson(c, &p, workers, steps, 7, nop, nop, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Warm-up: one alloc per slot plus four replace steps per slot; then
	// one alloc per step.
	slots := int64(workers * p.LarsonSlots)
	c.check(t, slots+4*slots+steps)
	// Each worker makes 1000 steps, 50 per generation: 19 handoffs each.
	if want := int64(workers * (steps/workers/50 - 1)); st.handoffs != want {
		t.Errorf("handoffs = %d, want %d", st.handoffs, want)
	}
	if st.inherited == 0 {
		t.Error("no successor freed a block its predecessor allocated")
	}
	if st.live < slots*int64(p.LarsonMinSize) || st.live > slots*int64(p.LarsonMaxSize) {
		t.Errorf("live bytes %d out of range for %d slots", st.live, slots)
	}
}

func TestLarsonSizesInRange(t *testing.T) {
	p := DefaultParams()
	p.LarsonSlots = 50
	var mu sync.Mutex
	seen := map[int]bool{}
	c := &sizeSpy{checkAlloc: newCheckAlloc(), f: func(size int) {
		mu.Lock()
		seen[size] = true
		mu.Unlock()
	}}
	nop := func() {}
	if _, err := larson(c, &p, 2, 500, 1, nop, nop, nil); err != nil {
		t.Fatal(err)
	}
	c.check(t, -1)
	for s := range seen {
		if s < p.LarsonMinSize || s > p.LarsonMaxSize {
			t.Errorf("size %d outside [%d, %d]", s, p.LarsonMinSize, p.LarsonMaxSize)
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct sizes", len(seen))
	}
}

type sizeSpy struct {
	*checkAlloc
	f func(int)
}

func (s *sizeSpy) Alloc(size int) unsafe.Pointer { s.f(size); return s.checkAlloc.Alloc(size) }

func TestXmallocFreesExactlyWhatWasProduced(t *testing.T) {
	for _, total := range []int64{1, 64, 1001, 10000} {
		t.Run(fmt.Sprint(total), func(t *testing.T) {
			p := DefaultParams()
			p.XmallocBatch = 64
			p.XmallocQueue = 3
			c := newCheckAlloc()
			st, err := xmalloc(c, &p, 2, total, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, total)
			if st.produced != total || st.freed != total {
				t.Errorf("produced %d, freed %d, want %d", st.produced, st.freed, total)
			}
			if want := (total + 63) / 64; st.batches != want {
				t.Errorf("%d batches, want %d", st.batches, want)
			}
		})
	}
}

func TestCacheFalseSharing(t *testing.T) {
	for _, handOver := range []bool{false, true} {
		c := newCheckAlloc()
		const threads, iters = 3, 20
		if err := cacheFalse(c, 8, threads, iters, 300, handOver); err != nil {
			t.Fatal(err)
		}
		want := int64(threads * iters)
		if handOver {
			want += threads
		}
		c.check(t, want)
	}
}

func TestListNamesAndSkips(t *testing.T) {
	p := DefaultParams()
	list := List(&p, Designs())
	nameRE := regexp.MustCompile(`^[A-Z][A-Za-z]+(/[a-z]+=[a-z0-9]+)*/design=[a-z][a-z-]*$`)
	seen := map[string]bool{}
	ran := map[string]map[string]bool{} // workload -> designs that run it
	for _, bm := range list {
		if !nameRE.MatchString(bm.Name) {
			t.Errorf("bad name %q", bm.Name)
		}
		if seen[bm.Name] {
			t.Errorf("duplicate %q", bm.Name)
		}
		seen[bm.Name] = true
		if bm.Skip == "" {
			if ran[bm.Workload.Name] == nil {
				ran[bm.Workload.Name] = map[string]bool{}
			}
			ran[bm.Workload.Name][bm.Design.Name] = true
		}
	}
	for _, w := range Workloads() {
		if len(allocDesigns) == 0 && skipReason(w, variant{}, baselineDesigns[0]) != "" {
			continue // only package alloc runs it, and it is not wired in
		}
		if len(ran[w.Name]) == 0 {
			t.Errorf("no design runs %s", w.Name)
		}
	}
	for _, d := range Designs() {
		if !ran["Pair"][d.Name] {
			t.Errorf("%s does not run Pair", d.Name)
		}
	}
	if ran["Batch"]["floor"] || ran["Bulk"]["syncpool"] || ran["NoLock"]["goheap"] || ran["KmallocPair"]["floor"] {
		t.Errorf("a combination that must be skipped runs: %v", ran)
	}
	skips := map[string]string{}
	for _, bm := range list {
		skips[bm.Name] = bm.Skip
	}
	for name, want := range map[string]string{
		"Bulk/n=64/design=syncpool":                          "no bulk API",
		"Batch/n=100/order=shuffled/cap=auto/design=goheap":  "",
		"Batch/n=100/order=shuffled/cap=auto/design=cpuslab": "",
		"Batch/n=100/order=shuffled/cap=32/design=sheaves":   "",
		"Batch/n=100/order=shuffled/cap=32/design=cpuslab":   "cpuslab has no sheaves",
		"Batch/n=100/order=shuffled/cap=32/design=goheap":    "the Go heap has no sheaves",
		"Batch/n=1/order=inorder/cap=32/design=floor":        "floor is the Pair fast-path bound",
		"KmallocPair/size=64/design=sheaves":                 "",
		"KmallocPair/size=64/design=syncpool":                "",
		"KmallocPair/size=64/design=floor":                   "floor is the Pair fast-path bound",
	} {
		got, ok := skips[name]
		switch {
		case !ok:
			t.Errorf("no %s", name)
		case want == "" && got != "":
			t.Errorf("%s skipped: %s", name, got)
		case !strings.Contains(got, want):
			t.Errorf("%s: skip reason %q, want one with %q", name, got, want)
		}
	}
}

// TestBatchCapacityReachesTheCache checks that Batch's cap=N reaches the
// cache's Config: 4096-byte objects get sheaves of 4 when left alone.
func TestBatchCapacityReachesTheCache(t *testing.T) {
	d := allocDesigns[0]
	if ok, why := d.Can(CapSheaves); !ok {
		t.Fatalf("%s: %s", d.Name, why)
	}
	for _, c := range []struct{ asked, want int }{{0, 4}, {32, 32}} {
		a, err := d.New(Spec{Name: "cap", Size: 4096, SheafCapacity: c.asked})
		if err != nil {
			t.Fatal(err)
		}
		if got := a.(sheafed).SheafCapacity(); got != c.want {
			t.Errorf("SheafCapacity %d: the cache has sheaves of %d, want %d", c.asked, got, c.want)
		}
		if err := closeAllocator(a); err != nil {
			t.Error(err)
		}
	}
}

func TestSelectDesigns(t *testing.T) {
	ds, err := SelectDesigns("mcache,goheap")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Name != "goheap" || ds[1].Name != "mcache" {
		t.Errorf("got %v, want goheap, mcache in that order", ds)
	}
	if _, err := SelectDesigns("goheap,nosuch"); err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("err = %v, want one naming nosuch", err)
	}
	ds, _ = SelectDesigns("baselines")
	for _, d := range ds {
		if !d.Baseline {
			t.Errorf("baselines selected %s", d.Name)
		}
	}
	if len(ds) != 4 {
		t.Errorf("%d baselines, want 4", len(ds))
	}
}

// TestDesignsRoundTrip allocates, writes and frees on every design, from
// several goroutines where the design is used concurrently.
func TestDesignsRoundTrip(t *testing.T) {
	for _, d := range Designs() {
		t.Run(d.Name, func(t *testing.T) {
			for _, spec := range []Spec{
				{Name: "rt", Size: 64},
				{Name: "rt", Size: 24, Concurrent: true},
				{Name: "rt", MaxSize: 999, Concurrent: true},
			} {
				if spec.Size == 0 {
					if ok, _ := d.Can(CapVarSize); !ok {
						continue
					}
				}
				a, err := d.New(spec)
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				for g := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var held []unsafe.Pointer
						var sizes []int
						for i := range 200 {
							size := spec.Size
							if size == 0 {
								size = 1 + (i*37+g)%spec.MaxSize
							}
							p := a.Alloc(size)
							if p == nil {
								t.Error("Alloc returned nil")
								return
							}
							b := unsafe.Slice((*byte)(p), size)
							for j := range b {
								b[j] = byte(g)
							}
							held = append(held, p)
							sizes = append(sizes, size)
						}
						for i, p := range held {
							if b := unsafe.Slice((*byte)(p), sizes[i]); b[0] != byte(g) || b[len(b)-1] != byte(g) {
								t.Errorf("block %d overwritten", i)
							}
							a.Free(p, sizes[i])
						}
					}()
					if !spec.Concurrent {
						wg.Wait()
					}
				}
				wg.Wait()
				if s, ok := a.(Shrinker); ok {
					s.Shrink()
				}
				if err := closeAllocator(a); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestFloorPerPStack(t *testing.T) {
	a, err := newFloor(Spec{Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	f := a.(*floor)
	if len(f.stacks) != runtime.GOMAXPROCS(0) {
		t.Fatalf("%d stacks for %d Ps", len(f.stacks), runtime.GOMAXPROCS(0))
	}
	for i := range f.stacks {
		if a := uintptr(unsafe.Pointer(&f.stacks[i])); a%cacheLine != 0 {
			t.Errorf("stack %d at %#x: not on a cache line", i, a)
		}
	}
	p := f.Alloc(32)
	q := f.Alloc(32)
	if p == q || p == nil {
		t.Fatalf("Alloc gave %p twice", p)
	}
	f.Free(q, 32)
	f.Free(p, 32)
}

func TestPow2(t *testing.T) {
	for _, c := range [][2]int{{0, 1}, {1, 1}, {2, 2}, {3, 4}, {64, 64}, {65, 128}, {999, 1024}} {
		if got := pow2(c[0]); got != c[1] {
			t.Errorf("pow2(%d) = %d, want %d", c[0], got, c[1])
		}
	}
}

// fakeFoot is an Allocator whose footprint a test sets.
type fakeFoot struct {
	checkAlloc
	fp     int64
	shrink int64 // footprint after Shrink
}

func (f *fakeFoot) Footprint() int64 { return f.fp }
func (f *fakeFoot) Shrink()          { f.fp = f.shrink }

func TestMemProbe(t *testing.T) {
	f := &fakeFoot{checkAlloc: *newCheckAlloc(), fp: 1000, shrink: 1100}
	m := newProbe(f)
	f.fp = 5000
	m.sample(2000) // 4000 mapped for 2000 live
	f.fp = 3000
	m.sample(1000) // below the peak: ignored
	f.fp = 2000
	got := map[string]float64{}
	for _, x := range m.finish(f) {
		got[x.unit] = x.value
	}
	want := map[string]float64{
		"peak-mapped-B":   4000,
		"mapped-B/live-B": 2,
		"end-mapped-B":    1000,
		"shrunk-mapped-B": 100,
	}
	for unit, v := range want {
		if got[unit] != v {
			t.Errorf("%s = %v, want %v", unit, got[unit], v)
		}
	}
	if newProbe(&checkAlloc{}) != nil {
		t.Error("probe for an allocator without a footprint")
	}
}
