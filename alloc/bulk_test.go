package alloc

import (
	"testing"
	"unsafe"
)

// AllocBulk fills the whole slice with distinct objects; FreeBulk gives them
// back, skipping nil entries.
func TestBulk(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "bulk", 72, cfg)
		if got := c.AllocBulk(nil); got != 0 {
			t.Errorf("AllocBulk(nil) = %d", got)
		}
		c.FreeBulk(nil)
		seen := map[uintptr]bool{}
		var all [][]unsafe.Pointer
		for _, n := range []int{1, 7, c.sheafCapacity - 1, c.sheafCapacity, 64, 65, 3*c.objsPerSlab + 5, 1000} {
			if n <= 0 {
				continue
			}
			objs := make([]unsafe.Pointer, n)
			if got := c.AllocBulk(objs); got != n {
				t.Fatalf("AllocBulk(%d) = %d", n, got)
			}
			for i, p := range objs {
				if p == nil {
					t.Fatalf("AllocBulk(%d): entry %d is nil", n, i)
				}
				if seen[uintptr(p)] {
					t.Fatalf("AllocBulk(%d): %#x handed out twice", n, uintptr(p))
				}
				seen[uintptr(p)] = true
				fillPattern(p, 72, byte(n))
			}
			all = append(all, objs)
		}
		if got, want := activeObjects(c), int64(len(seen)); got != want {
			t.Errorf("ActiveObjects %d, want %d", got, want)
		}
		mustValidate(t, c)
		// Mixed with single operations, nil entries skipped.
		var skipped []unsafe.Pointer
		for _, objs := range all {
			skipped = append(skipped, objs[0])
			for _, p := range objs {
				if err := checkPattern(p, 72, byte(len(objs))); err != nil {
					t.Fatal(err)
				}
			}
			objs[0] = nil
			if len(objs) > 2 {
				c.Free(objs[1])
				objs[1] = nil
			}
		}
		for _, objs := range all {
			c.FreeBulk(objs)
		}
		if got := activeObjects(c); got != int64(len(all)) {
			t.Errorf("ActiveObjects %d, want the %d skipped objects", got, len(all))
		}
		mustValidate(t, c)
		c.Shrink()
		// The skipped first objects are still live; everything else is free.
		if got := activeObjects(c); got != int64(len(all)) {
			t.Errorf("after Shrink: ActiveObjects %d", got)
		}
		c.FreeBulk(skipped)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// Bulk operations move whole arrays through the per-P layer: on one P a bulk
// allocation of what the main sheaf holds is all fast path, and so is the
// bulk free that puts it back.
func TestBulkFastPath(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, sheafDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "bulkfast", 64, cfg)
		c.Free(c.Alloc()) // main now holds a full sheaf
		st0 := c.Stats()
		objs := make([]unsafe.Pointer, c.sheafCapacity)
		if c.AllocBulk(objs) != len(objs) {
			t.Fatal("AllocBulk failed")
		}
		c.FreeBulk(objs)
		st := c.Stats()
		allocHit, freeHit := sheafHits(cfg.Design)
		if got := st.Counters[allocHit] - st0.Counters[allocHit]; got != uint64(len(objs)) {
			t.Errorf("%v +%d for a bulk allocation of %d", allocHit, got, len(objs))
		}
		if got := st.Counters[freeHit] - st0.Counters[freeHit]; got != uint64(len(objs)) {
			t.Errorf("%v +%d for a bulk free of %d", freeHit, got, len(objs))
		}
		if st.Counters[SheafRefill] != st0.Counters[SheafRefill] || st.Counters[AllocSlab] != 1 {
			t.Error("the bulk operations touched slabs")
		}
		mustDestroy(t, c)
	})
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "bulkfast", 64, cfg)
		c.Free(c.Alloc()) // the cpu slab's freelist is on the P
		st0 := c.Stats()
		objs := make([]unsafe.Pointer, 20)
		if c.AllocBulk(objs) != len(objs) {
			t.Fatal("AllocBulk failed")
		}
		c.FreeBulk(objs)
		st := c.Stats()
		if got := st.Counters[AllocFastpath] - st0.Counters[AllocFastpath]; got != uint64(len(objs)) {
			t.Errorf("ALLOC_FASTPATH +%d for a bulk allocation of %d from the cpu freelist", got, len(objs))
		}
		if got := st.Counters[FreeFastpath] - st0.Counters[FreeFastpath]; got != uint64(len(objs)) {
			t.Errorf("FREE_FASTPATH +%d for a bulk free of %d cpu-slab objects", got, len(objs))
		}
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// AllocBulk is all or nothing: past the memory limit it returns 0, leaves
// the slice empty and allocates nothing; what fits still works afterwards.
func TestBulkAllOrNothing(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		cfg.MemoryLimit = 4 * pageSize
		c := mustCache(t, "bulklimit", 128, cfg)
		capacity := 4 * c.objsPerSlab
		objs := make([]unsafe.Pointer, capacity+1)
		if got := c.AllocBulk(objs); got != 0 {
			t.Fatalf("AllocBulk(%d) over the limit of %d objects = %d", len(objs), capacity, got)
		}
		for i, p := range objs {
			if p != nil {
				t.Fatalf("entry %d left set after a failed AllocBulk", i)
			}
		}
		if n := activeObjects(c); n != 0 {
			t.Errorf("ActiveObjects %d after a failed AllocBulk", n)
		}
		mustValidate(t, c)
		objs = make([]unsafe.Pointer, capacity/2)
		if got := c.AllocBulk(objs); got != len(objs) {
			t.Fatalf("AllocBulk(%d) within the limit = %d", len(objs), got)
		}
		c.FreeBulk(objs)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// FreeBulk checks every pointer before freeing any: a bad one panics and
// the good ones stay allocated.
func TestFreeBulkChecksFirst(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "bulkcheck", 64, cfg)
		objs := make([]unsafe.Pointer, 10)
		if c.AllocBulk(objs) != 10 {
			t.Fatal("AllocBulk failed")
		}
		bad := append(append([]unsafe.Pointer{}, objs...), ptr(uintptr(objs[3])+8))
		msg := mustPanic(t, func() { c.FreeBulk(bad) })
		wantContains(t, msg, "bulkcheck", hexAddr(bad[10]))
		if n := activeObjects(c); n != 10 {
			t.Errorf("ActiveObjects %d after a rejected FreeBulk, want 10", n)
		}
		c.FreeBulk(objs)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}
