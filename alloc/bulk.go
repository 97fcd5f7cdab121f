package alloc

import "unsafe"

// AllocBulk fills objs with new objects and returns len(objs), or returns 0
// and allocates nothing when memory is exhausted (kmem_cache_alloc_bulk).
// Sheaves: copy from the per-P sheaves, then take objects straight from
// slabs without going through a sheaf. The cpu slab designs: pop the cpu
// freelist under the per-P lock, calling the slow path only to load the next
// one, as the old kernel did.
func (c *Cache) AllocBulk(objs []unsafe.Pointer) int {
	c.checkLive()
	if len(objs) == 0 || c.injectFailure() {
		return 0
	}
	clear(objs)
	if got := c.allocBulk(addrs(objs)); got < len(objs) {
		c.FreeBulk(objs[:got])
		return 0
	}
	return len(objs)
}

// addrs views objs, whose entries are nil or objects of this allocator,
// as the addresses the allocator works with, so that the bulk paths need no
// buffer (one on the stack would escape to the Go heap through the per-P
// interface). Writing an address there without the write barrier that a
// pointer store has is safe: neither the old value (nil, or an object
// outside the Go heap) nor the new one is a Go heap pointer.
func addrs(objs []unsafe.Pointer) []uintptr {
	return unsafe.Slice((*uintptr)(unsafe.Pointer(unsafe.SliceData(objs))), len(objs))
}

func (c *Cache) allocBulk(dst []uintptr) int { return c.pp.allocBulk(c, dst) }

// FreeBulk frees every object of objs (kmem_cache_free_bulk). Every pointer
// is checked before anything is freed, the cheap double frees of Free
// included (an object twice in a row, or already on top of this P's cache,
// of its slab's freelist or of the deferred list; debug caches report every
// double free and ignore it); nil entries are skipped. Afterwards every
// entry of objs is nil, as the kernel leaves its array.
func (c *Cache) FreeBulk(objs []unsafe.Pointer) {
	c.checkLive()
	var top, deferred uintptr
	if len(objs) > 0 && !c.isDebug() {
		top, deferred = c.freeTop(), c.deferred.head.Load()
	}
	var last *slab // objects of a bulk free tend to share slabs
	n := 0
	var prev, head uintptr
	for _, o := range objs {
		a := uintptr(o)
		if a == 0 {
			continue
		}
		s := last
		if s == nil || !s.contains(a) {
			if s = lookupSlab(a); s == nil || s.cache != c {
				c.checkObject("FreeBulk", a) // panics
			}
			last, head = s, s.freelist()
		}
		if !c.validSlot(s, a) {
			c.checkObject("FreeBulk", a) // panics
		}
		if (a == prev || a == top || a == head || a == deferred) && !c.isDebug() {
			c.doubleFree("FreeBulk", a)
		}
		prev = a
		n++
	}
	if n < len(objs) {
		// Pack the objects to the front: the bulk paths take no holes.
		k := 0
		for _, o := range objs {
			if o != nil {
				objs[k] = o
				k++
			}
		}
	}
	c.freeBulk(addrs(objs[:n]))
	clear(objs)
}

func (c *Cache) freeBulk(src []uintptr) { c.pp.freeBulk(c, src) }

// freeTop returns the free object a free on this P would go on top of:
// the top of the main sheaf, or the head of the cpu freelist; 0 when there
// is none or the P is busy. FreeBulk's double-free check compares with it.
func (c *Cache) freeTop() uintptr {
	var a uintptr
	switch {
	case c.pcs.Load() != nil: // Sheaves, Hybrid
		if p := c.pcsLock(); p != nil {
			if m := &p.main; m.size > 0 {
				a = m.objs[m.size-1]
			}
			pcsUnlock(p)
		} else {
			pcsUnlock(nil)
		}
	case c.design == CPUSlab:
		cc, _ := c.cpuLock()
		if cc != nil {
			a = uintptr(cc.pair().Lo)
		}
		cpuUnlock(cc)
	case c.design == CPUSlabLocked:
		cc, _ := c.thisCPU()
		a = loadCPUFreelist(cc)
	}
	return a
}
