package alloc

// Taking objects from slabs, shared by every design: refill_objects for
// sheaves and bulk allocation, and ___slab_alloc's single object. See doc.go.
// Model: alloc/model/slabfree.pml (refillObjects' whole-freelist take and
// allocFromSlabs against frees).

// refillObjects is the kernel's refill_objects: fill dst with at least min
// objects (at most len(dst)), first by detaching whole freelists of partial
// slabs, then from new slabs. It returns how many it got, fewer than min only
// when memory is exhausted (or, with noblock, a lock was busy).
func (c *Cache) refillObjects(dst []uintptr, min int, noblock bool) int {
	n := &c.node
	max := len(dst)
	got := 0
	if !n.lock(noblock) {
		return 0
	}
	// Detach partial slabs (get_partial_node_bulk): stop once the free
	// objects reach max, or reach min when the next slab would take them
	// past max. What a slab holds beyond max goes back below.
	type detachedSlab struct {
		s  *slab
		fl uintptr
	}
	var buf [8]detachedSlab
	detached := buf[:0]
	free := 0
	for s := n.partialHead; s != nil && free < max; {
		cnt := s.counters().free()
		if free >= min && free+cnt > max {
			break
		}
		next := s.next
		n.removePartial(s)
		// The kernel takes the freelists after dropping list_lock; taking
		// them here keeps every slab with free objects either on the partial
		// list or in the hands of a list_lock holder, which Validate checks.
		// Once its freelist is taken, a free may put the slab back on the
		// partial list and another refill may detach it again, so what we
		// took is kept here, not in the slab.
		detached = append(detached, detachedSlab{s, c.takeFreelist(s)})
		free += cnt
		s = next
	}
	n.unlock()
	for _, d := range detached {
		s, fl := d.s, d.fl
		for fl != 0 && got < max {
			dst[got] = fl
			got++
			fl = c.getFP(fl)
			if c.random != 0 {
				c.checkNextFree(s, dst[got-1], fl)
			}
		}
		if fl != 0 {
			// More than we could take (frees raced in): give the rest back.
			tail, cnt := c.chainEnd(s, fl)
			if !c.slabFree(s, fl, tail, cnt, noblock) {
				c.deferFreelist(fl, tail, cnt, "a refill")
			}
		}
	}
	if got < min && c.hook != nil {
		defer c.giveBackOnPanic(dst, &got, noblock) // new slabs fire new_slab
	}
	for got < min {
		k := c.objsPerSlab
		if k > max-got {
			k = max - got
		}
		s := c.newSlabTaking(noblock, k)
		if s == nil {
			break
		}
		o := s.base
		for i := 0; i < k; i++ {
			dst[got] = o
			got++
			o += uintptr(c.size)
		}
		if !c.registerSlab(s, k < c.objsPerSlab, noblock) {
			return got - k
		}
	}
	return got
}

// giveBackOnPanic is deferred by the paths that fill dst and can fire trace
// events meanwhile (a refill, a bulk allocation): if a hook panics, the
// *got objects taken so far go back before the panic goes on.
func (c *Cache) giveBackOnPanic(dst []uintptr, got *int, noblock bool) {
	if r := recover(); r != nil {
		c.giveBack(dst[:*got], noblock)
		clear(dst[:*got])
		panic(r)
	}
}

// giveBack frees objects that a path took and cannot hand over, because
// a trace hook panicked: to the slabs, or with noblock to the deferred
// list.
func (c *Cache) giveBack(objs []uintptr, noblock bool) {
	if !noblock {
		c.freeToSlabs(objs)
		return
	}
	for _, o := range objs {
		c.deferFreelist(o, o, 1, "a refill")
	}
}

// allocFromSlabs takes one object from a partial slab or a new slab
// (ALLOC_SLOWPATH of Linux 7.0): the path for when per-P caching is not
// available (a busy per-P lock, a debug cache).
func (c *Cache) allocFromSlabs(noblock bool) uintptr {
	n := &c.node
	if !n.lock(noblock) {
		return 0
	}
	for s := n.partialHead; s != nil; s = n.partialHead {
		for {
			fl := s.freelist()
			oc := s.counters()
			if fl == 0 {
				break
			}
			next := c.getFP(fl)
			if c.cmpxchg(s, fl, oc, next, oc.withInuse(oc.inuse()+1).next()) {
				if c.random != 0 && next != 0 && !c.validSlot(s, next) {
					n.unlock() // never panic holding list_lock
					c.freelistCorrupt(s, fl, next)
				}
				if next == 0 {
					n.removePartial(s)
				}
				n.unlock()
				c.stat(AllocSlowpath)
				return fl
			}
		}
		// Emptied by a racing refill: it is isolated now.
		n.removePartial(s)
	}
	n.unlock()
	s := c.newSlabTaking(noblock, 1)
	if s == nil {
		return 0
	}
	if !c.registerSlab(s, s.freelist() != 0, noblock) {
		return 0
	}
	c.stat(AllocSlowpath)
	return s.base
}

// slabBacking is the Sheaves design's backing: sheaves refill from and
// flush to the slabs themselves (Linux 7.0).
type slabBacking struct{}

func (slabBacking) allocOne(c *Cache, noblock bool) uintptr { return c.allocFromSlabs(noblock) }

func (slabBacking) freeOne(c *Cache, s *slab, a uintptr, noblock bool) bool {
	op := "Free"
	if noblock {
		op = "FreeNoLock" // the no-lock paths are FreeNoLock's
	}
	return c.freeToSlab(s, a, op, noblock)
}

func (slabBacking) refill(c *Cache, dst []uintptr, min int, noblock bool) int {
	return c.refillObjects(dst, min, noblock)
}

// allocMany is __kmem_cache_alloc_bulk: refill_objects, counted as
// ALLOC_SLOWPATH.
func (slabBacking) allocMany(c *Cache, dst []uintptr) int {
	got := c.refillObjects(dst, len(dst), false)
	c.statAdd(AllocSlowpath, got)
	return got
}

func (slabBacking) flushObjects(c *Cache, objs []uintptr) { c.freeToSlabs(objs) }

// freeMany is slab_free_bulk: to the slabs, counted as FREE_SLOWPATH.
func (slabBacking) freeMany(c *Cache, objs []uintptr) {
	c.freeToSlabs(objs)
	c.statAdd(FreeSlowpath, len(objs))
}
