package alloc

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The page heap: off-heap memory shared by all caches, in pages of pageSize.
// See doc.go for where it sits.
//
// Memory comes from the OS in chunks of chunkSize bytes (larger requests get a
// chunk of their own, rounded up to chunkSize), aligned to chunkSize, and is
// never unmapped: the old design's fast path may read the free pointer of an
// object it then fails to take, so slab memory must stay readable while the
// process lives. Free pages go back to the OS with madvise (ReleaseFree,
// Shrink) and read as zeros afterwards.
//
// Address to slab is two dependent loads: arenaTable, a flat table with one
// word per arenaSize-aligned region of the address space, names the arena
// that holds an address, and the arena's owner array holds, for each page,
// the cache and the slab (or large allocation) that own it, like the
// kernel's page array maps a page to its struct slab and slab_cache. Free
// checks a pointer with the cache from there and the cache's own geometry
// (slabs are aligned to their size), without a third load.

const (
	pageShift = 12
	pageSize  = 1 << pageShift

	ptrBits    = 32 << (^uintptr(0) >> 63)
	chunkShift = 22 + 4*(ptrBits/32-1) // 64 MiB chunks on 64-bit, 4 MiB on 32-bit
	chunkSize  = 1 << chunkShift
	addrBits   = 48 - 16*(2-ptrBits/32) // user address space: 48 bits, or 32

	arenaShift = chunkShift // an arena is one chunk-sized, chunk-aligned region
	arenaSize  = 1 << arenaShift
	arenaPages = arenaSize / pageSize
	arenaCount = 1 << (addrBits - arenaShift)
)

// arena is the owner array of one arenaSize-aligned region of mapped memory.
// Written under pages.mu when pages are handed out or taken back, read
// without a lock by address lookups. On 64-bit it is 256 KiB of Go memory per
// 64 MiB mapped.
type arena struct {
	owner [arenaPages]ownerEntry
	chunk *chunk // the mapping the region belongs to
	first int    // index in chunk of the region's first page
}

// ownerEntry is what owns one page: a slab of cache (cache and slab set), a
// large allocation (slab set, cache nil), or nothing. A taker stores slab
// before cache and a freer clears cache before slab, so a reader that finds
// the cache set finds a slab set too.
type ownerEntry struct {
	cache atomic.Pointer[Cache]
	slab  atomic.Pointer[slab]
}

// arenaTable maps addr >> arenaShift to the *arena of that region, stored as
// a uintptr so that the garbage collector need not scan the table (every
// arena is also kept in pages.arenas, and Go does not move heap objects).
// It is zeroed data (bss) at a fixed address: only its touched pages take
// memory (32 MiB of address space on 64-bit, 4 KiB on 32-bit).
var arenaTable [arenaCount]uintptr

// chunk is one mapping from the OS.
type chunk struct {
	base   uintptr
	npages int
	arenas []*arena // the arenas that cover the chunk, in address order
	// free and dirty are bitmaps under pages.mu: page free; page free and
	// possibly resident (not released since it was last used).
	free, dirty []uint64
	nfree       int
	hint        int // no free page below this index
}

// entry returns the owner entry of page i of ch.
func (ch *chunk) entry(i int) *ownerEntry {
	return &ch.arenas[i/arenaPages].owner[i%arenaPages]
}

// pageHeap is the process-wide page allocator.
type pageHeap struct {
	mu     sync.Mutex // protects chunks, arenas and every chunk's bitmaps
	chunks []*chunk
	arenas []*arena // every arena of arenaTable, which keeps them alive

	// Page runs no-lock callers freed while mu was busy; freed by the next
	// holder of mu.
	pending atomic.Pointer[pendingRun]

	// Mappings a no-lock caller made but could not register because mu was
	// busy; the next grow uses them.
	orphans sync.Mutex
	orphan  [][2]uintptr

	mapped       atomic.Int64 // bytes mapped from the OS
	inUse        atomic.Int64 // bytes of pages handed out
	freeResident atomic.Int64 // bytes of free pages not yet released
	released     atomic.Int64 // bytes given back to the OS, cumulative
}

var pages pageHeap

// PageStats describes the process-wide page heap, in bytes.
type PageStats struct {
	Mapped   int64 // address space mapped from the OS (never shrinks)
	InUse    int64 // pages held by slabs and large allocations
	Resident int64 // InUse plus free pages not yet given back: what the OS may have to back
	Released int64 // given back to the OS with madvise since the start, cumulative
}

// ReadPageStats returns the page heap's counters.
func ReadPageStats() PageStats {
	inUse := pages.inUse.Load()
	return PageStats{
		Mapped:   pages.mapped.Load(),
		InUse:    inUse,
		Resident: inUse + pages.freeResident.Load(),
		Released: pages.released.Load(),
	}
}

// ReleaseFree gives every free page back to the OS and returns how many
// bytes it released. Cache.Shrink and Heap.Shrink call it.
func ReleaseFree() int64 {
	pages.mu.Lock()
	defer pages.mu.Unlock()
	pages.drainPending()
	var n int64
	for _, ch := range pages.chunks {
		for i := 0; i < ch.npages; {
			i = nextSet(ch.dirty, ch.npages, i)
			if i < 0 {
				break
			}
			j := i
			for j < ch.npages && testBit(ch.dirty, j) {
				j++
			}
			sysRelease(ch.base+uintptr(i)*pageSize, uintptr(j-i)*pageSize)
			clearBits(ch.dirty, i, j-i)
			n += int64(j-i) * pageSize
			i = j
		}
	}
	pages.freeResident.Add(-n)
	pages.released.Add(n)
	return n
}

// allocPages hands out n contiguous pages owned by s, starting at a multiple
// of align pages (a power of two), or returns 0. With noblock it only
// try-locks, and when it must map memory from the OS it does so without
// holding the lock (kmalloc_nolock may take new pages, never wait).
func (h *pageHeap) allocPages(n, align int, s *slab, noblock bool) uintptr {
	if noblock {
		if !h.mu.TryLock() {
			return 0
		}
	} else {
		h.mu.Lock()
	}
	h.drainPending()
	if a := h.findPages(n, align, s); a != 0 {
		h.mu.Unlock()
		return a
	}
	if !noblock {
		defer h.mu.Unlock()
		ch, err := h.grow(n)
		if err != nil {
			return 0
		}
		return h.take(ch, 0, n, s)
	}
	h.mu.Unlock()
	size := chunkBytes(n)
	base, err := sysReserve(size, chunkSize)
	if err != nil {
		return 0
	}
	if !h.mu.TryLock() {
		// Keep the mapping for whoever grows the heap next (or, if even
		// that lock is busy, leave it: untouched address space costs no
		// memory).
		if h.orphans.TryLock() {
			h.orphan = append(h.orphan, [2]uintptr{base, size})
			h.orphans.Unlock()
		}
		return 0
	}
	defer h.mu.Unlock()
	return h.take(h.register(base, size), 0, n, s)
}

// findPages looks for a free run in the chunks. h.mu is held.
func (h *pageHeap) findPages(n, align int, s *slab) uintptr {
	for _, ch := range h.chunks {
		if ch.nfree < n {
			continue
		}
		if i := findRun(ch.free, ch.npages, n, align, ch.hint); i >= 0 {
			return h.take(ch, i, n, s)
		}
	}
	return 0
}

func chunkBytes(n int) uintptr {
	return (uintptr(n)*pageSize + chunkSize - 1) &^ (chunkSize - 1)
}

// take marks pages [i, i+n) of ch as owned by s.
func (h *pageHeap) take(ch *chunk, i, n int, s *slab) uintptr {
	dirty := countBits(ch.dirty, i, n)
	clearBits(ch.free, i, n)
	clearBits(ch.dirty, i, n)
	ch.nfree -= n
	if i == ch.hint {
		ch.hint = i + n
	}
	var c *Cache
	if s != nil {
		c = s.cache
	}
	for k := i; k < i+n; k++ {
		e := ch.entry(k)
		e.slab.Store(s)
		e.cache.Store(c)
	}
	h.freeResident.Add(-int64(dirty) * pageSize)
	h.inUse.Add(int64(n) * pageSize)
	return ch.base + uintptr(i)*pageSize
}

// freePages takes back the n pages at a. The memory stays resident until
// ReleaseFree.
func (h *pageHeap) freePages(a uintptr, n int) {
	h.mu.Lock()
	h.drainPending()
	h.freeLocked(a, n)
	h.mu.Unlock()
}

// pendingRun is a page run freed while h.mu was busy.
type pendingRun struct {
	a    uintptr
	n    int
	next *pendingRun
}

// freePagesNoBlock is freePages for the no-lock paths: when h.mu is busy
// the run waits on a lock-free list for the next holder of h.mu. Its pages
// stop belonging to their slab at once.
func (h *pageHeap) freePagesNoBlock(a uintptr, n int) {
	if h.mu.TryLock() {
		h.freeLocked(a, n)
		h.mu.Unlock()
		return
	}
	ch, i := lookupPage(a)
	ch.disown(i, n)
	r := &pendingRun{a: a, n: n}
	for {
		r.next = h.pending.Load()
		if h.pending.CompareAndSwap(r.next, r) {
			return
		}
	}
}

// drainPending frees the runs of freePagesNoBlock. h.mu is held.
func (h *pageHeap) drainPending() {
	if h.pending.Load() == nil {
		return
	}
	for r := h.pending.Swap(nil); r != nil; r = r.next {
		h.freeLocked(r.a, r.n)
	}
}

// disown clears the owner entries of pages [i, i+n) of ch.
func (ch *chunk) disown(i, n int) {
	for k := i; k < i+n; k++ {
		e := ch.entry(k)
		e.cache.Store(nil)
		e.slab.Store(nil)
	}
}

// freeLocked marks the n pages at a free. h.mu is held.
func (h *pageHeap) freeLocked(a uintptr, n int) {
	ch, i := lookupPage(a)
	ch.disown(i, n)
	setBits(ch.free, i, n)
	setBits(ch.dirty, i, n)
	ch.nfree += n
	if i < ch.hint {
		ch.hint = i
	}
	h.inUse.Add(-int64(n) * pageSize)
	h.freeResident.Add(int64(n) * pageSize)
}

// grow maps a chunk big enough for n pages and registers it. h.mu is held.
func (h *pageHeap) grow(n int) (*chunk, error) {
	size := chunkBytes(n)
	h.orphans.Lock()
	for i, o := range h.orphan {
		if o[1] >= size {
			h.orphan = append(h.orphan[:i], h.orphan[i+1:]...)
			h.orphans.Unlock()
			return h.register(o[0], o[1]), nil
		}
	}
	h.orphans.Unlock()
	base, err := sysReserve(size, chunkSize)
	if err != nil {
		return nil, err
	}
	return h.register(base, size), nil
}

// register adds a mapping of size bytes at base as a chunk. h.mu is held.
func (h *pageHeap) register(base, size uintptr) *chunk {
	if uint64(base)>>addrBits != 0 || uint64(base+size-1)>>addrBits != 0 {
		panic("alloc: the OS mapped memory above the supported address range")
	}
	np := int(size / pageSize)
	words := (np + 63) / 64
	ch := &chunk{
		base:   base,
		npages: np,
		free:   make([]uint64, words),
		dirty:  make([]uint64, words),
		nfree:  np,
	}
	setBits(ch.free, 0, np)
	for a := base; a < base+size; a += arenaSize {
		ar := &arena{chunk: ch, first: int((a - base) / pageSize)}
		ch.arenas = append(ch.arenas, ar)
		h.arenas = append(h.arenas, ar)
		atomic.StoreUintptr(&arenaTable[a>>arenaShift], uintptr(unsafe.Pointer(ar)))
	}
	h.chunks = append(h.chunks, ch)
	h.mapped.Add(int64(size))
	return ch
}

// lookupArena returns the arena that holds address a, or nil.
func lookupArena(a uintptr) *arena {
	i := a >> arenaShift
	if i >= arenaCount { // never true on 32-bit platforms
		return nil
	}
	return (*arena)(ptr(atomic.LoadUintptr(&arenaTable[i])))
}

// lookupOwner returns the owner entry of the page that holds address a, or
// nil when a is not in memory the page heap mapped.
func lookupOwner(a uintptr) *ownerEntry {
	ar := lookupArena(a)
	if ar == nil {
		return nil
	}
	return &ar.owner[(a>>pageShift)&(arenaPages-1)]
}

// lookupPage returns the chunk that holds address a, which must be mapped,
// and the index of a's page in it.
func lookupPage(a uintptr) (*chunk, int) {
	ar := lookupArena(a)
	return ar.chunk, ar.first + int((a>>pageShift)&(arenaPages-1))
}

// lookupSlab returns the slab (or large allocation) that address a belongs
// to, or nil when a is not in memory the page heap handed out.
func lookupSlab(a uintptr) *slab {
	if e := lookupOwner(a); e != nil {
		return e.slab.Load()
	}
	return nil
}

// Bitmap helpers.

func testBit(bm []uint64, i int) bool { return bm[i>>6]&(1<<(i&63)) != 0 }

func setBits(bm []uint64, i, n int) {
	for k := i; k < i+n; k++ {
		bm[k>>6] |= 1 << (k & 63)
	}
}

func clearBits(bm []uint64, i, n int) {
	for k := i; k < i+n; k++ {
		bm[k>>6] &^= 1 << (k & 63)
	}
}

func countBits(bm []uint64, i, n int) int {
	c := 0
	for k := i; k < i+n; k++ {
		if testBit(bm, k) {
			c++
		}
	}
	return c
}

// nextSet returns the first set bit at or after i, or -1.
func nextSet(bm []uint64, total, i int) int {
	for i < total {
		w := bm[i>>6] >> (i & 63)
		if w != 0 {
			i += bits.TrailingZeros64(w)
			if i < total {
				return i
			}
			return -1
		}
		i = (i | 63) + 1
	}
	return -1
}

// findRun returns the first index at or after start, a multiple of align,
// where n consecutive bits are set, or -1.
func findRun(bm []uint64, total, n, align, start int) int {
	if align > 1 {
		for i := (start + align - 1) &^ (align - 1); i+n <= total; i += align {
			if countBits(bm, i, n) == n {
				return i
			}
		}
		return -1
	}
	run, runStart := 0, 0
	for i := start; i < total; {
		w := bm[i>>6] >> (i & 63)
		if w == 0 {
			run = 0
			i = (i | 63) + 1
			continue
		}
		if w&1 == 0 {
			run = 0
			i += bits.TrailingZeros64(w)
			continue
		}
		ones := bits.TrailingZeros64(^w)
		if run == 0 {
			runStart = i
		}
		run += ones
		i += ones
		if run >= n {
			return runStart
		}
	}
	return -1
}
