package alloc

import (
	"fmt"
	"math/bits"
	"unsafe"
)

// ByteAllocator is a view of a Heap that hands out byte slices aligned to a
// fixed power of two. Its method set is that of Apache Arrow's
// memory.Allocator, so an Arrow program can allocate its buffers off the Go
// heap with it (wrapped in memory.NewCheckedAllocator to find leaks), and
// this package needs no Arrow import:
//
//	mem := memory.NewCheckedAllocator(heap.ByteAllocator(64))
//
// The memory is not scanned by the garbage collector: store no Go pointers
// in it, and use no slice after freeing it. All methods are safe for
// concurrent use.
type ByteAllocator struct {
	h     *Heap
	align int
}

// ByteAllocator returns a view of h whose slices start at a multiple of
// align bytes, a power of two from 1 to 4096 (a page); Arrow wants 64. The
// alignment holds in every configuration, debug heaps included: where the
// size class that would hold a request does not keep its objects aligned
// (kmalloc-96 and kmalloc-192, and every class whose red zone shifts its
// objects), the next class that does serves it. ByteAllocator panics for
// any other align.
func (h *Heap) ByteAllocator(align int) *ByteAllocator {
	h.checkMade()
	if align < 1 || align > pageSize || align&(align-1) != 0 {
		panic(fmt.Sprintf("alloc: kmalloc: ByteAllocator(%d): the alignment must be a power of two from 1 to %d", align, pageSize))
	}
	return &ByteAllocator{h: h, align: align}
}

// Align returns the alignment of the allocator's slices.
func (a *ByteAllocator) Align() int { return a.align }

// Allocate returns size zeroed bytes: len and cap are size. Allocate(0)
// returns an empty slice that is not nil (its pointer is the heap's
// zero-size pointer, which must not be dereferenced) and that Free accepts.
// Like Arrow's own allocators it panics when memory is exhausted or the
// heap's MemoryLimit is reached, with an error that errors.Is matches to
// ErrOutOfMemory or ErrMemoryLimit and whose message names the heap, the
// size and the limit; a negative size panics as well.
func (a *ByteAllocator) Allocate(size int) []byte {
	switch {
	case size < 0:
		panic(fmt.Sprintf("alloc: kmalloc: ByteAllocator.Allocate(%d): negative size", size))
	case size == 0:
		return unsafe.Slice((*byte)(ptr(zeroSize())), 0)
	}
	p, kind := a.h.mallocAligned(size, a.align)
	if p == nil {
		a.outOfMemory("Allocate", size, kind)
	}
	b := unsafe.Slice((*byte)(p), size)
	clear(b)
	return b
}

// Reallocate resizes b, a slice this allocator returned (or nil), to size
// bytes and returns the new slice: the first min(len(b), size) bytes are
// kept and the rest is zeroed. It resizes in place when b's size class (or
// run of pages) has room, as Heap.Realloc does, else it moves the bytes and
// frees b. Reallocate with size 0 frees b and returns what Allocate(0)
// does. It panics as Allocate does when memory is exhausted, leaving b
// valid, and as Free does for a slice the heap did not hand out or freed
// (a debug heap reports a freed b and returns new memory, leaving b alone).
func (a *ByteAllocator) Reallocate(size int, b []byte) []byte {
	p := unsafe.Pointer(unsafe.SliceData(b))
	switch {
	case size < 0:
		panic(fmt.Sprintf("alloc: kmalloc: ByteAllocator.Reallocate(%d): negative size", size))
	case p == nil || uintptr(p) == zeroSize():
		return a.Allocate(size)
	case size == 0:
		a.h.Free(p)
		return a.Allocate(0)
	}
	keep := len(b)
	old, ok, live := a.h.resizeInPlace("ByteAllocator.Reallocate", uintptr(p), size)
	if !live {
		return a.Allocate(size) // a debug heap reported b as freed: leave it
	}
	if !ok {
		q, kind := a.h.mallocAligned(size, a.align)
		if q == nil {
			a.outOfMemory("Reallocate", size, kind)
		}
		keep = min(keep, old, size)
		copy(unsafe.Slice((*byte)(q), keep), b[:keep])
		a.h.Free(p)
		p = q
	}
	nb := unsafe.Slice((*byte)(p), size)
	if size > keep {
		clear(nb[keep:])
	}
	return nb
}

// Free frees b, a slice this allocator returned; b must start where it
// started (its length does not matter). A nil or empty slice from
// Allocate(0) is a no-op. Freeing anything else panics as Heap.Free does,
// naming the heap and the address, before anything changes.
func (a *ByteAllocator) Free(b []byte) {
	a.h.Free(unsafe.Pointer(unsafe.SliceData(b)))
}

func (a *ByteAllocator) outOfMemory(op string, size int, kind error) {
	l := a.h.limit
	if kind == ErrMemoryLimit {
		panic(errorOf(kind, "alloc: kmalloc: ByteAllocator.%s(%d): out of memory: the heap's MemoryLimit is %d bytes and %d are in use", op, size, l.max, l.used.Load()))
	}
	panic(errorOf(kind, "alloc: kmalloc: ByteAllocator.%s(%d): out of memory (the heap holds %d bytes of slab memory)", op, size, l.used.Load()))
}

// mallocAligned is Malloc with the object aligned to align, a power of two
// up to a page. Large allocations are whole pages; a size class serves
// sizes up to KmallocMaxCacheSize only if it keeps its objects aligned,
// else the next class that does. On failure it also returns why.
func (h *Heap) mallocAligned(size, align int) (unsafe.Pointer, error) {
	if size > KmallocMaxCacheSize {
		if p := ptr(h.mallocLarge(size)); p != nil {
			return p, nil
		}
		return nil, h.noMemory(size)
	}
	for i := kmallocIndex(size); ; i++ {
		c := h.caches[i]
		if c.objectAlign() < align {
			continue // kmalloc-4096 is page-aligned, so the loop ends
		}
		var p unsafe.Pointer
		if c.isDebug() {
			p = c.debugMalloc(size)
		} else {
			p = c.Alloc()
		}
		if p == nil {
			return nil, c.noMemory()
		}
		return p, nil
	}
}

// noMemory says why an allocation of size bytes from the heap failed (see
// noMemoryKind).
func (h *Heap) noMemory(size int) error {
	if size > KmallocMaxCacheSize {
		return noMemoryKind(h.limit, int64((size-1)/pageSize+1)*pageSize)
	}
	return h.caches[kmallocIndex(size)].noMemory()
}

// objectAlign is the largest power of two, up to a page, that divides the
// address of every object of c: slabs start on a page boundary (at least),
// the first object redLeft bytes in and the others c.size apart.
func (c *Cache) objectAlign() int {
	a := min(pageSize, lowBit(c.size))
	if c.redLeft > 0 {
		a = min(a, lowBit(c.redLeft))
	}
	return a
}

// lowBit returns the largest power of two that divides n > 0.
func lowBit(n int) int { return 1 << bits.TrailingZeros(uint(n)) }
