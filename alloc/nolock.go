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
	var a uintptr
	switch c.mode {
	case modeSheaves:
		// Sheaves: the per-P sheaf (try-lock), then a slab with try-locks.
		if a = c.pcsPop(NoLockAlloc); a != 0 {
			return ptr(a) // counted per P
		}
		a = c.allocFromSlabs(true)
	case modeCPUSlab:
		a = c.cpuAllocNoLock()
	default:
		a = c.debugAlloc(true)
	}
	if a == 0 {
		c.stat(NoLockAllocFail)
		return nil
	}
	c.stat(NoLockAlloc)
	return ptr(a)
}

// cpuAllocNoLock is the old design's kmalloc_nolock: the lockless fast path
// is safe anywhere; the slow path first checks whether this P's lock is
// held (it may be held by the very code the hook interrupted) and reports
// busy instead of waiting.
func (c *Cache) cpuAllocNoLock() uintptr {
	if c.lockless {
		cc, step := c.thisCPU()
		for tries := 0; tries < 4; tries++ {
			tid := loadTid(cc)
			obj := loadCPUFreelist(cc)
			if obj == 0 || cc.slab.Load() == nil {
				break
			}
			next := c.getFP(obj)
			if c.cpuCAS(cc, uint64(obj), tid, uint64(next), tid+step) {
				pstat(&cc.stat[AllocFastpath])
				return obj
			}
		}
	}
	return c.cpuSlabAllocSlow(true)
}

// FreeNoLock frees obj without waiting for any lock. When it cannot free at
// once it defers the object to the cache's deferred list, which later
// operations drain. Bad pointers panic as in Free.
func (c *Cache) FreeNoLock(obj unsafe.Pointer) {
	a := uintptr(obj)
	if a == 0 {
		return
	}
	s := c.checkObject("FreeNoLock", a)
	ok := false
	switch c.mode {
	case modeSheaves:
		// free_to_pcs with allow_spin=false: no sheaf allocation, no flush.
		if c.pcsPush(a, NoLockFree) {
			return // counted per P
		}
		ok = c.freeToSlab(s, a, true)
	case modeCPUSlab:
		// 6.18's kfree_nolock: only the cpu slab's push; any other object
		// is deferred.
		ok = c.cpuFreeFast(s, a)
	default:
		ok = c.debugFree(s, a, true)
	}
	if ok {
		c.stat(NoLockFree)
		return
	}
	c.deferFreelist(a, a, 1)
	c.stat(NoLockFreeDeferred)
}

// cpuFreeFast pushes a onto the cpu freelist if s is this P's cpu slab
// (without the double-word CAS: if the per-P lock is free).
func (c *Cache) cpuFreeFast(s *slab, a uintptr) bool {
	cc, step := c.thisCPU()
	if !c.lockless {
		if !cc.mu.TryLock() {
			c.stat(NoLockBusy)
			return false
		}
		defer cc.mu.Unlock()
	}
	for {
		tid := loadTid(cc)
		if cc.slab.Load() != s {
			return false
		}
		fl := loadCPUFreelist(cc)
		if fl == a {
			c.doubleFree(a)
		}
		c.setFP(a, fl)
		if c.cpuCAS(cc, uint64(fl), tid, uint64(a), tid+step) {
			pstat(&cc.stat[FreeFastpath])
			return true
		}
	}
}
