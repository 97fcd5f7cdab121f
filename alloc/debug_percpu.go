package alloc

// debugPercpu is the per-P layer of debug caches, whatever their design:
// none. Every operation goes to the slabs under list_lock, where it can
// check the whole slot and the slab's freelist (debug_check.go), as the
// kernel's debug caches have no sheaves and no cpu slabs.
type debugPercpu struct{}

func (debugPercpu) alloc(c *Cache) uintptr { return c.debugAlloc(false) }

func (debugPercpu) free(c *Cache, s *slab, a uintptr) { c.debugFree(s, a, false) }

func (debugPercpu) allocNoLock(c *Cache) uintptr {
	a := c.debugAlloc(true)
	if a != 0 {
		c.stat(NoLockAlloc)
	}
	return a
}

func (debugPercpu) freeNoLock(c *Cache, s *slab, a uintptr) bool {
	if !c.debugFree(s, a, true) {
		return false
	}
	c.stat(NoLockFree)
	return true
}

func (debugPercpu) allocBulk(c *Cache, dst []uintptr) int {
	got := 0
	for got < len(dst) {
		a := c.debugAlloc(false)
		if a == 0 {
			break
		}
		dst[got] = a
		got++
	}
	return got
}

func (debugPercpu) freeBulk(c *Cache, src []uintptr) {
	for _, a := range src {
		c.debugFree(lookupSlab(a), a, false)
	}
}

func (debugPercpu) flush(*Cache) {}

func (debugPercpu) lock(*Cache, bool) func() { return func() {} }

func (debugPercpu) validate(*Cache, *validation) {}

func (debugPercpu) count(*Cache, *Stats) {}
