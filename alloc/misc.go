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
