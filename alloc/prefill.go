package alloc

import "fmt"

// The prefilled-sheaf API (kmem_cache_prefill_sheaf and friends): a caller
// that must not fail later takes a sheaf with enough objects now and
// allocates from it with Sheaf.Alloc, which cannot fail until it is empty.

// PrefillSheaf returns a sheaf holding at least n objects. Requests above the
// cache's sheaf capacity get an oversize sheaf, filled in bulk and never
// cached. CPUSlab and debug caches fill it with bulk allocation.
func (c *Cache) PrefillSheaf(n int) (*Sheaf, error) {
	c.checkLive()
	if n < 0 {
		return nil, fmt.Errorf("slub: %s: PrefillSheaf(%d): negative count", c.name, n)
	}
	var sh *Sheaf
	if c.mode != modeSheaves || n > c.sheafCapacity {
		sh = &Sheaf{objs: make([]uintptr, max(n, c.sheafCapacity)), cache: c, oversize: c.mode == modeSheaves}
		if c.mode == modeSheaves {
			c.stat(SheafPrefillOversize)
		}
	} else {
		sh = c.takeSpare()
		if sh != nil {
			c.stat(SheafPrefillFast)
		} else {
			c.stat(SheafPrefillSlow)
			if sh = c.barn.getFull(); sh == nil {
				if sh = c.barn.getEmpty(); sh == nil {
					sh = c.newSheaf(c.sheafCapacity)
				}
			}
		}
	}
	if err := c.fillSheaf(sh, n); err != nil {
		c.ReturnSheaf(sh)
		return nil, err
	}
	return sh, nil
}

// takeSpare takes this P's spare sheaf, if it has one.
func (c *Cache) takeSpare() *Sheaf {
	var sh *Sheaf
	pid := procPin()
	if pcs := c.pcs.Load(); pid < len(pcs.p) && pcs.p[pid].lock.tryLock() {
		p := &pcs.p[pid]
		sh, p.spare = p.spare, nil
		p.lock.unlock()
	}
	procUnpin()
	return sh
}

// fillSheaf tops sh up to at least n objects (to its capacity for cached
// sheaves, which the kernel keeps full).
func (c *Cache) fillSheaf(sh *Sheaf, n int) error {
	want := n
	if !sh.oversize && c.mode == modeSheaves {
		want = len(sh.objs)
	}
	if sh.size >= n {
		return nil
	}
	got := c.allocBulk(sh.objs[sh.size:want])
	sh.size += got
	if sh.size < n {
		return fmt.Errorf("slub: %s: cannot prefill a sheaf with %d objects: out of memory", c.name, n)
	}
	return nil
}

// RefillSheaf tops a prefilled sheaf up to at least n objects, growing it
// into an oversize sheaf when n is above its capacity.
func (c *Cache) RefillSheaf(sh *Sheaf, n int) error {
	if sh == nil || sh.cache != c {
		return fmt.Errorf("slub: %s: RefillSheaf: sheaf of another cache", c.name)
	}
	if n < 0 {
		return fmt.Errorf("slub: %s: RefillSheaf(%d): negative count", c.name, n)
	}
	if n > len(sh.objs) {
		objs := make([]uintptr, n)
		copy(objs, sh.objs[:sh.size])
		sh.objs = objs
		sh.oversize = c.mode == modeSheaves
	}
	return c.fillSheaf(sh, n)
}

// ReturnSheaf gives a prefilled sheaf and its remaining objects back: it
// becomes this P's spare if there is none (SHEAF_RETURN_FAST), else it is
// topped up and parked in the barn, or flushed when the barn is full
// (SHEAF_RETURN_SLOW). Oversize sheaves are always flushed.
func (c *Cache) ReturnSheaf(sh *Sheaf) {
	if sh == nil {
		return
	}
	if sh.cache != c {
		panic(fmt.Sprintf("slub: %s: ReturnSheaf of a sheaf of cache %s", c.name, sh.cache.name))
	}
	if c.mode != modeSheaves || sh.oversize {
		for sh.size > 0 {
			n := min(sh.size, bulkChunk)
			c.freeBulk(sh.objs[sh.size-n : sh.size])
			sh.size -= n
		}
		return
	}
	pid := procPin()
	if pcs := c.pcs.Load(); pid < len(pcs.p) && pcs.p[pid].lock.tryLock() {
		p := &pcs.p[pid]
		if p.spare == nil {
			p.spare = sh
			sh = nil
		}
		p.lock.unlock()
	}
	procUnpin()
	if sh == nil {
		c.stat(SheafReturnFast)
		return
	}
	c.stat(SheafReturnSlow)
	c.refillSheaf(sh, false)
	if sh.size > 0 && c.barn.putFull(sh, false) {
		return
	}
	c.flushSheaf(sh)
	c.stashEmpty(sh)
}
