package alloc

// Hardened freelists outside debug caches. Unless Config.PlainFreelist is
// set, each free pointer is stored as ptr ^ random ^ swab(where) (getFP and
// setFP in slab.go), so that a stray write over a free object decodes to an
// address nobody chose. The slow paths that walk slab freelists then check that what they
// decoded is an object of the same slab before they follow it or hand it
// out; the per-P fast paths never do (sheaves do not read free pointers at
// all). Debug caches check every pointer they follow, hardened or not (see
// debug_check.go).

import "fmt"

// checkNextFree panics unless next, decoded from the free pointer of object
// obj of slab s, is 0 or an object of s (check_valid_pointer). Only
// hardened caches call it.
func (c *Cache) checkNextFree(s *slab, obj, next uintptr) {
	if next != 0 && !c.validSlot(s, next) {
		c.freelistCorrupt(s, obj, next)
	}
}

//go:noinline
func (c *Cache) freelistCorrupt(s *slab, obj, next uintptr) {
	panic(fmt.Sprintf("alloc: %s: freelist corrupt: free object %#x of slab %#x has free pointer %#x, not an object of the slab (written after free?)",
		c.name, obj, s.start, next))
}

// freelistCycle panics for a slab freelist longer than the slab: a cycle
// made by a write after free.
//
//go:noinline
func (c *Cache) freelistCycle(s *slab) {
	panic(fmt.Sprintf("alloc: %s: freelist corrupt: the freelist of slab %#x is longer than its %d objects (a cycle; written after free?)",
		c.name, s.start, c.objsPerSlab))
}
