package alloc

import (
	"math/bits"
	"sync"
	"sync/atomic"
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

	// slabHooks counts the slab-event trace hooks running (traceSlab):
	// meanwhile list_lock is busy to every try-lock.
	slabHooks atomic.Int32
}

// minPartialFor is the kernel's min_partial for objects of size bytes:
// clamp(ilog2(size)/2, 5, 10) empty slabs stay on the partial list.
func minPartialFor(size int) int { return min(max((bits.Len(uint(size))-1)/2, 5), 10) }

// overMinPartial reports whether an empty slab should go back to the page
// heap rather than stay on the partial list: the node already keeps
// min_partial slabs there. list_lock is held.
func (n *node) overMinPartial() bool { return n.nrPartial >= n.minPartial }

func (n *node) lock(noblock bool) bool {
	if noblock {
		return n.slabHooks.Load() == 0 && n.listLock.TryLock()
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

// registerSlab adds a new slab to the node's list of all slabs, and to the
// head of the partial list when partial (inc_slabs_node, add_partial). With
// noblock it only tries list_lock; when that fails it gives the fresh slab
// back (free_new_slab_nolock) and returns false.
func (c *Cache) registerSlab(s *slab, partial, noblock bool) bool {
	if !c.lockForNewSlab(s, noblock) {
		return false
	}
	c.registerSlabLocked(s, partial)
	c.node.unlock()
	return true
}

// lockForNewSlab takes list_lock to register the new slab s; with noblock
// it only tries, and when that fails gives s back (free_new_slab_nolock).
func (c *Cache) lockForNewSlab(s *slab, noblock bool) bool {
	if !c.node.lock(noblock) {
		c.freeNewSlabNoLock(s)
		return false
	}
	return true
}

// registerSlabLocked is registerSlab with list_lock held.
func (c *Cache) registerSlabLocked(s *slab, partial bool) {
	n := &c.node
	n.addSlab(s)
	if partial {
		n.addPartial(s, false)
	}
}
