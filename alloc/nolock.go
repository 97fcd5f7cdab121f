package alloc

import "unsafe"

// AllocNoLock and FreeNoLock are kmalloc_nolock and kfree_nolock: they never
// block and never spin on a lock. Every lock they touch is try-locked, and
// they never ask the OS for memory, so they are safe from a trace hook that
// runs while the allocator holds its own locks. See doc.go for the two
// designs' paths side by side.

// AllocNoLock returns an object, or nil when none can be had without
// waiting. nil means "not now", as for kmalloc_nolock; the cache is fine.
func (c *Cache) AllocNoLock() unsafe.Pointer {
	c.checkLive()
	a := c.pp.allocNoLock(c)
	if a == 0 {
		c.stat(NoLockAllocFail)
		return nil
	}
	return ptr(a)
}

// FreeNoLock frees obj without waiting for any lock. When it cannot free at
// once it defers the object to the cache's deferred list, which later
// operations drain. Bad pointers panic as in Free.
func (c *Cache) FreeNoLock(obj unsafe.Pointer) {
	c.checkLive()
	a := uintptr(obj)
	if a == 0 {
		return
	}
	s := c.checkObject("FreeNoLock", a)
	if c.pp.freeNoLock(c, s, a) {
		return
	}
	if s.freelist() == a {
		c.doubleFree("FreeNoLock", a) // freed to its slab already
	}
	c.deferFreelist(a, a, 1, "FreeNoLock")
	c.stat(NoLockFreeDeferred)
}
