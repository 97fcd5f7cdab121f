package alloc

import (
	"slices"
	"testing"
	"time"
	"unsafe"
)

// holdPerP takes every per-P lock of c from the test, as a trace hook that
// runs inside the allocator would find it: the remote side of the
// localLocks (Sheaves, CPUSlab, Hybrid), or CPUSlabLocked's kmemCacheCPU.mu.
// It returns the release.
func holdPerP(c *Cache) (release func()) {
	c.flushMu.Lock()
	unlock := c.pp.lock(c, false)
	return func() {
		unlock()
		c.flushMu.Unlock()
	}
}

// slabCounter reads a counter kept outside the per-P structures without
// taking any lock (Stats waits for the per-P locks a test may hold).
func slabCounter(c *Cache, i StatItem) uint64 { return c.stats[i].Load() }

// AllocNoLock on an idle cache that has free objects returns one, and
// FreeNoLock frees at once when nothing is busy.
func TestNoLockIdle(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "idle", 64, cfg)
		c.Free(c.Alloc()) // free objects now exist
		st0 := c.Stats()
		var objs []unsafe.Pointer
		for i := 0; i < 3*c.objsPerSlab; i++ {
			p := c.AllocNoLock()
			if p == nil {
				if i == 0 {
					t.Fatal("AllocNoLock on an idle cache with free objects returned nil")
				}
				break
			}
			objs = append(objs, p)
		}
		if len(objs) < c.objsPerSlab/2 {
			t.Errorf("only %d no-lock allocations on an idle cache", len(objs))
		}
		for _, p := range objs {
			c.FreeNoLock(p)
		}
		st := c.Stats()
		if got := st.Counters[NoLockAlloc] - st0.Counters[NoLockAlloc]; got != uint64(len(objs)) {
			t.Errorf("NOLOCK_ALLOC +%d for %d objects", got, len(objs))
		}
		freed := st.Counters[NoLockFree] + st.Counters[NoLockFreeDeferred] - st0.Counters[NoLockFree] - st0.Counters[NoLockFreeDeferred]
		if freed != uint64(len(objs)) {
			t.Errorf("NOLOCK_FREE + NOLOCK_FREE_DEFERRED +%d for %d objects", freed, len(objs))
		}
		// 7.0's kfree_nolock defers nothing on an idle cache; 6.18's (the
		// cpu slab designs and Hybrid below its sheaves) defers every
		// object not of the cpu slab.
		if cfg.Design == Sheaves && st.Counters[NoLockFreeDeferred] != 0 {
			t.Errorf("NOLOCK_FREE_DEFERRED %d on an idle Sheaves cache", st.Counters[NoLockFreeDeferred])
		}
		mustFinish(t, c)
	})
}

// With the locks a no-lock call would need held by someone else, AllocNoLock
// returns nil at once and FreeNoLock defers; the deferred objects are freed
// later.
func TestNoLockBusy(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		defer watchdog(t, 20*time.Second)()
		c := mustCache(t, "busy", 64, cfg)
		// A fresh cache: no per-P objects, no partial slab.
		release := holdPerP(c)
		c.node.listLock.Lock()
		if p := c.AllocNoLock(); p != nil {
			t.Error("AllocNoLock returned an object with the per-P and list locks held")
		}
		c.node.listLock.Unlock()
		release()
		if counter(c, NoLockAllocFail) != 1 {
			t.Errorf("NOLOCK_ALLOC_FAIL %d, want 1", counter(c, NoLockAllocFail))
		}
		if slices.Contains(cpuSlabDesigns, cfg.Design) && counter(c, NoLockBusy) == 0 {
			t.Error("NOLOCK_BUSY not counted with the per-P lock held")
		}

		// The page heap's lock held: no new slab, no waiting.
		pages.mu.Lock()
		p := c.AllocNoLock()
		pages.mu.Unlock()
		if p != nil {
			t.Error("AllocNoLock made a new slab while the page heap lock was held")
			c.Free(p)
		}

		objs := allocN(t, c, 3*c.objsPerSlab)
		// An object of a slab with no free object: freeing it makes the
		// slab partial, which needs list_lock.
		var victim unsafe.Pointer
		for _, o := range objs {
			if s := lookupSlab(uintptr(o)); s.freelist() == 0 && !s.counters().frozen() {
				victim = o
				break
			}
		}
		if victim == nil {
			t.Fatal("no object of a full slab")
		}
		release = holdPerP(c)
		c.node.listLock.Lock()
		c.FreeNoLock(victim)
		if slices.Contains(sheafDesigns, cfg.Design) {
			// The per-P sheaves are busy but partial slabs exist: the slab
			// path needs list_lock, which is held.
			if p := c.AllocNoLock(); p != nil {
				t.Error("AllocNoLock returned an object with the per-P and list locks held")
			}
		}
		c.node.listLock.Unlock()
		release()
		st := c.Stats()
		if st.Counters[NoLockFreeDeferred] != 1 || st.DeferredFrees != 1 {
			t.Fatalf("NOLOCK_FREE_DEFERRED %d, DeferredFrees %d; want 1 and 1", st.Counters[NoLockFreeDeferred], st.DeferredFrees)
		}
		if st.ActiveObjects != int64(len(objs)-1) {
			t.Errorf("ActiveObjects %d with one deferred free, want %d", st.ActiveObjects, len(objs)-1)
		}
		// Validate drains the deferred list first.
		mustValidate(t, c)
		st = c.Stats()
		if st.DeferredFrees != 0 || st.Counters[DeferredDrain] != 1 {
			t.Errorf("after Validate: DeferredFrees %d, DEFERRED_DRAIN %d", st.DeferredFrees, st.Counters[DeferredDrain])
		}
		if lookupSlab(uintptr(victim)).freelist() != uintptr(victim) {
			t.Error("the drained object is not back on its slab")
		}
		// Again, drained by Shrink this time.
		objs = filterOut(objs, victim)
		for _, o := range objs {
			if s := lookupSlab(uintptr(o)); s.freelist() == 0 && !s.counters().frozen() {
				victim = o
				break
			}
		}
		release = holdPerP(c)
		c.node.listLock.Lock()
		c.FreeNoLock(victim)
		c.node.listLock.Unlock()
		release()
		if c.Stats().DeferredFrees != 1 {
			t.Fatal("the second FreeNoLock was not deferred")
		}
		c.Shrink()
		if st := c.Stats(); st.DeferredFrees != 0 || st.Counters[DeferredDrain] != 2 {
			t.Errorf("after Shrink: DeferredFrees %d, DEFERRED_DRAIN %d", st.DeferredFrees, st.Counters[DeferredDrain])
		}
		objs = filterOut(objs, victim)
		freeAll(c, objs)
		mustFinish(t, c)
	})
}

// Sheaves: with only the per-P lock busy, AllocNoLock takes an object from a
// partial slab (try-locking list_lock); with only list_lock busy it uses the
// per-P sheaf. FreeNoLock of an object whose slab stays partial needs no
// lock on a lockless cache. (Hybrid's no-lock calls go to its cpu slabs
// instead, as the cpu slab designs' do.)
func TestNoLockSheavesPaths(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, []Design{Sheaves}, func(t *testing.T, cfg Config) {
		defer watchdog(t, 20*time.Second)()
		c := mustCache(t, "paths", 64, cfg)
		keep := c.Alloc() // the sheaf holds 59; the slab has 4 free
		release := holdPerP(c)
		slow := slabCounter(c, AllocSlowpath)
		p := c.AllocNoLock()
		if p == nil {
			t.Fatal("AllocNoLock with the per-P lock busy did not use the partial slab")
		}
		if slabCounter(c, AllocSlowpath) != slow+1 {
			t.Error("the object did not come from a slab")
		}
		c.FreeNoLock(p)
		release()
		if c.lockless && c.Stats().DeferredFrees != 0 {
			t.Error("FreeNoLock into a partial slab was deferred on a lockless cache")
		}
		c.node.listLock.Lock()
		q := c.AllocNoLock()
		if q == nil {
			c.node.listLock.Unlock()
			t.Fatal("AllocNoLock with list_lock busy did not use the per-P sheaf")
		}
		c.FreeNoLock(q)
		c.node.listLock.Unlock()
		c.Free(keep)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// Sheaves: the barn's lock busy too: an empty main and spare cannot be
// traded for a barn sheaf, so AllocNoLock returns nil; once the lock is free
// it takes the barn's full sheaf. (Hybrid goes on to its cpu freelist.)
func TestNoLockBarnBusy(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, []Design{Sheaves}, func(t *testing.T, cfg Config) {
		defer watchdog(t, 20*time.Second)()
		c := mustCache(t, "barnbusy", 64, cfg)
		objs := allocN(t, c, 4*c.sheafCapacity)
		freeAll(c, objs)
		p := &c.pcs.Load().p[0]
		objs = allocN(t, c, p.main.size+p.spare.size) // main and spare now empty
		if p.main.size != 0 || (p.spare != nil && p.spare.size != 0) || c.barn.nrFull == 0 {
			t.Fatalf("main %d, spare %v, barn %d full", p.main.size, p.spare, c.barn.nrFull)
		}
		c.barn.mu.Lock()
		c.node.listLock.Lock()
		q := c.AllocNoLock()
		c.node.listLock.Unlock()
		c.barn.mu.Unlock()
		if q != nil {
			t.Fatal("AllocNoLock returned an object with the barn and list locks held")
		}
		get := counter(c, BarnGet)
		q = c.AllocNoLock()
		if q == nil || counter(c, BarnGet) != get+1 {
			t.Fatal("AllocNoLock did not take the barn's full sheaf")
		}
		c.FreeNoLock(q)
		freeAll(c, objs)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// CPUSlabLocked: the lockless fast path needs no lock, so a cpu freelist
// with objects serves AllocNoLock even with the per-P lock held; FreeNoLock
// of an object of another slab is deferred (kfree_nolock of 6.18).
// (CPUSlab's per-P lock is held only inside pinned sections, where no hook
// runs; TestNoLockCPUSlabRemoteLocked covers what a remote locker does.)
func TestNoLockCPUSlabPaths(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, []Design{CPUSlabLocked}, func(t *testing.T, cfg Config) {
		defer watchdog(t, 20*time.Second)()
		c := mustCache(t, "cpupaths", 64, cfg)
		first := c.Alloc() // P 0 has a cpu slab with free objects
		release := holdPerP(c)
		p := c.AllocNoLock()
		release()
		switch {
		case c.lockless && p == nil:
			t.Fatal("AllocNoLock did not use the lockless cpu freelist")
		case !c.lockless && p != nil:
			t.Fatal("AllocNoLock without the double-word CAS took an object with the per-P lock held")
		}
		if p != nil {
			c.FreeNoLock(p) // the cpu slab's object: pushed at once
			if c.Stats().DeferredFrees != 0 {
				t.Error("FreeNoLock of a cpu-slab object was deferred")
			}
		}
		others := allocN(t, c, c.objsPerSlab) // moves to a new cpu slab
		deferred := 0
		cc, _ := c.thisCPU()
		for _, o := range append(others, first) {
			if lookupSlab(uintptr(o)) != cc.slab.Load() {
				c.FreeNoLock(o)
				deferred++
			} else {
				c.Free(o)
			}
		}
		if st := c.Stats(); st.DeferredFrees != int64(deferred) || st.Counters[NoLockFreeDeferred] != uint64(deferred) {
			t.Errorf("DeferredFrees %d, NOLOCK_FREE_DEFERRED %d; want %d", st.DeferredFrees, st.Counters[NoLockFreeDeferred], deferred)
		}
		c.Free(c.Alloc()) // a slow-path operation drains them... or Validate does
		mustValidate(t, c)
		if st := c.Stats(); st.DeferredFrees != 0 || st.ActiveObjects != 0 {
			t.Errorf("DeferredFrees %d, ActiveObjects %d", st.DeferredFrees, st.ActiveObjects)
		}
		mustDestroy(t, c)
	})
}

// Heap.MallocNoLock: when its class is busy it retries once with the next
// larger class (NOLOCK_RETRY), then gives up.
func TestMallocNoLockRetry(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		defer watchdog(t, 20*time.Second)()
		h := mustHeap(t, cfg)
		c64, c96 := h.caches[kmallocIndex(64)], h.caches[kmallocIndex(96)]
		hold := func(c *Cache) func() {
			release := holdPerP(c)
			c.node.listLock.Lock()
			return func() {
				c.node.listLock.Unlock()
				release()
			}
		}
		r64 := hold(c64)
		p := h.MallocNoLock(50)
		if p == nil {
			t.Fatal("MallocNoLock(50) with kmalloc-64 busy returned nil")
		}
		if h.UsableSize(p) != 96 {
			t.Errorf("MallocNoLock(50) with kmalloc-64 busy: usable size %d, want 96", h.UsableSize(p))
		}
		if n := slabCounter(c64, NoLockRetry); n != 1 {
			t.Errorf("NOLOCK_RETRY %d, want 1", n)
		}
		// Both classes busy: nil, except that CPUSlabLocked's lockless
		// fast path still pops the cpu freelist kmalloc-96 now has.
		r96 := hold(c96)
		q := h.MallocNoLock(50)
		r96()
		r64()
		switch {
		case q != nil && !(cfg.Design == CPUSlabLocked && c96.lockless):
			t.Error("MallocNoLock(50) with kmalloc-64 and kmalloc-96 busy returned an object")
		case q == nil && cfg.Design == CPUSlabLocked && c96.lockless:
			t.Error("MallocNoLock(50) did not use kmalloc-96's lockless cpu freelist")
		}
		h.FreeNoLock(q)
		h.FreeNoLock(p)
		// The largest class has nothing to retry with.
		c8k := h.caches[len(h.caches)-1]
		r := hold(c8k)
		if q := h.MallocNoLock(KmallocMaxCacheSize); q != nil {
			t.Error("MallocNoLock(8192) with kmalloc-8k busy returned an object")
		}
		r()
		mustDestroyHeap(t, h)
	})
}

// CPUSlab: while a remote locker (a flush) holds the P, its cpu slab is out
// of reach: AllocNoLock takes an object from the slabs and gives back the
// slab it would have installed, FreeNoLock defers, and the cpu slab and its
// freelist are as they were when the locker lets go.
func TestNoLockCPUSlabRemoteLocked(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, []Design{CPUSlab}, func(t *testing.T, cfg Config) {
		defer watchdog(t, 20*time.Second)()
		c := mustCache(t, "remote", 64, cfg)
		first := c.Alloc() // P 0 has a cpu slab with free objects
		cc := c.cpus.Load().c[0]
		s, fl, tid := cc.slab.Load(), loadCPUFreelist(cc), loadTid(cc)
		if s == nil || fl == 0 {
			t.Fatal("no cpu slab with free objects after Alloc")
		}
		release := holdPerP(c)
		p := c.AllocNoLock()
		if p == nil {
			release()
			t.Fatal("AllocNoLock with the P remote-locked returned nil")
		}
		if lookupSlab(uintptr(p)) == s {
			release()
			t.Fatalf("AllocNoLock took %p from the remote-locked cpu slab", p)
		}
		c.FreeNoLock(p)
		if got := slabCounter(c, NoLockFreeDeferred); got != 1 {
			t.Errorf("NOLOCK_FREE_DEFERRED %d with the P remote-locked, want 1", got)
		}
		if cc.slab.Load() != s || loadCPUFreelist(cc) != fl || loadTid(cc) != tid {
			t.Error("the cpu slab changed while the P was remote-locked")
		}
		release()
		c.Free(first)
		mustFinish(t, c)
	})
}
