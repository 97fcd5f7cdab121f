package alloc

// The Hybrid design: Linux 6.18 and 6.19, where a cache could have percpu
// sheaves (opt-in, as vm_area_struct and maple_node did) on top of the cpu
// slabs and cpu partial lists of the old design. The sheaves are the
// Sheaves design's, with the same fast paths; what they miss goes to the
// cpu slab layer (CPUSlab's, at the kernel's cost) instead of to the slabs:
// a sheaf refill is a bulk allocation from the cpu slabs and a flush a bulk
// free to them, so their objects are counted twice, as the kernel did:
// ALLOC_PCS and FREE_PCS for sheaf hits, and the cpu slab layer's own
// counters for what refills and flushes move. Two layers of per-P caching:
// the "double caching" that the 7.0 regressions were blamed on.

// hybridPercpu is the sheaves per-P layer with the cpu slab layer under it
// (Cache.backing is cpuSlabPercpu). Only what must see both layers differs
// from sheavesPercpu.
type hybridPercpu struct{ sheavesPercpu }

// flush empties the sheaves (into the cpu slabs), the barn, then the cpu
// slabs.
func (hybridPercpu) flush(c *Cache) {
	sheavesPercpu{}.flush(c)
	cpuSlabPercpu{}.flush(c)
}

// lock takes the sheaves locks, then the cpu slab locks (the lock order of
// doc.go).
func (hybridPercpu) lock(c *Cache, flush bool) func() {
	unlockSheaves := sheavesPercpu{}.lock(c, flush)
	done := false
	defer func() {
		if !done {
			unlockSheaves() // the cpu slab flush panicked, having unlocked its own
		}
	}()
	unlockCPUs := cpuSlabPercpu{}.lock(c, flush)
	done = true
	return func() {
		unlockCPUs()
		unlockSheaves()
	}
}

func (hybridPercpu) validate(c *Cache, v *validation) {
	sheavesPercpu{}.validate(c, v)
	c.validateCPUs(v)
}

func (hybridPercpu) count(c *Cache, st *Stats) {
	sheavesPercpu{}.count(c, st)
	c.countCPUs(st)
}
