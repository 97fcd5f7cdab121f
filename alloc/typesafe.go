package alloc

import "unsafe"

// TypesafeByRCU caches (SLAB_TYPESAFE_BY_RCU): objects are freed and
// reused at once, but a slab that the cache gives up keeps its pages until
// a grace period of the cache's domain has ended (rcu_free_slab), so that a
// reader inside a read-side section that still holds a pointer into the
// slab reads an object of the cache, never memory of another cache or of a
// large allocation. The free pointer lives after the object (layout), so a
// free never writes into the object a reader may be reading.
//
// The slab's pages stop belonging to the cache at once: a Free of one of
// its objects (a double free) then panics as for a slab already gone,
// instead of corrupting a slab that is on no list. The pages stay in use,
// and count against the MemoryLimit, until the grace period has ended.

// slabRCU is a slab waiting for its grace period.
type slabRCU struct {
	head rcuHead // first: slabRCUDone converts the head's pointer
	c    *Cache
	s    *slab
}

// freeSlabRCU is freeSlabPages for a TypesafeByRCU cache. If the domain is
// closed, no grace period can be waited for without blocking: the pages
// stay in use for good (Config.RCU says to close a domain only after its
// caches are destroyed).
func (c *Cache) freeSlabRCU(s *slab) {
	pages.disownPages(s.start, s.npages)
	c.rcu.slabs.Add(1)
	r := c.rcuDomain()
	if r.closed.Load() {
		return
	}
	r.call(&(&slabRCU{c: c, s: s}).head, 0, slabRCUDone)
}

func slabRCUDone(h *rcuHead) {
	sr := (*slabRCU)(unsafe.Pointer(h))
	c, s := sr.c, sr.s
	pages.freePages(s.start, s.npages)
	c.limit.release(int64(s.npages) * pageSize)
	c.stat(FreeSlab)
	c.rcu.slabs.Add(-1)
}

// disownPages clears the owner entries of the n pages at a, which stay in
// use until freePages.
func (h *pageHeap) disownPages(a uintptr, n int) {
	h.mu.Lock()
	ch, i := lookupPage(a)
	ch.disown(i, n)
	h.mu.Unlock()
}

// rcuSlabBarrier waits until the slabs a TypesafeByRCU cache gave up have
// gone back to the page heap.
func (c *Cache) rcuSlabBarrier() {
	if c.rcu.slabs.Load() == 0 {
		return
	}
	if r := c.rcuDomain(); !r.closed.Load() && r.err() == nil {
		r.Barrier()
	}
}
