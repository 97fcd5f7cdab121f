package alloc

// The bound on free objects a cache parks above its slabs: in per-P
// sheaves, the barn, cpu freelists and cpu partial slabs. Each such object
// can pin a slab that Shrink would otherwise give back, so the bound is also
// a bound on memory that stays mapped while the cache is idle. With P =
// GOMAXPROCS, a sheaf capacity of cap, maxFull full sheaves in the barn
// (maxFullSheaves, 10), objs objects per slab and cpuPartialSlabs slabs per
// cpu partial list:
//
//	Sheaves         (2P + maxFull) × cap            main and spare per P, the barn
//	CPUSlab(Locked) P × (1 + cpuPartialSlabs) × objs  the cpu slab and cpu partial slabs per P
//	Hybrid          both
//
// For 64-byte objects at P = 2 that is 840 objects for Sheaves and 640 for
// the cpu slab designs (4 cpu partial slabs of 64); for 256 KiB objects
// (cap 4, one per slab, 12 cpu partial slabs) 56 and 26 objects, 14 MiB and
// 6.5 MiB; at P = 64, 138 MiB and 208 MiB. Hybrid holds the sum.
//
// Config.MaxCachedObjects lowers it for one cache: the barn keeps fewer
// full sheaves, then the sheaves get a smaller capacity, and the cpu
// partial lists fewer slabs, down to what the design cannot do without (a
// sheaf of one object per P and per role, a cpu slab per P). Stats reports
// the bound in effect. GOMAXPROCS growing later raises it by what the new
// Ps hold.

// limitCached applies Config.MaxCachedObjects (0: none) to the sizes
// setDesign chose.
func (c *Cache) limitCached(limit int) {
	c.barn.maxFull = maxFullSheaves
	if limit <= 0 {
		return
	}
	np := gomaxprocs()
	// A cpu slab per P is the one thing that cannot go; the cpu partial
	// lists and the sheaves share what is left (Hybrid: half each).
	sheafBudget, partialBudget := limit, 0
	if c.cpuPartialSlabs > 0 {
		rest := max(0, limit-np*c.objsPerSlab)
		sheafBudget, partialBudget = 0, rest
		if c.sheafCapacity > 0 {
			sheafBudget, partialBudget = rest/2, rest-rest/2
		}
		c.cpuPartialSlabs = min(c.cpuPartialSlabs, partialBudget/(np*c.objsPerSlab))
		c.cpuPartial = c.cpuPartialSlabs * c.objsPerSlab / 2
	}
	if c.sheafCapacity > 0 {
		c.barn.maxFull = min(maxFullSheaves, max(0, sheafBudget/c.sheafCapacity-2*np))
		if c.barn.maxFull == 0 {
			c.sheafCapacity = min(c.sheafCapacity, max(1, sheafBudget/(2*np)))
		}
	}
}

// cachedBound is the bound in effect, for the Ps the cache has now.
func (c *Cache) cachedBound() int64 {
	var b int64
	if pcs := c.pcs.Load(); pcs != nil {
		b += int64(2*len(pcs.p)+c.barn.maxFull) * int64(c.sheafCapacity)
	}
	if cpus := c.cpus.Load(); cpus != nil {
		b += int64(len(cpus.c)) * int64(1+c.cpuPartialSlabs) * int64(c.objsPerSlab)
	}
	return b
}
