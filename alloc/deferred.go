package alloc

import (
	"fmt"
	"sync/atomic"
)

// The deferred-free list: objects that FreeNoLock could not free at once
// (the kernel's defer_free llist). Pushed lock-free by anyone, drained whole
// by the next slow-path operation, Shrink, Validate or Destroy. Objects on it
// are linked through their free pointers and still count as in use on their
// slabs. Model: alloc/model/deferred.pml (pushes, a hook's included, against
// whole-list drains).
type deferredList struct {
	head atomic.Uintptr
	n    atomic.Int64
}

// deferFreelist pushes the chain head..tail of cnt objects. The count goes
// up before the push, so a drain that takes them at once never makes it
// negative. A chain that starts or ends with the object at the head of the
// list would link that object to itself: it is a double free (the
// kernel's BUG_ON(object == fp) on a hardened free pointer), and panics,
// naming op, before anything changes.
func (c *Cache) deferFreelist(head, tail uintptr, cnt int, op string) {
	c.deferred.n.Add(int64(cnt))
	for {
		old := c.deferred.head.Load()
		if old != 0 && (old == head || old == tail) {
			c.deferred.n.Add(-int64(cnt))
			c.doubleFree(op, old)
		}
		c.setFP(tail, old)
		if c.deferred.head.CompareAndSwap(old, head) {
			return
		}
	}
}

// drainDeferred frees every deferred object to its slab. Each object leaves
// the count before it leaves its slab's inuse, so Stats, which reads the
// count after the slabs, never sees an object in neither.
func (c *Cache) drainDeferred() {
	if err := c.drainDeferredChecked(); err != nil {
		panic(err.Error())
	}
}

// drainDeferredChecked is drainDeferred returning, instead of panicking,
// what it found wrong: an entry that is not an object of this cache (a
// write after free over a deferred object's free pointer), or a list
// longer than the count (a cycle). It frees the objects before that and
// drops the rest, which no pointer reaches any more.
func (c *Cache) drainDeferredChecked() error {
	if c.deferred.head.Load() == 0 {
		return nil
	}
	o := c.deferred.head.Swap(0)
	limit := c.deferred.n.Load() // at least the objects just taken
	cnt := 0
	var err error
	for o != 0 {
		if s := lookupSlab(o); s == nil || s.cache != c || !c.validSlot(s, o) {
			err = fmt.Errorf("alloc: %s: deferred list corrupt: %#x is not an object of the cache (written after free?)", c.name, o)
			break
		}
		if int64(cnt) >= limit {
			err = fmt.Errorf("alloc: %s: deferred list corrupt: longer than its %d objects (a cycle: a double free, or written after free?)", c.name, limit)
			break
		}
		next := c.getFP(o)
		c.deferred.n.Add(-1)
		c.freeDeferredObject(o)
		cnt++
		o = next
	}
	c.statAdd(DeferredDrain, cnt)
	c.trace(EventDeferredDrain, 0, cnt)
	return err
}

// freeDeferredObject frees one drained object to its slab.
func (c *Cache) freeDeferredObject(o uintptr) {
	s := lookupSlab(o)
	if c.isDebug() {
		c.debugFreeDeferred(s, o)
		return
	}
	c.slabFree(s, o, o, 1, false)
}
