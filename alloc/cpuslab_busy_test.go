package alloc

import "testing"

// Without the double-word CAS the old design's slow path takes list_lock to
// look at its cpu slab's own freelist. A no-lock allocation that finds
// list_lock busy there must leave the cpu slab as it was (frozen, this P's)
// instead of dropping it: a dropped frozen slab would never be unfrozen, and
// its memory would never come back.
func TestCPUSlabNoLockBusyKeepsCPUSlab(t *testing.T) {
	withProcs(t, 1)
	for _, d := range cpuSlabDesigns {
		t.Run(d.String(), func(t *testing.T) { testCPUSlabNoLockBusyKeepsCPUSlab(t, d) })
	}
}

func testCPUSlabNoLockBusyKeepsCPUSlab(t *testing.T, d Design) {
	c := mustCache(t, "busy", 64, Config{Design: d, noDCAS: true})
	objs := allocN(t, c, c.objsPerSlab) // exactly the cpu slab: it is exhausted now
	cc := c.cpus.Load().c[0]
	s := cc.slab.Load()
	if s == nil || loadCPUFreelist(cc) != 0 {
		t.Fatalf("want an exhausted cpu slab, have slab %p, cpu freelist %#x", s, loadCPUFreelist(cc))
	}
	c.node.listLock.Lock()
	p := c.AllocNoLock()
	c.node.listLock.Unlock()
	if p != nil {
		t.Fatalf("AllocNoLock with list_lock held returned %p", p)
	}
	if cc.slab.Load() != s || !s.counters().frozen() {
		t.Fatalf("the cpu slab changed: slab %p (was %p), frozen %v", cc.slab.Load(), s, s.counters().frozen())
	}
	freeAll(c, objs)
	mustValidate(t, c)
	c.Shrink()
	if st := c.Stats(); st.Slabs != 0 {
		t.Fatalf("%d slabs after freeing everything and Shrink", st.Slabs)
	}
	mustDestroy(t, c)
}
