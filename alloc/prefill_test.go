package alloc

import (
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// drain allocates everything a sheaf holds; Alloc never returns nil while
// Len() > 0 and always nil after.
func drain(t *testing.T, sh *Sheaf, seen map[uintptr]bool) []unsafe.Pointer {
	t.Helper()
	var objs []unsafe.Pointer
	for sh.Len() > 0 {
		n := sh.Len()
		p := sh.Alloc()
		if p == nil {
			t.Fatalf("Sheaf.Alloc returned nil with Len() %d", n)
		}
		if sh.Len() != n-1 {
			t.Fatalf("Len() %d after Alloc from %d", sh.Len(), n)
		}
		if seen[uintptr(p)] {
			t.Fatalf("%#x handed out twice", uintptr(p))
		}
		seen[uintptr(p)] = true
		objs = append(objs, p)
	}
	if p := sh.Alloc(); p != nil {
		t.Fatalf("Sheaf.Alloc from an empty sheaf returned %#x", uintptr(p))
	}
	return objs
}

func TestPrefillSheaf(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "prefill", 96, cfg)
		capacity := c.sheafCapacity
		if slices.Contains(cpuSlabDesigns, cfg.Design) {
			capacity = 0
		}
		seen := map[uintptr]bool{}
		var objs []unsafe.Pointer
		for _, n := range []int{0, 1, 5, capacity, capacity + 1, 3*capacity + 17} {
			before := counter(c, SheafPrefillOversize)
			sh, err := c.PrefillSheaf(n)
			if err != nil {
				t.Fatalf("PrefillSheaf(%d): %v", n, err)
			}
			if sh.Len() < n || sh.Capacity() < n || sh.Len() > sh.Capacity() {
				t.Fatalf("PrefillSheaf(%d): Len %d Capacity %d", n, sh.Len(), sh.Capacity())
			}
			if slices.Contains(sheafDesigns, cfg.Design) && n > 0 && n <= capacity && sh.Len() != capacity {
				t.Errorf("PrefillSheaf(%d): Len %d, want a full sheaf of %d", n, sh.Len(), capacity)
			}
			oversize := counter(c, SheafPrefillOversize) - before
			if want := slices.Contains(sheafDesigns, cfg.Design) && n > capacity; (oversize == 1) != want || oversize > 1 {
				t.Errorf("PrefillSheaf(%d) with capacity %d: SHEAF_PREFILL_OVERSIZE +%d", n, capacity, oversize)
			}
			// The prefilled objects count as handed out.
			got := drain(t, sh, seen)
			objs = append(objs, got...)
			c.ReturnSheaf(sh)
		}
		if got := activeObjects(c); got != int64(len(objs)) {
			t.Errorf("ActiveObjects %d, want %d", got, len(objs))
		}
		freeAll(c, objs)
		mustFinish(t, c)
	})
}

// RefillSheaf tops a sheaf up, growing it past its capacity when asked; a
// returned sheaf's remaining objects go back to the cache.
func TestRefillSheaf(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "refill", 64, cfg)
		sh, err := c.PrefillSheaf(4)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uintptr]bool{}
		var objs []unsafe.Pointer
		for i := 0; i < 3; i++ {
			objs = append(objs, sh.Alloc())
			seen[uintptr(objs[i])] = true
		}
		if err := c.RefillSheaf(sh, 4); err != nil {
			t.Fatal(err)
		}
		if sh.Len() < 4 {
			t.Fatalf("Len %d after RefillSheaf(4)", sh.Len())
		}
		big := sh.Capacity() + 10
		if err := c.RefillSheaf(sh, big); err != nil {
			t.Fatal(err)
		}
		if sh.Len() < big || sh.Capacity() < big {
			t.Fatalf("RefillSheaf(%d): Len %d Capacity %d", big, sh.Len(), sh.Capacity())
		}
		for i := 0; i < 5; i++ {
			p := sh.Alloc()
			if seen[uintptr(p)] {
				t.Fatalf("%#x handed out twice", uintptr(p))
			}
			seen[uintptr(p)] = true
			objs = append(objs, p)
		}
		if got, want := activeObjects(c), int64(len(objs)+sh.Len()); got != want {
			t.Errorf("ActiveObjects %d, want %d (held plus in the sheaf)", got, want)
		}
		c.ReturnSheaf(sh) // with objects left: they go back
		if got := activeObjects(c); got != int64(len(objs)) {
			t.Errorf("ActiveObjects %d after ReturnSheaf, want %d", got, len(objs))
		}
		freeAll(c, objs)
		c.ReturnSheaf(nil)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// ReturnSheaf: the sheaf becomes the P's spare if it has none
// (SHEAF_RETURN_FAST), else it goes to the barn (SHEAF_RETURN_SLOW);
// PrefillSheaf takes the spare when there is one (SHEAF_PREFILL_FAST), else a
// barn or new sheaf (SHEAF_PREFILL_SLOW).
func TestPrefillReturnCounters(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, sheafDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "prefill-counters", 64, cfg)
		keep := allocN(t, c, c.sheafCapacity+1) // main and spare exist now
		if c.pcs.Load().p[0].spare == nil {
			t.Fatal("no spare sheaf")
		}
		s1, err := c.PrefillSheaf(3)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := c.PrefillSheaf(3)
		if err != nil {
			t.Fatal(err)
		}
		st := c.Stats()
		if st.Counters[SheafPrefillFast] != 1 || st.Counters[SheafPrefillSlow] != 1 {
			t.Errorf("SHEAF_PREFILL_FAST %d SLOW %d, want 1 and 1", st.Counters[SheafPrefillFast], st.Counters[SheafPrefillSlow])
		}
		p := s1.Alloc()
		c.ReturnSheaf(s1) // no spare now: fast
		c.ReturnSheaf(s2) // spare taken: slow, to the barn
		st = c.Stats()
		if st.Counters[SheafReturnFast] != 1 || st.Counters[SheafReturnSlow] != 1 {
			t.Errorf("SHEAF_RETURN_FAST %d SLOW %d, want 1 and 1", st.Counters[SheafReturnFast], st.Counters[SheafReturnSlow])
		}
		if c.pcs.Load().p[0].spare != s1 {
			t.Error("the first returned sheaf is not the spare")
		}
		if c.barn.nrFull != 1 {
			t.Errorf("barn holds %d full sheaves, want the second returned one", c.barn.nrFull)
		}
		c.Free(p)
		freeAll(c, keep)
		mustFinish(t, c)
	})
}

func TestPrefillErrors(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "prefill-err", 64, cfg)
		other := mustCache(t, "other", 64, cfg)
		if _, err := c.PrefillSheaf(-1); err == nil || !strings.Contains(err.Error(), "prefill-err") {
			t.Errorf("PrefillSheaf(-1): %v", err)
		}
		sh, err := other.PrefillSheaf(2)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.RefillSheaf(sh, 3); err == nil {
			t.Error("RefillSheaf of another cache's sheaf succeeded")
		}
		if err := other.RefillSheaf(sh, -1); err == nil {
			t.Error("RefillSheaf(-1) succeeded")
		}
		if err := c.RefillSheaf(nil, 1); err == nil {
			t.Error("RefillSheaf(nil) succeeded")
		}
		msg := mustPanic(t, func() { c.ReturnSheaf(sh) })
		wantContains(t, msg, "prefill-err", "other")
		other.ReturnSheaf(sh)
		mustValidate(t, other)
		mustDestroy(t, other)

		// Past the memory limit: an error and nothing leaked.
		cfg.MemoryLimit = 2 * pageSize
		lim := mustCache(t, "prefill-limit", 64, cfg)
		n := 2*lim.objsPerSlab + 1
		if _, err := lim.PrefillSheaf(n); err == nil {
			t.Errorf("PrefillSheaf(%d) past a limit of %d objects succeeded", n, 2*lim.objsPerSlab)
		} else if !strings.Contains(err.Error(), "prefill-limit") {
			t.Errorf("error %q does not name the cache", err)
		}
		if n := activeObjects(lim); n != 0 {
			t.Errorf("ActiveObjects %d after a failed prefill", n)
		}
		sh, err = lim.PrefillSheaf(lim.objsPerSlab)
		if err != nil {
			t.Fatalf("PrefillSheaf within the limit: %v", err)
		}
		lim.ReturnSheaf(sh)
		mustValidate(t, lim)
		mustDestroy(t, lim)
		mustDestroy(t, c)
	})
}
