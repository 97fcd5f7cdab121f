package alloc

import (
	"fmt"
	"unsafe"
)

// Sheaf is the kernel's slab_sheaf: an array of free objects used as a stack
// (Alloc pops objs[size-1], a free pushes at objs[size]). Objects of any slab
// of the cache may sit in a sheaf. Per-P sheaves are only touched by their
// P's owner under its localLock (or a remote locker); barn sheaves under the
// barn lock; a prefilled Sheaf belongs to its caller.
type Sheaf struct {
	rcu rcuHead // first: an rcu_free sheaf queued for its grace period (rcu_sheaf.go)
	sheafObjs
	cache    *Cache
	next     *Sheaf // barn list link
	oversize bool   // prefilled past the cache's capacity; never cached
	lent     bool   // PrefillSheaf handed it out; ReturnSheaf takes it back
}

// sheafObjs is what a sheaf holds: its array and how many objects are in
// it. A P's main sheaf is a sheafObjs kept in the per-P structure itself, so
// that the fast paths reach the array in one load; making another sheaf the
// main exchanges the two sheafObjs and leaves the Sheaf struct with the old
// main's array (swap).
type sheafObjs struct {
	objs []uintptr // len(objs) is the capacity
	size int
}

func (o *sheafObjs) full() bool { return o.size == len(o.objs) }

// swap exchanges what o and sh hold.
func (o *sheafObjs) swap(sh *Sheaf) { *o, sh.sheafObjs = sh.sheafObjs, *o }

func (c *Cache) newSheaf(capacity int) *Sheaf {
	c.stat(SheafAlloc)
	return &Sheaf{sheafObjs: sheafObjs{objs: make([]uintptr, capacity)}, cache: c}
}

// Alloc pops an object from a prefilled sheaf. It returns nil only when the
// sheaf is empty (Len() == 0).
func (s *Sheaf) Alloc() unsafe.Pointer {
	s.checkLent("Alloc")
	if s.size == 0 {
		return nil
	}
	s.size--
	a := s.objs[s.size]
	s.objs[s.size] = 0
	if s.cache.isDebug() {
		s.cache.debugOnAlloc(a)
	}
	return ptr(a)
}

// Len returns how many objects the sheaf holds.
func (s *Sheaf) Len() int {
	s.checkMade()
	return s.size
}

// Capacity returns how many objects the sheaf can hold.
func (s *Sheaf) Capacity() int {
	s.checkMade()
	return len(s.objs)
}

// checkMade panics for a nil Sheaf or one no cache made (a zero Sheaf{}).
func (s *Sheaf) checkMade() {
	if s == nil || s.cache == nil {
		panic("alloc: a nil or zero Sheaf: get sheaves from Cache.PrefillSheaf")
	}
}

// checkLent panics, for op, unless the caller holds the sheaf: PrefillSheaf
// handed it out and ReturnSheaf has not taken it back (a returned sheaf
// may be a P's spare or in the barn by now, and its objects anyone's).
func (s *Sheaf) checkLent(op string) {
	s.checkMade()
	if !s.lent {
		panic(fmt.Sprintf("alloc: %s: Sheaf.%s of a sheaf that was returned (ReturnSheaf)", s.cache.name, op))
	}
}

// flushSheaf gives every object of sh back to the backing.
func (c *Cache) flushSheaf(sh *sheafObjs) {
	if sh.size == 0 {
		return
	}
	n := sh.size
	c.backing.flushObjects(c, sh.objs[:n])
	sh.size = 0
	c.statAdd(SheafFlush, n)
	c.trace(EventSheafFlush, 0, n)
}

// refillSheaf fills sh up to its capacity from the backing (refill_sheaf),
// taking at least one object; false when not even one could be had.
func (c *Cache) refillSheaf(sh *sheafObjs, noblock bool) bool {
	want := len(sh.objs) - sh.size
	if want == 0 {
		return true
	}
	got := c.backing.refill(c, sh.objs[sh.size:], want, noblock)
	sh.size += got
	c.statAdd(SheafRefill, got)
	if !noblock {
		c.trace(EventSheafRefill, 0, got)
	}
	return got > 0
}
