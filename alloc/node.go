package alloc

import (
	"sync"
)

// node is the kernel's kmem_cache_node. Go cannot map a P to a NUMA node, so
// a cache has one. See doc.go for the lock order.
type node struct {
	// listLock protects the partial list, the all-slabs list, each slab's
	// onPartial flag and list links, and nrPartial. On caches without the
	// double-word CAS (and debug caches) it also protects every slab's
	// (freelist, counters) pair.
	listLock sync.Mutex

	partialHead, partialTail *slab
	nrPartial                int
	all                      *slab // every slab of the cache, linked by allNext
	nrSlabs                  int
	minPartial               int // empty slabs kept on the partial list
}

func (n *node) lock(noblock bool) bool {
	if noblock {
		return n.listLock.TryLock()
	}
	n.listLock.Lock()
	return true
}

func (n *node) unlock() { n.listLock.Unlock() }

func (n *node) slabCount() int {
	n.lock(false)
	defer n.unlock()
	return n.nrSlabs
}

func (n *node) partialCount() int {
	n.lock(false)
	defer n.unlock()
	return n.nrPartial
}

// addPartial puts s on the partial list, at the tail or the head.
func (n *node) addPartial(s *slab, tail bool) {
	s.onPartial = true
	n.nrPartial++
	if n.partialHead == nil {
		s.next, s.prev = nil, nil
		n.partialHead, n.partialTail = s, s
		return
	}
	if tail {
		s.prev, s.next = n.partialTail, nil
		n.partialTail.next = s
		n.partialTail = s
	} else {
		s.next, s.prev = n.partialHead, nil
		n.partialHead.prev = s
		n.partialHead = s
	}
}

func (n *node) removePartial(s *slab) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		n.partialHead = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		n.partialTail = s.prev
	}
	s.next, s.prev = nil, nil
	s.onPartial = false
	n.nrPartial--
}

// addSlab and removeSlab keep the list of all slabs (for Validate, Stats,
// Destroy and the debug full-slab checks).
func (n *node) addSlab(s *slab) {
	s.allPrev = nil
	s.allNext = n.all
	if n.all != nil {
		n.all.allPrev = s
	}
	n.all = s
	n.nrSlabs++
}

func (n *node) removeSlab(s *slab) {
	if s.allPrev != nil {
		s.allPrev.allNext = s.allNext
	} else {
		n.all = s.allNext
	}
	if s.allNext != nil {
		s.allNext.allPrev = s.allPrev
	}
	s.allNext, s.allPrev = nil, nil
	n.nrSlabs--
}

// slabFree is the kernel's __slab_free: put the cnt objects head..tail (linked
// through their free pointers) back on slab s. The update is lockless unless
// the slab changes list: from full to partial, or to empty. With noblock
// every lock is try-locked, and false means nothing changed.
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
		// Old design: a full slab that gets a free object goes to this P's
		// cpu partial list (put_cpu_partial), not to the node.
		toCPUPartial = wasFull && !empty && c.cpuPartialSlabs > 0
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
	if empty && n.nrPartial >= n.minPartial && (s.onPartial || wasFull) {
		if s.onPartial {
			n.removePartial(s)
			c.stat(FreeRemovePartial)
		}
		n.removeSlab(s)
		c.trace(EventSlabFree, s, 0)
		n.unlock()
		c.freeSlabPages(s)
		return true
	}
	if wasFull && !s.onPartial {
		n.addPartial(s, true)
		c.stat(FreeAddPartial)
	}
	n.unlock()
	return true
}

// freeToSlab frees one object to its slab (FREE_SLOWPATH).
func (c *Cache) freeToSlab(s *slab, a uintptr, noblock bool) bool {
	if !c.slabFree(s, a, a, 1, noblock) {
		return false
	}
	c.stat(FreeSlowpath)
	return true
}

// freeToSlabs flushes objects to their slabs in batches, one update per
// detached freelist (see detachedFreelist). It zeroes objs.
func (c *Cache) freeToSlabs(objs []uintptr) {
	for i := len(objs) - 1; i >= 0; i-- {
		if objs[i] != 0 {
			s, head, tail, cnt := c.detachedFreelist(objs, i)
			c.slabFree(s, head, tail, cnt, false)
		}
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
	// Detach partial slabs until their free objects reach min without going
	// past max (get_partial_node_bulk).
	type detachedSlab struct {
		s  *slab
		fl uintptr
	}
	var buf [8]detachedSlab
	detached := buf[:0]
	free := 0
	for s := n.partialHead; s != nil && free < min; {
		cnt := s.counters().free()
		if free > 0 && free+cnt > max {
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
				c.deferFreelist(fl, tail, cnt)
			}
		}
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
		c.publishSlab(s, k < c.objsPerSlab)
	}
	return got
}

// publishSlab registers a new slab with the node, on the partial list when
// it has free objects left.
func (c *Cache) publishSlab(s *slab, partial bool) {
	n := &c.node
	n.lock(false)
	n.addSlab(s)
	if partial {
		n.addPartial(s, false)
	}
	c.trace(EventNewSlab, s, 0)
	n.unlock()
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
				if c.random != 0 {
					c.checkNextFree(s, fl, next)
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
	a := s.base
	next := s.freelist()
	if noblock {
		if !n.lock(true) {
			// Cannot register it now: give the fresh slab back
			// (free_new_slab_nolock).
			c.freeNewSlabNoLock(s)
			return 0
		}
		n.addSlab(s)
		if next != 0 {
			n.addPartial(s, false)
		}
		c.trace(EventNewSlab, s, 0)
		n.unlock()
	} else {
		c.publishSlab(s, next != 0)
	}
	c.stat(AllocSlowpath)
	return a
}
