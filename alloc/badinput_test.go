package alloc

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// rejects checks that f panics with a message naming the cache and the
// address, and that the cache is exactly as it was: same stats, still valid.
func rejects(t *testing.T, c *Cache, a unsafe.Pointer, f func(), why ...string) {
	t.Helper()
	before := c.Stats()
	msg := mustPanic(t, f)
	wantContains(t, msg, c.Name(), hexAddr(a))
	wantContains(t, msg, why...)
	if after := c.Stats(); !reflect.DeepEqual(before, after) {
		t.Errorf("a rejected call changed the cache:\nbefore %+v\nafter  %+v", before, after)
	}
	mustValidate(t, c)
}

func TestFreeBadPointers(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "victim", 48, cfg)
		other := mustCache(t, "bystander", 48, cfg)
		h := mustHeap(t, cfg)
		objs := allocN(t, c, 10)
		theirs := other.Alloc()
		large := h.Malloc(3 * pageSize)
		var goMem [64]byte
		cases := []struct {
			name string
			p    unsafe.Pointer
			why  string
		}{
			{"go-heap", unsafe.Pointer(&goMem[8]), "not allocated by this allocator"},
			{"guard", h.Malloc(0), "not allocated by this allocator"},
			{"interior", ptr(uintptr(objs[3]) + 16), "not the start of an object"},
			{"misaligned", ptr(uintptr(objs[4]) + 1), "not the start of an object"},
			{"last-byte", ptr(uintptr(objs[5]) + 47), "not the start of an object"},
			{"other-cache", theirs, "belongs to cache bystander"},
			{"large", large, "large heap allocation"},
		}
		// Past the last object of the slab, in its tail: not an object.
		s := lookupSlab(uintptr(objs[0]))
		if tail := s.start + uintptr(s.npages)*pageSize - 8; tail >= s.end {
			cases = append(cases, struct {
				name string
				p    unsafe.Pointer
				why  string
			}{"slab-tail", ptr(tail), "not the start of an object"})
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				rejects(t, c, tc.p, func() { c.Free(tc.p) }, "Free", tc.why)
				rejects(t, c, tc.p, func() { c.FreeNoLock(tc.p) }, "FreeNoLock", tc.why)
				rejects(t, c, tc.p, func() { c.FreeBulk([]unsafe.Pointer{objs[0], tc.p}) }, "FreeBulk", tc.why)
			})
		}
		if got := activeObjects(c); got != int64(len(objs)) {
			t.Errorf("ActiveObjects %d, want %d", got, len(objs))
		}
		freeAll(c, objs)
		other.Free(theirs)
		h.Free(large)
		mustValidate(t, c)
		mustDestroy(t, c)
		mustDestroy(t, other)
		mustDestroyHeap(t, h)
	})
}

// The cheap double frees: the object is already on top of the P's main
// sheaf, or at the head of the cpu freelist or of its slab's freelist.
func TestDoubleFree(t *testing.T) {
	withProcs(t, 1) // the second free must run on the P of the first
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "twice", 64, cfg)
		keep := allocN(t, c, 5)
		p := c.Alloc()
		c.Free(p)
		rejects(t, c, p, func() { c.Free(p) }, "double free")
		if slices.Contains(cpuSlabDesigns, cfg.Design) {
			// An object of a slab that is no longer the cpu slab goes to its
			// slab's freelist: freeing it again is caught there.
			old := allocN(t, c, c.objsPerSlab) // moves on to a new cpu slab
			cc, _ := c.thisCPU()
			var q unsafe.Pointer
			for _, o := range append(old, keep...) {
				if lookupSlab(uintptr(o)) != cc.slab.Load() {
					q = o
					break
				}
			}
			if q == nil {
				t.Fatal("no object outside the cpu slab")
			}
			c.Free(q)
			if lookupSlab(uintptr(q)).freelist() != uintptr(q) {
				t.Fatal("the freed object is not at the head of its slab's freelist")
			}
			rejects(t, c, q, func() { c.Free(q) }, "double free")
			for _, o := range old {
				if o != q {
					c.Free(o)
				}
			}
			keep = filterOut(keep, q)
		}
		freeAll(c, keep)
		if n := activeObjects(c); n != 0 {
			t.Errorf("ActiveObjects %d", n)
		}
		mustDestroy(t, c)
	})
}

func filterOut(ps []unsafe.Pointer, q unsafe.Pointer) []unsafe.Pointer {
	var out []unsafe.Pointer
	for _, p := range ps {
		if p != q {
			out = append(out, p)
		}
	}
	return out
}

// Destroy with live objects frees nothing, names the cache and the objects'
// addresses, and leaves the cache usable.
func TestDestroyWithLiveObjects(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "leaky", 32, cfg)
		objs := allocN(t, c, 3)
		err := c.Destroy()
		if err == nil {
			t.Fatal("Destroy with live objects succeeded")
		}
		wantContains(t, err.Error(), "leaky", "3 objects still allocated")
		for _, p := range objs {
			wantContains(t, err.Error(), hexAddr(p))
		}
		// Still usable.
		objs = append(objs, allocN(t, c, 40)...)
		mustValidate(t, c)
		err = c.Destroy()
		if err == nil {
			t.Fatal("Destroy with live objects succeeded")
		}
		wantContains(t, err.Error(), fmt.Sprintf("%d objects still allocated", len(objs)), fmt.Sprintf("(and %d more)", len(objs)-16))
		if n := strings.Count(err.Error(), " 0x"); n != 16 {
			t.Errorf("error lists %d addresses, want 16: %v", n, err)
		}
		freeAll(c, objs)
		mustDestroy(t, c)
	})
}

// checkNoDuplicates allocates n objects and fails if one of them is
// already live (in live) or handed out twice; it returns them.
func checkNoDuplicates(t *testing.T, c *Cache, live []unsafe.Pointer, n int) []unsafe.Pointer {
	t.Helper()
	seen := make(map[unsafe.Pointer]bool)
	for _, p := range live {
		seen[p] = true
	}
	var got []unsafe.Pointer
	for i := 0; i < n; i++ {
		p := c.Alloc()
		if p == nil {
			t.Fatalf("Alloc %d: nil", i)
		}
		if seen[p] {
			t.Fatalf("Alloc %d handed out %#x, which is live", i, uintptr(p))
		}
		seen[p] = true
		got = append(got, p)
	}
	return got
}

// FreeNoLock of an object twice while every lock it could take is busy
// (and, in the cpu slab designs, whenever the object is not of the cpu
// slab): both frees go to the deferred list, and the second must be caught
// there (it would link the object to itself) rather than make later
// allocations hand out live objects again.
func TestDoubleFreeNoLockDeferred(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		for _, busy := range []bool{true, false} {
			if !busy && !slices.Contains(cpuSlabDesigns, cfg.Design) {
				continue
			}
			doubleFreeNoLockDeferred(t, cfg, busy)
		}
	})
}

func doubleFreeNoLockDeferred(t *testing.T, cfg Config, busy bool) {
	c := mustCache(t, "deferred-twice", 64, cfg)
	objs := allocN(t, c, 2*c.objsPerSlab) // the first slab is full and no cpu slab
	p := objs[0]
	var msg string
	func() {
		if busy {
			release := c.quiesce(false) // every per-P lock and list_lock busy
			defer release()
		}
		c.FreeNoLock(p)
		if n := c.deferred.n.Load(); n != 1 {
			t.Fatalf("FreeNoLock with every lock busy: %d deferred", n)
		}
		msg = mustPanic(t, func() { c.FreeNoLock(p) })
		if n := c.deferred.n.Load(); n != 1 {
			t.Errorf("the rejected FreeNoLock left %d deferred", n)
		}
	}()
	wantContains(t, msg, "deferred-twice", hexAddr(p), "FreeNoLock", "double free")
	mustValidate(t, c)
	live := objs[1:]
	live = append(live, checkNoDuplicates(t, c, live, 300)...)
	freeAll(c, live)
	mustFinish(t, c)
}

// Free of an object twice while its P's lock is held by a remote locker
// (Shrink, Validate): both go past the per-P layer to the object's slab,
// and the second must be caught at the head of the slab's freelist.
// (CPUSlabLocked's frees wait for its per-P mutex instead.)
func TestDoubleFreePastBusyP(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		if cfg.Design == CPUSlabLocked {
			t.Skip("frees wait for the per-P mutex")
		}
		c := mustCache(t, "past-the-p", 64, cfg)
		objs := allocN(t, c, 2*c.objsPerSlab)
		var msgs []string
		func() {
			c.flushMu.Lock()
			defer c.flushMu.Unlock()
			unlock := c.pp.lock(c, false) // the P's lock, as a flush holds it
			defer unlock()
			for _, free := range []func(unsafe.Pointer){c.Free, c.FreeNoLock} {
				q := objs[len(msgs)]
				free(q)
				msgs = append(msgs, mustPanic(t, func() { free(q) }))
			}
		}()
		for i, msg := range msgs {
			wantContains(t, msg, "past-the-p", hexAddr(objs[i]), "double free")
		}
		wantContains(t, msgs[0], "Free(")
		wantContains(t, msgs[1], "FreeNoLock(")
		mustValidate(t, c)
		live := objs[2:]
		live = append(live, checkNoDuplicates(t, c, live, 300)...)
		freeAll(c, live)
		mustFinish(t, c)
	})
}

// FreeBulk makes the cheap double-free checks of Free, before anything
// changes: an object twice in a row, or one already on top of the P's
// cache (the main sheaf, the cpu freelist) or of its slab's freelist.
func TestFreeBulkDoubleFree(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "bulk-twice", 64, cfg)
		objs := allocN(t, c, 2*c.objsPerSlab)
		p, q := objs[len(objs)-1], objs[len(objs)-2]
		rejects(t, c, p, func() { c.FreeBulk([]unsafe.Pointer{p, p}) }, "FreeBulk", "double free")
		rejects(t, c, p, func() { c.FreeBulk([]unsafe.Pointer{q, nil, p, p}) }, "FreeBulk", "double free")
		// Freed, then freed again in a bulk: on top of the P's cache.
		c.Free(p)
		rejects(t, c, p, func() { c.FreeBulk([]unsafe.Pointer{q, p}) }, "FreeBulk", "double free")
		// Freed to its slab (the first slab is no cpu slab and holds no
		// sheaf's objects), then freed again in a bulk.
		r := objs[0]
		c.flushMu.Lock()
		unlock := c.pp.lock(c, false)
		if cfg.Design == CPUSlabLocked {
			unlock() // its frees would wait for the per-P mutex
		}
		c.FreeNoLock(r)
		if cfg.Design != CPUSlabLocked {
			unlock()
		}
		c.flushMu.Unlock()
		c.drainDeferred()
		if s := lookupSlab(uintptr(r)); s.freelist() != uintptr(r) {
			t.Fatalf("%#x is not at the head of its slab's freelist", uintptr(r))
		}
		rejects(t, c, r, func() { c.FreeBulk([]unsafe.Pointer{q, r}) }, "FreeBulk", "double free")
		live := objs[1 : len(objs)-1]
		live = append(live, checkNoDuplicates(t, c, live, 3*c.objsPerSlab)...)
		c.FreeBulk(live)
		mustFinish(t, c)
	})
}

// A debug cache reports every double free of a bulk free and ignores it.
func TestFreeBulkDoubleFreeDebug(t *testing.T) {
	var reports []Report
	c := mustCache(t, "bulk-twice-debug", 64, Config{Debug: DebugAll, OnReport: func(r Report) { reports = append(reports, r) }})
	p, q := c.Alloc(), c.Alloc()
	c.FreeBulk([]unsafe.Pointer{p, p, q})
	if len(reports) != 1 || reports[0].Kind != ReportDoubleFree || reports[0].Object != uintptr(p) {
		t.Fatalf("reports %v, want one double free of %#x", reports, uintptr(p))
	}
	mustFinish(t, c)
}

// heapActive is the objects a heap's caches hand out, and its large pages.
func heapActive(h *Heap) (objs int64, large int) {
	for _, c := range h.Caches() {
		objs += c.Stats().ActiveObjects
	}
	h.largeMu.Lock()
	large = len(h.large)
	h.largeMu.Unlock()
	return objs, large
}

// Realloc and UsableSize of freed memory are rejected before anything
// changes: neither a new block that leaks nor the freed one handed back as
// if live. A debug heap reports them and Realloc returns nil.
func TestReallocFreed(t *testing.T) {
	withProcs(t, 1)
	eachVariantAndDebug(t, func(t *testing.T, cfg Config) {
		var reports []Report
		cfg.OnReport = func(r Report) { reports = append(reports, r) }
		h := mustHeap(t, cfg)
		keep := h.Malloc(40)
		p := h.Malloc(40)
		h.Free(p)
		objs, large := heapActive(h)
		for _, size := range []int{41, 48, 2000, 3 * pageSize} {
			if cfg.Debug != 0 {
				if q := h.Realloc(p, size); q != nil {
					t.Errorf("Realloc(freed, %d) = %#x, want nil", size, uintptr(q))
				}
				continue
			}
			msg := mustPanic(t, func() { h.Realloc(p, size) })
			wantContains(t, msg, "kmalloc-64", hexAddr(p), "Realloc", "freed memory")
		}
		if cfg.Debug != 0 {
			if n := h.UsableSize(p); n != 0 {
				t.Errorf("UsableSize(freed) = %d", n)
			}
			if len(reports) != 5 {
				t.Errorf("%d reports, want 5: %v", len(reports), reports)
			}
		} else {
			wantContains(t, mustPanic(t, func() { h.UsableSize(p) }), "kmalloc-64", hexAddr(p), "UsableSize", "freed memory")
		}
		if o, l := heapActive(h); o != objs || l != large {
			t.Errorf("rejected calls changed the heap: %d objects and %d large allocations, were %d and %d", o, l, objs, large)
		}
		// A live object still reallocates.
		q := h.Realloc(keep, 2000)
		if q == nil || h.UsableSize(q) < 2000 {
			t.Fatalf("Realloc of a live object: %#x", uintptr(q))
		}
		h.Free(q)
		mustDestroyHeap(t, h)
	})
}

// PrefillSheaf and RefillSheaf refuse counts no sheaf could be filled
// with (above MaxPrefill, or above what the memory limit holds) before
// allocating anything: PrefillSheaf(1<<30) used to make an 8 GiB Go slice
// first.
func TestPrefillBound(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		cfg.MemoryLimit = 64 * pageSize
		c := mustCache(t, "bounded", 64, cfg)
		sh, err := c.PrefillSheaf(2)
		if err != nil {
			t.Fatal(err)
		}
		beforeStats := c.Stats()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for _, n := range []int{1 << 30, MaxPrefill + 1, 64*pageSize/64 + 1} {
			if _, err := c.PrefillSheaf(n); err == nil {
				t.Errorf("PrefillSheaf(%d) succeeded", n)
			} else {
				wantContains(t, err.Error(), "bounded", "PrefillSheaf")
			}
			if err := c.RefillSheaf(sh, n); err == nil {
				t.Errorf("RefillSheaf(%d) succeeded", n)
			}
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("the refused calls allocated %d bytes of Go memory", d)
		}
		if sh.Len() < 2 {
			t.Errorf("a refused RefillSheaf left the sheaf with %d objects", sh.Len())
		}
		if st := c.Stats(); st.Slabs != beforeStats.Slabs || st.ActiveObjects != beforeStats.ActiveObjects {
			t.Errorf("refused calls changed the cache: %+v, was %+v", st, beforeStats)
		}
		// What the limit does hold can still be had.
		if err := c.RefillSheaf(sh, 40); err != nil {
			t.Fatal(err)
		}
		c.ReturnSheaf(sh)
		mustFinish(t, c)
	})
}

// The messages name what happened: FreeNoLock's double frees say
// FreeNoLock, whichever free came first and wherever the object went; a
// bad pointer into a debug cache gives the object size (and the slot's);
// a large allocation freed twice is a double free, not a stranger.
func TestBadInputMessages(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		for _, first := range []string{"Free", "FreeNoLock"} {
			c := mustCache(t, "msgs", 64, cfg)
			objs := allocN(t, c, 3*c.objsPerSlab)
			// The last object is of the current cpu slab (or in a sheaf
			// once freed), the first of a full slab that is no cpu slab.
			for _, p := range []unsafe.Pointer{objs[len(objs)-1], objs[0]} {
				if first == "Free" {
					c.Free(p)
				} else {
					c.FreeNoLock(p)
				}
				rejects(t, c, p, func() { c.FreeNoLock(p) }, "FreeNoLock(", "double free")
			}
			live := objs[1 : len(objs)-1]
			freeAll(c, live)
			mustFinish(t, c)
		}
	})
	d := mustCache(t, "msgs-debug", 48, Config{Debug: DebugAll})
	p := d.Alloc()
	msg := mustPanic(t, func() { d.Free(ptr(uintptr(p) + 8)) })
	wantContains(t, msg, "msgs-debug", "not the start of an object", "48-byte objects", fmt.Sprintf("%d-byte slots", d.size))
	d.Free(p)
	mustFinish(t, d)

	h := mustHeap(t, Config{})
	large := h.Malloc(5 * pageSize)
	h.Free(large)
	wantContains(t, mustPanic(t, func() { h.Free(large) }), "kmalloc", hexAddr(large), "double free of a large allocation")
	mustDestroyHeap(t, h)
}

// An object that FreeNoLock deferred (the cpu slab designs defer every
// object of no cpu slab) is at the head of the deferred list: Free and
// FreeBulk of it are the cheap double frees and are caught.
func TestFreeAfterDeferredFreeNoLock(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "after-deferred", 64, cfg)
		objs := allocN(t, c, 2*c.objsPerSlab) // the first slab is full and no cpu slab
		p := objs[0]
		c.FreeNoLock(p)
		if c.deferred.head.Load() != uintptr(p) {
			t.Fatal("FreeNoLock did not defer an object of no cpu slab")
		}
		rejects(t, c, p, func() { c.Free(p) }, "Free(", "double free")
		rejects(t, c, p, func() { c.FreeBulk([]unsafe.Pointer{objs[1], p}) }, "FreeBulk(", "double free")
		freeAll(c, objs[1:])
		mustFinish(t, c)
	})
}
