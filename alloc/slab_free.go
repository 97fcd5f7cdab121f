package alloc

// Freeing to slabs, shared by every design: __slab_free and the helpers that
// build and walk the chains it takes. See doc.go for the slab states.
// Model: alloc/model/slabfree.pml (slabFree with its speculative list_lock,
// takeFreelist, with and without the double-word CAS).

// slabFree is the kernel's __slab_free: put the cnt objects head..tail (linked
// through their free pointers) back on slab s. The update is lockless unless
// the slab changes list: from full to partial, or to empty. With noblock
// every lock is try-locked, and false means nothing changed.
//
// In the designs with cpu slabs a full slab that gets objects back goes to
// this P's cpu partial list instead (put_cpu_partial), even when the free
// empties it at once, and a free into a frozen (cpu) slab is lock-free
// (FREE_FROZEN).
func (c *Cache) slabFree(s *slab, head, tail uintptr, cnt int, noblock bool) bool {
	n := &c.node
	var (
		oldC, newC     counters
		wasFull, empty bool
		toCPUPartial   bool
		locked         bool
	)
	for {
		oldFL := s.freelist()
		oldC = s.counters()
		c.setFP(tail, oldFL)
		newC = oldC.withInuse(oldC.inuse() - cnt).next()
		wasFull = oldFL == 0 && !oldC.frozen()
		empty = newC.inuse() == 0
		toCPUPartial = wasFull && c.cpuPartialSlabs > 0
		switch {
		case !c.lockless:
			locked = true
		case oldC.frozen(), toCPUPartial:
			locked = false
		default:
			locked = wasFull || empty
		}
		if locked && !n.lock(noblock) {
			return false
		}
		if c.cmpxchg(s, oldFL, oldC, head, newC) {
			break
		}
		if locked {
			n.unlock()
		}
	}
	if !locked || oldC.frozen() || toCPUPartial {
		if locked {
			n.unlock()
		}
		switch {
		case oldC.frozen():
			c.stat(FreeFrozen)
		case toCPUPartial:
			c.putCPUPartial(s)
			c.stat(CPUPartialFree)
		}
		return true
	}
	if empty && n.overMinPartial() && (s.onPartial || wasFull) {
		if s.onPartial {
			n.removePartial(s)
			c.stat(FreeRemovePartial)
		}
		n.removeSlab(s)
		n.unlock()
		c.discardSlab(s)
		return true
	}
	if wasFull && !s.onPartial {
		n.addPartial(s, true)
		c.stat(FreeAddPartial)
	}
	n.unlock()
	return true
}

// freeToSlab frees one object, which the caller op (Free or FreeNoLock)
// was given, to its slab (FREE_SLOWPATH). An object already at the head of
// the slab's freelist or of the deferred list (FreeNoLock freed it) is a
// double free: it panics before anything changes.
func (c *Cache) freeToSlab(s *slab, a uintptr, op string, noblock bool) bool {
	if s.freelist() == a || c.deferred.head.Load() == a {
		c.doubleFree(op, a)
	}
	if !c.slabFree(s, a, a, 1, noblock) {
		return false
	}
	c.stat(FreeSlowpath)
	return true
}

// freeToSlabs frees objects to their slabs in batches, one update per
// detached freelist (see detachedFreelist). It zeroes objs.
func (c *Cache) freeToSlabs(objs []uintptr) {
	if c.hook != nil {
		defer c.freeRestOnPanic(objs)
	}
	for i := len(objs) - 1; i >= 0; i-- {
		if objs[i] != 0 {
			s, head, tail, cnt := c.detachedFreelist(objs, i)
			c.slabFree(s, head, tail, cnt, false)
		}
	}
}

// freeRestOnPanic is deferred by the loops that free objs from the last
// entry down, zeroing each entry as its object is freed: if a trace hook
// panics (at slab_free), the objects not yet freed go to their slabs before
// the panic goes on, so that nothing is lost.
func (c *Cache) freeRestOnPanic(objs []uintptr) {
	if r := recover(); r != nil {
		c.freeToSlabs(objs)
		panic(r)
	}
}

// detachedFreelist is the kernel's build_detached_freelist: it takes
// objs[i] and the objects of the same slab before it, looking past up to
// three objects of other slabs, links them through their free pointers and
// zeroes their entries. It returns the slab and the list head..tail of cnt
// objects.
func (c *Cache) detachedFreelist(objs []uintptr, i int) (s *slab, head, tail uintptr, cnt int) {
	tail = objs[i]
	objs[i] = 0
	s = lookupSlab(tail)
	head, cnt = tail, 1
	misses := 0
	for j := i - 1; j >= 0 && misses < 3; j-- {
		b := objs[j]
		if b == 0 {
			continue
		}
		if s.contains(b) {
			c.setFP(b, head)
			head = b
			cnt++
			objs[j] = 0
		} else {
			misses++
		}
	}
	return s, head, tail, cnt
}

// chainEnd walks a freelist chain of slab s from head and returns its last
// object and its length (0, 0 for an empty chain). Hardened free pointers
// are checked, and a chain longer than the slab (a cycle) panics.
func (c *Cache) chainEnd(s *slab, head uintptr) (tail uintptr, n int) {
	for o := head; o != 0; o = c.getFP(o) {
		if c.random != 0 && n > 0 {
			c.checkNextFree(s, tail, o)
		}
		tail = o
		if n++; n > c.objsPerSlab {
			c.freelistCycle(s)
		}
	}
	return tail, n
}

// takeFreelist detaches the whole freelist of s (the kernel's
// get_freelist_nofreeze): the slab then counts every object as in use.
// Lockless caches may call it without list_lock, others must hold it.
func (c *Cache) takeFreelist(s *slab) uintptr {
	for {
		fl := s.freelist()
		oc := s.counters()
		if fl == 0 {
			return 0
		}
		if c.cmpxchg(s, fl, oc, 0, oc.withInuse(oc.objects()).next()) {
			return fl
		}
	}
}
