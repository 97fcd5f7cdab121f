package alloc

import (
	"fmt"
	"runtime"
)

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

// doubleFree panics for an object freed twice (the cheap checks of a
// non-debug cache: already on top of the current sheaf, cpu freelist or
// slab freelist), naming the call that found it. Nothing has changed when
// it runs, and the caller holds no lock.
//
//go:noinline
func (c *Cache) doubleFree(op string, a uintptr) {
	panic(fmt.Sprintf("alloc: %s: %s(%#x): double free (object is already free)", c.name, op, a))
}

// checkAllocated checks that a, for op (Realloc, UsableSize), is an object
// of c that is allocated, before anything changes: a bad pointer panics as
// in Free. Freed memory panics where Free's cheap double-free checks would
// see it (on top of this P's cache, at the head of its slab's freelist or
// of the deferred list); a debug cache, which knows every object's state,
// reports it instead and checkAllocated returns false.
func (c *Cache) checkAllocated(op string, a uintptr) bool {
	s := c.checkObject(op, a)
	if c.isDebug() {
		return c.debugCheckAllocated(op, s, a)
	}
	if a == c.freeTop() || a == s.freelist() || a == c.deferred.head.Load() {
		c.badPointer(op, a, "freed memory (the object is free)")
	}
	return true
}
