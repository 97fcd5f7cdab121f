package alloc

import (
	"slices"
	"testing"
	"unsafe"
)

// Tests of the kernel rules each design follows, where an earlier version of
// this allocator did something else (the A/B comparison depends on them).

// The old design's bulk allocation calls ___slab_alloc only to load the
// next cpu freelist, once per slab, and pops the rest with the per-P lock
// held (__kmem_cache_alloc_bulk): not once per object.
func TestCPUSlabBulkAllocOneSlowPathPerSlab(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "bulkslow", 64, cfg)
		n := 5*c.objsPerSlab + 3
		objs := make([]unsafe.Pointer, n)
		if c.AllocBulk(objs) != n {
			t.Fatal("AllocBulk failed")
		}
		st := c.Stats()
		slabs := (n + c.objsPerSlab - 1) / c.objsPerSlab
		if got := st.Counters[AllocSlowpath]; got != uint64(slabs) {
			t.Errorf("ALLOC_SLOWPATH %d for a bulk allocation of %d objects in %d slabs, want %d", got, n, slabs, slabs)
		}
		if got := st.Counters[AllocFastpath]; got != uint64(n-slabs) {
			t.Errorf("ALLOC_FASTPATH %d, want %d", got, n-slabs)
		}
		c.FreeBulk(objs)
		mustFinish(t, c)
	})
}

// A full slab whose every object comes back in one free goes to the cpu
// partial list like any full slab that gets a free (put_cpu_partial), even
// though the free empties it.
func TestCPUSlabFullToEmptyGoesToCPUPartial(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "fulltoempty", 64, cfg)
		objs := allocN(t, c, 3*c.objsPerSlab) // the first slabs are full, off the P
		cc := c.cpus.Load().c[0]
		var whole []unsafe.Pointer
		s := lookupSlab(uintptr(objs[0]))
		if s == cc.slab.Load() {
			t.Fatal("the first slab is still the cpu slab")
		}
		rest := objs[:0:0]
		for _, p := range objs {
			if lookupSlab(uintptr(p)) == s {
				whole = append(whole, p)
			} else {
				rest = append(rest, p)
			}
		}
		if len(whole) != c.objsPerSlab || s.freelist() != 0 {
			t.Fatalf("slab holds %d of our objects, freelist %#x: not full", len(whole), s.freelist())
		}
		before := counter(c, CPUPartialFree)
		c.FreeBulk(whole) // one detached freelist: one __slab_free
		if got := counter(c, CPUPartialFree) - before; got != 1 {
			t.Errorf("CPU_PARTIAL_FREE +%d for a full slab emptied in one free, want 1", got)
		}
		if !s.onCPUPartial || s.counters().inuse() != 0 {
			t.Errorf("slab on cpu partial %v, inuse %d; want an empty slab on the cpu partial list", s.onCPUPartial, s.counters().inuse())
		}
		freeAll(c, rest)
		mustFinish(t, c)
	})
}

// Shrink moves the partial slabs with fewer than SHRINK_PROMOTE_MAX free
// objects to the head of the partial list, fewest free first, so that
// allocations fill them before the emptier ones.
func TestShrinkPromotesFullestSlabs(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "promote", 64, cfg)
		objs := allocN(t, c, 8*c.objsPerSlab)
		bySlab := map[*slab][]unsafe.Pointer{}
		var order []*slab
		for _, p := range objs {
			s := lookupSlab(uintptr(p))
			if bySlab[s] == nil {
				order = append(order, s)
			}
			bySlab[s] = append(bySlab[s], p)
		}
		// Leave slab i with i+1 free objects (the last ones with more
		// than SHRINK_PROMOTE_MAX), in an order the promotion must undo.
		var keep []unsafe.Pointer
		for i, s := range order {
			nfree := []int{3, 1, 40, 7, 2, 50, 5, 4}[i%8]
			os := bySlab[s]
			if len(os) != c.objsPerSlab {
				keep = append(keep, os...) // not a full slab of ours
				continue
			}
			freeAll(c, os[:nfree])
			keep = append(keep, os[nfree:]...)
		}
		c.Shrink()
		var frees []int
		for s := c.node.partialHead; s != nil; s = s.next {
			frees = append(frees, s.counters().free())
		}
		var head []int
		for _, f := range frees {
			if f >= shrinkPromoteMax {
				break
			}
			head = append(head, f)
		}
		if !slices.IsSorted(head) || len(head) < 4 {
			t.Errorf("free counts from the head of the partial list %v: want the slabs with fewer than %d free first, fewest first", frees, shrinkPromoteMax)
		}
		for _, f := range frees[len(head):] {
			if f < shrinkPromoteMax {
				t.Errorf("free counts %v: a slab with %d free after the promoted ones", frees, f)
				break
			}
		}
		freeAll(c, keep)
		mustFinish(t, c)
	})
}

// Hybrid counts sheaf hits as ALLOC_PCS and FREE_PCS, and what its sheaves
// take from and give back to the cpu slabs in the cpu slab layer's own
// counters (the 6.18 kernel's double counting): a sheaf refill is a bulk
// allocation from the cpu slabs, a flush a bulk free to them.
func TestHybridCounters(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, []Design{Hybrid}, func(t *testing.T, cfg Config) {
		c := mustCache(t, "hybridcounters", 64, cfg)
		capacity := c.sheafCapacity
		objs := allocN(t, c, capacity)
		st := c.Stats()
		if got := st.Counters[AllocPCS]; got != uint64(capacity-1) {
			t.Errorf("ALLOC_PCS %d after %d allocations, want %d (the first refilled the sheaf)", got, capacity, capacity-1)
		}
		if got := st.Counters[SheafRefill]; got != uint64(capacity) {
			t.Errorf("SHEAF_REFILL %d, want %d", got, capacity)
		}
		// The refill went through the cpu slabs: one slow path per slab
		// loaded, the rest popped from the cpu freelist.
		if fast, slow := st.Counters[AllocFastpath], st.Counters[AllocSlowpath]; fast+slow != uint64(capacity) || slow == 0 {
			t.Errorf("ALLOC_FASTPATH %d + ALLOC_SLOWPATH %d for a refill of %d", fast, slow, capacity)
		}
		freeAll(c, objs)
		if got := counter(c, FreePCS); got != uint64(capacity) {
			t.Errorf("FREE_PCS %d after %d frees into the sheaves, want %d", got, capacity, capacity)
		}
		before := c.Stats()
		c.Shrink() // the flush goes to the cpu slabs
		after := c.Stats()
		flushed := after.Counters[SheafFlush] - before.Counters[SheafFlush]
		moved := after.Counters[FreeFastpath] + after.Counters[FreeSlowpath] - before.Counters[FreeFastpath] - before.Counters[FreeSlowpath]
		if flushed == 0 || moved != flushed {
			t.Errorf("SHEAF_FLUSH +%d, FREE_FASTPATH + FREE_SLOWPATH +%d: the flush did not go through the cpu slabs", flushed, moved)
		}
		mustFinish(t, c)
	})
}

// A prefilled sheaf is filled from below the per-P sheaves (refill_sheaf),
// never from the P's own main sheaf, and the barn's full limit is checked
// before a returned sheaf is topped up.
func TestPrefillFromSlabs(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, sheafDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "prefillslabs", 64, cfg)
		c.Free(c.Alloc()) // main holds a full sheaf
		p := &c.pcs.Load().p[0]
		mainSize := p.main.size
		sh, err := c.PrefillSheaf(c.sheafCapacity / 2)
		if err != nil {
			t.Fatal(err)
		}
		if p.main.size != mainSize {
			t.Errorf("PrefillSheaf took %d objects from the main sheaf", mainSize-p.main.size)
		}
		// Fill the barn to its limit, then return a sheaf while the P has a
		// spare: it must be flushed without a refill.
		var fulls []*Sheaf
		for range maxFullSheaves {
			f := c.newSheaf(c.sheafCapacity)
			if !c.refillSheaf(&f.sheafObjs, false) {
				t.Fatal("refill failed")
			}
			fulls = append(fulls, f)
		}
		for _, f := range fulls {
			c.barn.putFull(f)
		}
		if p.spare == nil {
			p.spare = c.newSheaf(c.sheafCapacity)
		}
		for sh.Len() > 1 {
			c.Free(sh.Alloc())
		}
		refills := counter(c, SheafRefill)
		c.ReturnSheaf(sh)
		if got := counter(c, SheafRefill); got != refills {
			t.Errorf("ReturnSheaf refilled %d objects into a sheaf the full barn cannot take", got-refills)
		}
		if c.barn.fullCount() != maxFullSheaves {
			t.Errorf("barn holds %d full sheaves, want %d", c.barn.fullCount(), maxFullSheaves)
		}
		mustFinish(t, c)
	})
}

// A bulk free that finds main and spare full and the barn unable to trade
// (here: no empty sheaf) counts BARN_PUT_FAIL and frees the rest to the
// backing.
func TestFreeBulkBarnPutFail(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, sheafDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "bulkputfail", 64, cfg)
		c.Free(c.Alloc()) // main full, an empty spare
		capacity := c.sheafCapacity
		objs := make([]unsafe.Pointer, (maxFullSheaves+4)*capacity)
		if c.AllocBulk(objs) != len(objs) {
			t.Fatal("AllocBulk failed")
		}
		c.FreeBulk(objs)
		if got := counter(c, BarnPutFail); got == 0 {
			t.Errorf("BARN_PUT_FAIL %d after a bulk free of %d objects with %d-object sheaves", got, len(objs), capacity)
		}
		mustFinish(t, c)
	})
}

// pcs_flush_all: Shrink flushes every P's spare and drops its sheaf, and
// flushes the main sheaf in batches of PCS_BATCH_MAX.
func TestFlushDropsSpare(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, sheafDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "flushspare", 64, cfg)
		objs := allocN(t, c, 3*c.sheafCapacity)
		freeAll(c, objs) // main and spare hold objects
		p := &c.pcs.Load().p[0]
		if p.spare == nil || p.spare.size == 0 {
			t.Fatal("no spare with objects")
		}
		var flushes []int
		c.hook = func(e Event) {
			if e.Kind == EventSheafFlush {
				flushes = append(flushes, e.Objects)
			}
		}
		c.Shrink()
		c.hook = nil
		if p.spare != nil {
			t.Error("the spare survived the flush")
		}
		for _, n := range flushes {
			if n > pcsBatchMax && n != c.sheafCapacity {
				t.Errorf("a flush of %d objects: main is flushed in batches of at most %d", n, pcsBatchMax)
			}
		}
		mustFinish(t, c)
	})
}

// Config.SheafCapacity is a minimum for Sheaves (Linux 7.0) and the
// capacity itself for Hybrid (6.18's opt-in sheaves), as the kernel
// benchmark's capacity 32 needs.
func TestSheafCapacityRequest(t *testing.T) {
	for _, tc := range []struct {
		d    Design
		want int
	}{{Sheaves, 60}, {Hybrid, 32}} {
		c := mustCache(t, "capreq", 64, Config{Design: tc.d, SheafCapacity: 32})
		if got := c.Stats().SheafCapacity; got != tc.want {
			t.Errorf("%v with SheafCapacity 32: capacity %d, want %d", tc.d, got, tc.want)
		}
		mustDestroy(t, c)
	}
}
