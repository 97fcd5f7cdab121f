package alloc

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// A P without a spare whose main fills up trades the full main for an empty
// barn sheaf; the full main becomes the spare and must not also be parked in
// the barn (an object would then be cached twice and handed out twice).
func TestSheavesFullMainWithoutSpare(t *testing.T) {
	withProcs(t, 1)
	for _, v := range variants() {
		if !slices.Contains(sheafDesigns, v.cfg.Design) {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			c := mustCache(t, "nospare", 64, v.cfg)
			capacity := c.sheafCapacity
			objs := allocN(t, c, 4*capacity)
			// Refills reuse the P's empty spare (as the kernel's do), so
			// the barn has no empty sheaf yet: give it one.
			c.stashEmpty(c.newSheaf(capacity))
			// A prefill takes the P's spare.
			sh, err := c.PrefillSheaf(1)
			if err != nil {
				t.Fatal(err)
			}
			if p := &c.pcs.Load().p[0]; p.spare != nil {
				t.Fatal("PrefillSheaf did not take the spare")
			}
			freeAll(c, objs)
			mustValidate(t, c)
			seen := make(map[uintptr]bool)
			for i := 0; i < len(objs); i++ {
				p := c.Alloc()
				if seen[uintptr(p)] {
					t.Fatalf("object %#x handed out twice", uintptr(p))
				}
				seen[uintptr(p)] = true
				objs[i] = p
			}
			freeAll(c, objs)
			c.ReturnSheaf(sh)
			mustValidate(t, c)
			mustDestroy(t, c)
		})
	}
}

// On one P the per-P counters are exact: allocations from a main sheaf with
// objects are ALLOC_FASTPATH, frees into a main sheaf with room are
// FREE_FASTPATH, and the first allocation refills one sheaf (SHEAF_REFILL
// counts its objects) after finding the barn empty (BARN_GET_FAIL).
func TestSheavesFastPathCounters(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, sheafDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "fastpath", 64, cfg)
		capacity := c.sheafCapacity
		first := c.Alloc()
		st := c.Stats()
		if got := st.Counters[SheafRefill]; got != uint64(capacity) {
			t.Errorf("SHEAF_REFILL %d after the first Alloc, want %d", got, capacity)
		}
		if got := st.Counters[BarnGetFail]; got != 1 {
			t.Errorf("BARN_GET_FAIL %d, want 1", got)
		}
		if got := st.Counters[AllocSlab]; got != 1 {
			t.Errorf("ALLOC_SLAB %d, want 1", got)
		}
		if want := int64(capacity-1) + cpuCached(c); st.CachedObjects != want || st.ActiveObjects != 1 {
			t.Errorf("cached %d active %d, want %d and 1", st.CachedObjects, st.ActiveObjects, want)
		}
		allocHit, freeHit := sheafHits(cfg.Design)
		a0, f0 := st.Counters[allocHit], st.Counters[freeHit]
		objs := allocN(t, c, capacity-1)
		st = c.Stats()
		if got := st.Counters[allocHit] - a0; got != uint64(capacity-1) {
			t.Errorf("%v +%d for %d allocations from a full main", allocHit, got, capacity-1)
		}
		if st.Counters[SheafRefill] != uint64(capacity) {
			t.Errorf("SHEAF_REFILL %d: allocations from the main sheaf refilled", st.Counters[SheafRefill])
		}
		freeAll(c, objs)
		if got := counter(c, freeHit) - f0; got != uint64(capacity-1) {
			t.Errorf("%v +%d for %d frees into an empty main", freeHit, got, capacity-1)
		}
		if got := counter(c, FreeSlowpath); got != 0 {
			t.Errorf("FREE_SLOWPATH %d, want 0", got)
		}
		c.Free(first)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// Frees that fill main sheaf after main sheaf park full sheaves in the barn
// (BARN_PUT) up to maxFullSheaves; past that the barn refuses
// (BARN_PUT_FAIL) and the sheaf is flushed to slabs (SHEAF_FLUSH).
// Allocation then trades empty mains for the barn's full sheaves (BARN_GET).
func TestSheavesBarn(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, sheafDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "barn", 64, cfg)
		capacity := c.sheafCapacity
		n := (maxFullSheaves + 6) * capacity
		objs := allocN(t, c, n)
		freeAll(c, objs)
		st := c.Stats()
		if c.barn.nrFull != maxFullSheaves {
			t.Errorf("barn holds %d full sheaves, want %d", c.barn.nrFull, maxFullSheaves)
		}
		if st.Counters[BarnPut] < maxFullSheaves {
			t.Errorf("BARN_PUT %d, want >= %d", st.Counters[BarnPut], maxFullSheaves)
		}
		if st.Counters[BarnPutFail] == 0 {
			t.Error("BARN_PUT_FAIL not counted with more than 10 full sheaves")
		}
		if st.Counters[SheafFlush] < uint64(capacity) {
			t.Errorf("SHEAF_FLUSH %d, want at least one sheaf (%d)", st.Counters[SheafFlush], capacity)
		}
		if st.Counters[SheafFlush]%uint64(capacity) != 0 {
			t.Errorf("SHEAF_FLUSH %d is not a number of full sheaves of %d", st.Counters[SheafFlush], capacity)
		}
		// main + spare + barn hold the rest; the flushed objects are back
		// in slabs (or, in Hybrid, partly on the cpu freelist).
		if want := int64(n) - int64(st.Counters[SheafFlush]) + cpuCached(c); st.CachedObjects != want {
			t.Errorf("cached %d, want %d", st.CachedObjects, want)
		}
		if st.ActiveObjects != 0 {
			t.Errorf("ActiveObjects %d after freeing everything", st.ActiveObjects)
		}
		mustValidate(t, c)
		// Main and spare are full; then the barn's sheaves follow.
		getBefore := counter(c, BarnGet)
		objs = allocN(t, c, (maxFullSheaves+2)*capacity)
		if got := counter(c, BarnGet) - getBefore; got != maxFullSheaves {
			t.Errorf("BARN_GET +%d while allocating %d sheaves' worth, want %d", got, maxFullSheaves+2, maxFullSheaves)
		}
		if c.barn.nrFull != 0 {
			t.Errorf("barn still holds %d full sheaves", c.barn.nrFull)
		}
		freeAll(c, objs)
		mustValidate(t, c)
		c.Shrink()
		st = c.Stats()
		if st.Slabs != 0 || st.CachedObjects != 0 || c.barn.nrFull+c.barn.nrEmpty != 0 {
			t.Errorf("after Shrink: %d slabs, %d cached, barn %d+%d", st.Slabs, st.CachedObjects, c.barn.nrFull, c.barn.nrEmpty)
		}
		mustDestroy(t, c)
	})
}

// GOMAXPROCS may grow while a cache is in use (new Ps get sheaves or cpu
// slabs) and shrink again (idle Ps keep what they cached until a flush).
func TestGOMAXPROCSChange(t *testing.T) {
	withProcs(t, 2)
	eachVariant(t, func(t *testing.T, cfg Config) {
		runtime.GOMAXPROCS(2)
		c := mustCache(t, "procs", 96, cfg)
		work := func(g int) {
			var wg sync.WaitGroup
			for i := 0; i < g; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					objs := make([]unsafe.Pointer, 0, 300)
					for r := 0; r < 5; r++ {
						for k := 0; k < 300; k++ {
							p := c.Alloc()
							if p == nil {
								t.Error("Alloc returned nil")
								return
							}
							objs = append(objs, p)
						}
						runtime.Gosched()
						freeAll(c, objs)
						objs = objs[:0]
					}
				}()
			}
			wg.Wait()
		}
		work(4)
		runtime.GOMAXPROCS(8)
		work(16)
		keep := allocN(t, c, 500) // some of it cached on high Ps
		runtime.GOMAXPROCS(2)
		work(4)
		mustValidate(t, c)
		runtime.GOMAXPROCS(6)
		freeAll(c, keep)
		runtime.GOMAXPROCS(2)
		if n := activeObjects(c); n != 0 {
			t.Errorf("ActiveObjects %d after freeing everything", n)
		}
		c.Shrink()
		if st := c.Stats(); st.Slabs != 0 || st.CachedObjects != 0 {
			t.Errorf("after Shrink: %d slabs, %d cached", st.Slabs, st.CachedObjects)
		}
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// Shrink, Validate and Stats flush and inspect the per-P caches of other
// goroutines while they allocate and free.
func TestRemoteFlushWhileAllocating(t *testing.T) {
	withProcs(t, 4)
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "remote-flush", 48, cfg)
		var stop atomic.Bool
		var wg sync.WaitGroup
		var ops atomic.Int64
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(tag byte) {
				defer wg.Done()
				held := make([]unsafe.Pointer, 0, 200)
				for i := 0; !stop.Load(); i++ {
					p := c.Alloc()
					if p == nil {
						t.Error("Alloc returned nil")
						return
					}
					fillPattern(p, 48, tag)
					held = append(held, p)
					if len(held) == cap(held) || i%7 == 0 {
						for _, q := range held {
							if err := checkPattern(q, 48, tag); err != nil {
								t.Error(err)
								stop.Store(true)
							}
						}
						freeAll(c, held)
						held = held[:0]
					}
					ops.Add(1)
				}
				freeAll(c, held)
			}(byte(g))
		}
		deadline := time.Now().Add(5 * time.Second)
		for i := 0; i < 100 || ops.Load() < 20000 && time.Now().Before(deadline); i++ {
			switch i % 3 {
			case 0:
				c.Shrink()
			case 1:
				if err := c.Validate(); err != nil {
					t.Error(err)
				}
			case 2:
				if st := c.Stats(); st.ActiveObjects < 0 || st.ActiveObjects > st.Objects {
					t.Errorf("Stats: %d active of %d", st.ActiveObjects, st.Objects)
				}
			}
		}
		stop.Store(true)
		wg.Wait()
		if ops.Load() == 0 {
			t.Error("the allocating goroutines did not run")
		}
		mustFinish(t, c)
	})
}

// A refill takes partial slabs by the kernel's rule (get_partial_node_bulk:
// stop only once min objects are had and the next slab would pass max, or
// at max) and gives back what a slab holds beyond max. Under a churn that
// frees random batches and allocates them again, the objects then stay
// packed into about as few slabs as they need; the rule that stopped short
// of min and cut a new slab instead grew the cache to three times that.
func TestRefillKeepsSlabsPacked(t *testing.T) {
	withProcs(t, 1)
	const live, rounds, batch = 20000, 200, 1000
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "packed", 64, cfg)
		objs := allocN(t, c, live)
		rng := rand.New(rand.NewPCG(1, 2))
		for range rounds {
			idx := rng.Perm(live)[:batch]
			for _, i := range idx {
				c.Free(objs[i])
			}
			for _, i := range idx {
				if objs[i] = c.Alloc(); objs[i] == nil {
					t.Fatal("Alloc returned nil")
				}
			}
		}
		st := c.Stats()
		need := (live + c.objsPerSlab - 1) / c.objsPerSlab
		// What the per-P layer and the barn cache can pin, at most one
		// slab per cached object, and a few partial slabs.
		slack := int(st.CachedObjects)/c.objsPerSlab + 8
		if int(st.Slabs) > need+slack {
			t.Errorf("%d slabs for %d live objects (%d cached), want at most %d + %d", st.Slabs, live, st.CachedObjects, need, slack)
		}
		t.Logf("%d slabs for %d live objects, %d cached; %d needed", st.Slabs, live, st.CachedObjects, need)
		freeAll(c, objs)
		mustFinish(t, c)
	})
}

// The per-P structures are indexed by P id with a shift: their size is a
// power of two, with a cache line between one P's lock word and the next
// P's counters.
func TestPerPSizes(t *testing.T) {
	if n := unsafe.Sizeof(pcpuSheaves{}); n&(n-1) != 0 || n != pcpuSheavesSize || n-pcpuSheavesUsed < 64 {
		t.Errorf("pcpuSheaves is %d bytes (%d used): want a power of two with 64 to spare", n, pcpuSheavesUsed)
	}
	// What a fast path touches lies in the first cache line (the arrays
	// are allocated at multiples of their power-of-two size).
	if unsafe.Sizeof(uintptr(0)) == 8 {
		var p pcpuSheaves
		var cc kmemCacheCPU
		if end := unsafe.Offsetof(p.stat) + 8*uintptr(FreeFastpath+1); end > 64 {
			t.Errorf("pcpuSheaves: FREE_FASTPATH ends at byte %d, past the first cache line", end)
		}
		if end := unsafe.Offsetof(cc.stat) + 8*uintptr(FreeFastpath+1); end > 64 || unsafe.Offsetof(cc.slab) > unsafe.Offsetof(cc.stat) {
			t.Errorf("kmemCacheCPU: FREE_FASTPATH ends at byte %d, past the first 64 bytes", end)
		}
	}
}
