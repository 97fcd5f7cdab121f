package alloc

import (
	"testing"
	"unsafe"
)

// allocUntilNil allocates until the cache says no and returns what it got.
func allocUntilNil(t *testing.T, c *Cache, max int) []unsafe.Pointer {
	t.Helper()
	var objs []unsafe.Pointer
	for len(objs) < max {
		p := c.Alloc()
		if p == nil {
			break
		}
		objs = append(objs, p)
	}
	return objs
}

// Past MemoryLimit every allocation function returns nil and nothing
// breaks; after frees the cache is fully usable again.
func TestMemoryLimit(t *testing.T) {
	withProcs(t, 1) // on one P every cached object is within reach
	eachVariant(t, func(t *testing.T, cfg Config) {
		cfg.MemoryLimit = 3 * 2 * pageSize
		c := mustCache(t, "limited", 500, cfg)
		slabs := int(cfg.MemoryLimit) / (c.slabPages * pageSize)
		capacity := slabs * c.objsPerSlab
		objs := allocUntilNil(t, c, 10*capacity)
		if len(objs) != capacity {
			t.Fatalf("%d objects within a limit of %d slabs of %d", len(objs), slabs, c.objsPerSlab)
		}
		st := c.Stats()
		if st.SlabBytes > cfg.MemoryLimit {
			t.Errorf("%d bytes of slabs past a limit of %d", st.SlabBytes, cfg.MemoryLimit)
		}
		for i := 0; i < 3; i++ {
			if p := c.Alloc(); p != nil {
				t.Fatal("Alloc past the limit")
			}
			if p := c.AllocNoLock(); p != nil {
				t.Fatal("AllocNoLock past the limit")
			}
			if c.AllocBulk(make([]unsafe.Pointer, 3)) != 0 {
				t.Fatal("AllocBulk past the limit")
			}
			if _, err := c.PrefillSheaf(2); err == nil {
				t.Fatal("PrefillSheaf past the limit")
			}
		}
		mustValidate(t, c)
		if n := activeObjects(c); n != int64(capacity) {
			t.Errorf("ActiveObjects %d, want %d", n, capacity)
		}
		// Free some: exactly that many come back.
		freeAll(c, objs[:10])
		again := allocUntilNil(t, c, 100)
		if len(again) != 10 {
			t.Errorf("%d allocations after freeing 10 at the limit", len(again))
		}
		copy(objs, again)
		freeAll(c, objs)
		objs = allocUntilNil(t, c, 10*capacity)
		if len(objs) != capacity {
			t.Errorf("%d objects after freeing everything, want %d", len(objs), capacity)
		}
		freeAll(c, objs)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// A heap's MemoryLimit covers its size-class slabs and its page-backed
// large allocations together.
func TestHeapMemoryLimit(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		cfg.MemoryLimit = 1 << 20
		h := mustHeap(t, cfg)
		big := h.Malloc(600 << 10)
		if big == nil {
			t.Fatal("Malloc(600K) under a 1M limit returned nil")
		}
		if h.Malloc(600<<10) != nil || h.Zalloc(600<<10) != nil {
			t.Fatal("a second 600K allocation fit in a 1M limit")
		}
		if h.Realloc(big, 2<<20) != nil {
			t.Fatal("Realloc past the limit did not return nil")
		}
		// Small objects use the rest, then fail too.
		var small []unsafe.Pointer
		for {
			p := h.Malloc(4000)
			if p == nil {
				break
			}
			small = append(small, p)
			if len(small) > 1000 {
				t.Fatal("the limit does not cover the size-class caches")
			}
		}
		if len(small) == 0 || len(small)*4096 > 1<<20-600<<10 {
			t.Errorf("%d 4K objects next to a 600K run under a 1M limit", len(small))
		}
		if h.MallocNoLock(4000) != nil {
			t.Error("MallocNoLock past the limit")
		}
		h.Free(big)
		big = h.Malloc(300 << 10)
		if big == nil {
			t.Fatal("Malloc(300K) after freeing 600K returned nil")
		}
		h.Free(big)
		for _, p := range small {
			h.Free(p)
		}
		h.Shrink()
		big = h.Malloc(900 << 10)
		if big == nil {
			t.Fatal("Malloc(900K) after freeing everything and Shrink returned nil")
		}
		h.Free(big)
		mustDestroyHeap(t, h)
	})
}

// Shrink gives memory back: after freeing everything and Shrink the page
// heap holds what it held before, the slab pages are released, and the OS
// no longer backs them.
func TestShrinkReturnsMemory(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		ReleaseFree()
		start := ReadPageStats()
		c := mustCache(t, "shrinkme", 1024, cfg)
		const n = 8 << 10 // 8 MiB of objects
		objs := allocN(t, c, n)
		for _, p := range objs {
			fillPattern(p, 1024, 9)
		}
		peak := ReadPageStats()
		if peak.InUse-start.InUse < n*1024 {
			t.Fatalf("InUse grew by %d for %d KiB of objects", peak.InUse-start.InUse, n)
		}
		slabs := map[*slab]bool{}
		for _, p := range objs {
			slabs[lookupSlab(uintptr(p))] = true
		}
		freeAll(c, objs)
		c.Shrink()
		end := ReadPageStats()
		if end.InUse != start.InUse {
			t.Errorf("InUse %d after free-all and Shrink, %d before", end.InUse, start.InUse)
		}
		if end.Resident > start.Resident+2*pageSize {
			t.Errorf("Resident %d after free-all and Shrink, %d before", end.Resident, start.Resident)
		}
		if end.Released-start.Released < n*1024 {
			t.Errorf("released %d bytes, want at least %d", end.Released-start.Released, n*1024)
		}
		if st := c.Stats(); st.Slabs != 0 || st.SlabBytes != 0 {
			t.Errorf("%d slabs left", st.Slabs)
		}
		resident, total := 0, 0
		for s := range slabs {
			if r, ok := residentPages(s.start, s.npages); ok {
				resident += r
				total += s.npages
			}
		}
		if resident > total/100 {
			t.Errorf("the OS still backs %d of %d released slab pages", resident, total)
		}
		mustDestroy(t, c)
	})
}
