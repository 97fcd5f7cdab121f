package alloc

import (
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/goslub/slub/asm"
)

// slab is the kernel's struct slab: a run of pages cut into objects of one
// cache. It lives on the Go heap, off the slab, so that an overrun in slab
// memory cannot corrupt it. See doc.go for the slab states.
type slab struct {
	// slot holds the pair (freelist, counters), updated together with the
	// double-word CAS (or under the node's list_lock without one), 16-byte
	// aligned wherever the slot lies (see asm.PairSlot); newSlab asserts it.
	slot asm.PairSlot

	cache  *Cache
	heap   *Heap   // large allocations only
	start  uintptr // first page
	base   uintptr // first object slot
	end    uintptr // past the last object slot
	npages int
	large  int // bytes asked for, large allocations only (0 for slabs)

	// Under the node's list_lock: the partial list links and flag
	// (SL_partial), and the node's list of all slabs.
	next, prev       *slab
	onPartial        bool
	allNext, allPrev *slab

	// Old design: set while the slab is on a cpu partial list; cpuNext links
	// that list and cpuSlabs counts it at the head. Under the P's lock.
	onCPUPartial bool
	cpuNext      *slab
	cpuSlabs     int

	dbg *slabDebug // debug caches: per-object state, see debug.go
}

// The counters word, like the kernel's {inuse:16, objects:15, frozen:1}, plus
// a generation that every update advances so that an unchanged pair means an
// unchanged slab (Validate relies on it; it also rules out ABA).
type counters uint64

const maxObjsPerSlab = 1<<15 - 1

func mkCounters(inuse, objects int, frozen bool, gen uint32) counters {
	c := counters(inuse) | counters(objects)<<16 | counters(gen)<<32
	if frozen {
		c |= 1 << 31
	}
	return c
}

func (c counters) inuse() int     { return int(c & 0xffff) }
func (c counters) objects() int   { return int(c >> 16 & 0x7fff) }
func (c counters) frozen() bool   { return c&(1<<31) != 0 }
func (c counters) gen() uint32    { return uint32(c >> 32) }
func (c counters) free() int      { return c.objects() - c.inuse() }
func (c counters) next() counters { return c + 1<<32 }

func (c counters) withInuse(n int) counters { return c&^0xffff | counters(n) }

func (c counters) withFrozen(f bool) counters {
	if f {
		return c | 1<<31
	}
	return c &^ (1 << 31)
}

// pair returns the (freelist, counters) pair.
func (s *slab) pair() *asm.Pair { return s.slot.Pair() }

func (s *slab) freelist() uintptr       { return uintptr(atomic.LoadUint64(&s.pair().Lo)) }
func (s *slab) counters() counters      { return counters(atomic.LoadUint64(&s.pair().Hi)) }
func (s *slab) contains(a uintptr) bool { return a >= s.base && a < s.end }

// cmpxchg is slab_update_freelist: replace (freelist, counters) if they still
// hold the old values. Lockless caches use the double-word CAS; the others
// hold the node's list_lock, which every reader and writer of the pair of
// such a cache holds too.
func (c *Cache) cmpxchg(s *slab, oldFL uintptr, oldC counters, newFL uintptr, newC counters) bool {
	if c.lockless {
		if asm.CompareAndSwap(s.pair(), uint64(oldFL), uint64(oldC), uint64(newFL), uint64(newC)) {
			return true
		}
		c.stat(CmpxchgDoubleFail)
		return false
	}
	if s.freelist() != oldFL || s.counters() != oldC {
		c.stat(CmpxchgDoubleFail)
		return false
	}
	atomic.StoreUint64(&s.pair().Lo, uint64(newFL))
	atomic.StoreUint64(&s.pair().Hi, uint64(newC))
	return true
}

// Free pointers. An object on a freelist holds the address of the next free
// object at fpOffset; hardened caches store it as ptr ^ random ^ swab(where),
// like CONFIG_SLAB_FREELIST_HARDENED.

func (c *Cache) getFP(obj uintptr) uintptr {
	v := loadWord(obj + c.fpOffset)
	if c.random != 0 {
		v ^= c.random ^ swab(obj+c.fpOffset)
	}
	return v
}

func (c *Cache) setFP(obj, next uintptr) {
	if c.random != 0 {
		next ^= c.random ^ swab(obj+c.fpOffset)
	}
	storeWord(obj+c.fpOffset, next)
}

// swab is the kernel's swab(): the address with its bytes reversed (one
// BSWAP or REV instruction).
func swab(a uintptr) uintptr {
	if ptrBits == 64 {
		return uintptr(bits.ReverseBytes64(uint64(a)))
	}
	return uintptr(bits.ReverseBytes32(uint32(a)))
}

// objIndex returns the index of the slot at offset off from the slab base,
// with a multiply instead of a divide (the kernel's obj_to_index); exact
// for offsets below 1<<recipOffBits.
const (
	recipShift   = 42
	recipOffBits = 21
)

func (c *Cache) objIndex(off uintptr) uintptr {
	return uintptr((uint64(off) * c.recip) >> recipShift)
}

// validSlot reports whether a could be the address of an object slot of
// slab s of this cache.
func (c *Cache) validSlot(s *slab, a uintptr) bool { return s.contains(a) && c.isSlot(a) }

// isSlot reports whether a is at an object slot's offset in a slab of this
// cache's geometry; with the owner of a's page being this cache, that makes
// it an object slot of the cache. A mask for power-of-two slot sizes, else
// a multiply (objIndex).
func (c *Cache) isSlot(a uintptr) bool {
	off := a&c.slabMask - uintptr(c.redLeft) // wraps past slotBytes in the left red zone
	if off >= c.slotBytes {
		return false
	}
	if c.sizeMask != 0 {
		return off&c.sizeMask == 0
	}
	return c.objIndex(off)*uintptr(c.size) == off
}

// newSlab takes pages from the page heap and cuts them into objects, all
// free. It returns nil when the memory limit or the OS says no. With noblock
// it only try-locks and maps memory from the OS without waiting for the
// page heap lock. The slab is on no list yet (see registerSlab).
func (c *Cache) newSlab(noblock bool) *slab { return c.newSlabTaking(noblock, 0) }

// newSlabTaking is newSlab with the first take objects already handed to
// the caller (counted in use, left off the freelist), so that a refill does
// not link objects it takes at once.
func (c *Cache) newSlabTaking(noblock bool, take int) *slab {
	bytes := int64(c.slabPages) * pageSize
	if !c.limit.reserve(bytes) {
		return nil
	}
	s := c.slabStruct(noblock)
	if !asm.Aligned(s.pair()) {
		panic("alloc: slab freelist pair is not 16-byte aligned")
	}
	a := pages.allocPages(c.slabPages, c.slabPages, s, noblock)
	if a == 0 {
		c.recycleSlab(s, noblock)
		c.limit.release(bytes)
		return nil
	}
	s.start = a
	s.base = a + uintptr(c.redLeft)
	s.end = s.base + uintptr(c.objsPerSlab*c.size)
	c.stat(AllocSlab)
	made := false
	defer func() {
		if !made {
			// A constructor or the trace hook panicked: no one has seen
			// the slab, so it goes back as if it had never been made.
			c.releaseSlabPages(s, noblock)
		}
	}()
	if c.isDebug() {
		c.initDebugSlab(s)
	}
	if c.ctor != nil {
		for o := s.base; o < s.end; o += uintptr(c.size) {
			c.ctor(ptr(o))
		}
	}
	first := s.base + uintptr(take*c.size)
	for o := first; o < s.end; o += uintptr(c.size) {
		next := o + uintptr(c.size)
		if next >= s.end {
			next = 0
		}
		c.setFP(o, next)
	}
	if first >= s.end {
		first = 0
	}
	s.pair().Lo = uint64(first)
	s.pair().Hi = uint64(mkCounters(take, c.objsPerSlab, false, 0))
	c.traceSlab(EventNewSlab, s.start, 0)
	made = true
	return s
}

// freeSlabPages gives a slab that is on no list back to the page heap;
// a TypesafeByRCU cache's after a grace period (typesafe.go).
func (c *Cache) freeSlabPages(s *slab) {
	if c.rcu.typesafe {
		c.freeSlabRCU(s)
		return
	}
	c.releaseSlabPages(s, false)
}

// releaseSlabPages gives the pages of a slab that is on no list, and that
// no reader can be looking at, back to the page heap, and its struct to
// the spare structs; with noblock without waiting on a lock.
func (c *Cache) releaseSlabPages(s *slab, noblock bool) {
	if noblock {
		pages.freePagesNoBlock(s.start, s.npages)
	} else {
		pages.freePages(s.start, s.npages)
	}
	c.limit.release(int64(s.npages) * pageSize)
	c.stat(FreeSlab)
	c.recycleSlab(s, noblock)
}

// discardSlab is discard_slab: s, which the cache has taken off its
// lists, goes back (freeSlabPages), and then the slab_free event fires.
// Slab events fire with no lock held and the cache consistent, so that a
// trace hook that panics leaves no lock held and loses nothing.
func (c *Cache) discardSlab(s *slab) {
	start := s.start
	c.freeSlabPages(s)
	c.traceSlab(EventSlabFree, start, 0)
}

// discardSlabs is discardSlab for every slab of a list linked by cpuNext.
// If a trace hook panics, the slabs it has not seen yet still go back.
func (c *Cache) discardSlabs(list *slab) {
	defer func() { c.freeSlabList(list) }() // nil unless a hook panicked
	for list != nil {
		s := list
		list = s.cpuNext
		s.cpuNext = nil
		c.discardSlab(s)
	}
}

// slabStruct returns a slab struct for a new slab of c: one that a freed
// slab left, as the kernel reuses the struct page of a freed slab, else a
// new one; the allocator makes no Go allocation for a slab in steady state.
// Once the page heap has taken back a slab's pages no address leads to its
// struct, and no list holds it, so it can be handed out again.
func (c *Cache) slabStruct(noblock bool) *slab {
	var s *slab
	if c.spareSlabs.lock(noblock) {
		if s = c.spareSlabs.list; s != nil {
			c.spareSlabs.list = s.cpuNext
			c.spareSlabs.n--
		}
		c.spareSlabs.mu.Unlock()
	}
	if s == nil {
		return &slab{cache: c, npages: c.slabPages}
	}
	*s = slab{cache: c, npages: c.slabPages, dbg: s.dbg}
	return s
}

// recycleSlab keeps the struct of a freed slab for slabStruct, up to
// maxSpareSlabs of them (a shrinking cache gives the rest to the garbage
// collector).
func (c *Cache) recycleSlab(s *slab, noblock bool) {
	if !c.spareSlabs.lock(noblock) {
		return
	}
	if c.spareSlabs.n < maxSpareSlabs {
		s.cpuNext = c.spareSlabs.list
		c.spareSlabs.list = s
		c.spareSlabs.n++
	}
	c.spareSlabs.mu.Unlock()
}

// spareSlabs holds the structs of freed slabs; mu is a leaf lock.
type spareSlabs struct {
	mu   sync.Mutex
	list *slab // linked by cpuNext
	n    int
}

func (l *spareSlabs) lock(noblock bool) bool {
	if noblock {
		return l.mu.TryLock()
	}
	l.mu.Lock()
	return true
}

// maxSpareSlabs bounds the slab structs a cache keeps for reuse.
const maxSpareSlabs = 64

// freeSlabList gives back the slabs of a list linked by cpuNext, which are
// on no node list any more.
func (c *Cache) freeSlabList(list *slab) {
	for s := list; s != nil; {
		next := s.cpuNext
		s.cpuNext = nil
		c.freeSlabPages(s)
		s = next
	}
}

// freeNewSlabNoLock gives back a fresh slab that a no-lock path could not
// register (free_new_slab_nolock), without waiting on the page heap lock.
func (c *Cache) freeNewSlabNoLock(s *slab) { c.releaseSlabPages(s, true) }

// badPointer panics for a pointer this cache did not hand out. It runs
// before anything changes.
func (c *Cache) badPointer(op string, a uintptr, why string) {
	panic(fmt.Sprintf("alloc: %s: %s(%#x): %s", c.name, op, a, why))
}

// checkObject returns the slab of object a, or panics naming the cache and
// the address when a is foreign, interior or misaligned.
func (c *Cache) checkObject(op string, a uintptr) *slab {
	c.checkLive() // a destroyed cache has no slabs to look in
	s := lookupSlab(a)
	if s == nil || s.cache != c {
		c.foreign(op, a, s)
	}
	if !c.validSlot(s, a) {
		what := fmt.Sprintf("%d-byte objects", c.objectSize)
		if c.size != c.objectSize {
			what += fmt.Sprintf(" in %d-byte slots", c.size)
		}
		c.badPointer(op, a, fmt.Sprintf("not the start of an object (slab %#x: %s)", s.base, what))
	}
	return s
}

//go:noinline
func (c *Cache) foreign(op string, a uintptr, s *slab) {
	switch {
	case s == nil && lookupArena(a) != nil:
		c.badPointer(op, a, "free memory of the page heap (a double free? the object's slab has been freed)")
	case s == nil:
		c.badPointer(op, a, "not allocated by this allocator")
	case s.cache == nil:
		c.badPointer(op, a, "a large heap allocation, not an object of this cache")
	default:
		c.badPointer(op, a, "belongs to cache "+s.cache.name)
	}
}
