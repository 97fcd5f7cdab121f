package alloc

import "fmt"

// The prefilled-sheaf API (kmem_cache_prefill_sheaf and friends): a caller
// that must not fail later takes a sheaf with enough objects now and
// allocates from it with Sheaf.Alloc, which cannot fail until it is empty.

// MaxPrefill is the most objects PrefillSheaf and RefillSheaf give a sheaf:
// as in the kernel, whose oversize sheaf is one kmalloc allocation of at
// most KMALLOC_MAX_SIZE (4 MiB of object pointers).
const MaxPrefill = 1 << 19

// PrefillSheaf returns a sheaf holding at least n objects. Requests above the
// cache's sheaf capacity get an oversize sheaf, filled in bulk and never
// cached. Caches without sheaves (the cpu slab designs, debug caches) fill
// it with bulk allocation. A count above MaxPrefill, or above what the
// cache's MemoryLimit could ever hold, is an error before anything is
// allocated.
func (c *Cache) PrefillSheaf(n int) (*Sheaf, error) {
	c.checkLive()
	if err := c.checkPrefill("PrefillSheaf", n); err != nil {
		return nil, err
	}
	if c.sheafCapacity == 0 || n > c.sheafCapacity {
		sh := &Sheaf{sheafObjs: sheafObjs{objs: make([]uintptr, max(n, c.sheafCapacity))}, cache: c, oversize: true, lent: true}
		if c.sheafCapacity > 0 {
			c.stat(SheafPrefillOversize)
		}
		if err := c.fillSheaf(sh, n); err != nil {
			c.ReturnSheaf(sh)
			return nil, err
		}
		return sh, nil
	}
	sh := c.takeSpare()
	if sh != nil {
		c.stat(SheafPrefillFast)
	} else {
		c.stat(SheafPrefillSlow)
		if sh = c.barn.getFullOrEmpty(); sh != nil && sh.size > 0 {
			c.stat(BarnGet)
		} else {
			c.stat(BarnGetFail)
		}
		if sh == nil {
			sh = c.newSheaf(c.sheafCapacity)
		}
	}
	sh.lent = true
	if err := c.fillSheaf(sh, n); err != nil {
		c.ReturnSheaf(sh)
		return nil, err
	}
	return sh, nil
}

// checkPrefill checks the count of a PrefillSheaf or RefillSheaf: not
// negative, at most MaxPrefill, and not more objects than the slabs the
// cache's memory limit allows could hold.
func (c *Cache) checkPrefill(op string, n int) error {
	switch {
	case n < 0:
		return fmt.Errorf("alloc: %s: %s(%d): negative count", c.name, op, n)
	case n > MaxPrefill:
		return fmt.Errorf("alloc: %s: %s(%d): more than MaxPrefill (%d) objects", c.name, op, n, MaxPrefill)
	case c.limit.max > 0 && int64((n+c.objsPerSlab-1)/c.objsPerSlab)*int64(c.slabPages*pageSize) > c.limit.max:
		return errorOf(ErrMemoryLimit, "alloc: %s: %s(%d): more objects than the memory limit of %d bytes holds", c.name, op, n, c.limit.max)
	}
	return nil
}

// takeSpare takes this P's spare sheaf, if it has one.
func (c *Cache) takeSpare() *Sheaf {
	var sh *Sheaf
	if p := c.pcsLock(); p != nil {
		sh, p.spare = p.spare, nil
		pcsUnlock(p)
	} else {
		pcsUnlock(nil)
	}
	return sh
}

// fillSheaf tops sh up to at least n objects: a cached sheaf to its
// capacity from the backing (refill_sheaf, never from the P's own
// sheaves), an oversize one to n with bulk allocation.
func (c *Cache) fillSheaf(sh *Sheaf, n int) error {
	if sh.size >= n {
		return nil
	}
	if sh.oversize {
		sh.size += c.allocBulkFresh(sh.objs[sh.size:n])
	} else if !c.refillSheaf(&sh.sheafObjs, false) && c.reclaim() {
		c.refillSheaf(&sh.sheafObjs, false)
	}
	if sh.size < n {
		return errorOf(c.noMemory(), "alloc: %s: cannot prefill a sheaf with %d objects: out of memory", c.name, n)
	}
	return nil
}

// allocBulkFresh is __kmem_cache_alloc_bulk: objects from below the per-P
// sheaves (the backing), or the design's bulk allocation where there are no
// sheaves.
func (c *Cache) allocBulkFresh(dst []uintptr) int {
	if c.backing == nil {
		return c.allocBulk(dst)
	}
	got := c.backing.allocMany(c, dst)
	if got < len(dst) && c.reclaim() {
		got += c.backing.allocMany(c, dst[got:])
	}
	return got
}

// RefillSheaf tops a prefilled sheaf up to at least n objects, growing it
// into an oversize sheaf when n is above its capacity.
func (c *Cache) RefillSheaf(sh *Sheaf, n int) error {
	c.checkLive()
	switch {
	case sh == nil || sh.cache != c:
		return fmt.Errorf("alloc: %s: RefillSheaf: sheaf of another cache", c.name)
	case !sh.lent:
		return fmt.Errorf("alloc: %s: RefillSheaf of a sheaf that was returned (ReturnSheaf)", c.name)
	}
	if err := c.checkPrefill("RefillSheaf", n); err != nil {
		return err
	}
	if n > len(sh.objs) {
		objs := make([]uintptr, n)
		copy(objs, sh.objs[:sh.size])
		sh.objs = objs
		sh.oversize = true
	}
	return c.fillSheaf(sh, n)
}

// ReturnSheaf gives a prefilled sheaf and its remaining objects back: it
// becomes this P's spare if there is none (SHEAF_RETURN_FAST), else it is
// topped up and parked in the barn, or flushed when the barn already holds
// its limit of full sheaves or the refill fails (SHEAF_RETURN_SLOW).
// Oversize sheaves are always flushed.
func (c *Cache) ReturnSheaf(sh *Sheaf) {
	c.checkLive()
	if sh == nil {
		return
	}
	switch {
	case sh.cache == nil:
		panic(fmt.Sprintf("alloc: %s: ReturnSheaf of a zero Sheaf: sheaves come from PrefillSheaf", c.name))
	case sh.cache != c:
		panic(fmt.Sprintf("alloc: %s: ReturnSheaf of a sheaf of cache %s", c.name, sh.cache.name))
	case !sh.lent:
		// Returned already: it may be this P's spare or in the barn, and
		// putting it there again would put one sheaf in two places.
		panic(fmt.Sprintf("alloc: %s: ReturnSheaf of a sheaf that was returned already", c.name))
	}
	sh.lent = false
	if sh.oversize {
		c.freeBulk(sh.objs[:sh.size])
		sh.size = 0
		return
	}
	if p := c.pcsLock(); p != nil {
		if p.spare == nil {
			p.spare = sh
			sh = nil
		}
		pcsUnlock(p)
	} else {
		pcsUnlock(nil)
	}
	if sh == nil {
		c.stat(SheafReturnFast)
		return
	}
	c.stat(SheafReturnSlow)
	if c.barn.fullCount() < c.barn.maxFull && c.refillSheaf(&sh.sheafObjs, false) && c.barn.putFull(sh) {
		c.stat(BarnPut)
		return
	}
	// Flushed and kept as an empty barn sheaf, where the kernel frees it:
	// the next prefill or free takes it instead of allocating one.
	c.flushSheaf(&sh.sheafObjs)
	c.stashEmpty(sh)
}
