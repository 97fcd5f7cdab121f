package alloc

import "unsafe"

// bulkChunk bounds the stack buffer the bulk paths convert through.
const bulkChunk = 64

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
	var buf [bulkChunk]uintptr
	done := 0
	for done < len(objs) {
		n := min(len(objs)-done, bulkChunk)
		got := c.allocBulk(buf[:n])
		for i := 0; i < got; i++ {
			objs[done+i] = ptr(buf[i])
		}
		done += got
		if got < n {
			c.FreeBulk(objs[:done])
			clear(objs[:done])
			return 0
		}
	}
	return len(objs)
}

func (c *Cache) allocBulk(dst []uintptr) int { return c.pp.allocBulk(c, dst) }

// FreeBulk frees every object of objs (kmem_cache_free_bulk). Every pointer
// is checked before anything is freed, the cheap double frees of Free
// included (an object twice in a row, or already on top of this P's cache,
// of its slab's freelist or of the deferred list; debug caches report every
// double free and ignore it); nil entries are skipped.
func (c *Cache) FreeBulk(objs []unsafe.Pointer) {
	c.checkLive()
	var top, deferred uintptr
	if len(objs) > 0 && !c.isDebug() {
		top, deferred = c.freeTop(), c.deferred.head.Load()
	}
	var last *slab // objects of a bulk free tend to share slabs
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
	}
	var buf [bulkChunk]uintptr
	for len(objs) > 0 {
		n := 0
		for len(objs) > 0 && n < bulkChunk {
			if objs[0] != nil {
				buf[n] = uintptr(objs[0])
				n++
			}
			objs = objs[1:]
		}
		c.freeBulk(buf[:n])
	}
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
			if m := p.main; m.size > 0 {
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
