package alloc

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Heap is a kmalloc-style allocator: size-class caches kmalloc-8 ...
// kmalloc-8k, and runs of pages for larger sizes. All methods are safe for
// concurrent use.
type Heap struct {
	caches [len(kmallocSizes)]*Cache
	limit  *memLimit
	design Design

	largeMu  sync.Mutex
	large    map[uintptr]*slab // large allocations by address, under largeMu
	rcuLarge atomic.Int64      // large allocations freed with FreeRCU, waiting for a grace period

	destroyed atomic.Bool // Destroy freed everything
}

// The kmalloc size classes.
var kmallocSizes = [...]int{8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192}

// KmallocMaxCacheSize is the largest size a Heap serves from a cache; larger
// sizes get whole pages.
const KmallocMaxCacheSize = 8192

// sizeIndex maps (size-1)/8 to a class for sizes up to 192, like the
// kernel's size_index table.
var sizeIndex = func() (t [24]uint8) {
	for i := range t {
		size := (i + 1) * 8
		for k, s := range kmallocSizes {
			if s >= size {
				t[i] = uint8(k)
				break
			}
		}
	}
	return
}()

// kmallocIndex returns the class of size, 1 <= size <= KmallocMaxCacheSize.
func kmallocIndex(size int) int {
	if size <= 192 {
		return int(sizeIndex[(size-1)>>3])
	}
	return bits.Len(uint(size-1)) - 1
}

func kmallocName(size int) string {
	if size >= 1024 {
		return fmt.Sprintf("kmalloc-%dk", size>>10)
	}
	return fmt.Sprintf("kmalloc-%d", size)
}

// NewHeap creates a heap. cfg.MemoryLimit covers all its caches and its large
// allocations together; cfg.Ctor and cfg.SheafCapacity do not apply.
func NewHeap(cfg Config) (*Heap, error) {
	if cfg.Ctor != nil {
		return nil, errors.New("alloc: NewHeap: a heap cannot have a constructor")
	}
	if cfg.TypesafeByRCU {
		return nil, errors.New("alloc: NewHeap: a heap cannot be TypesafeByRCU (as kmalloc caches are not); make a Cache")
	}
	h := &Heap{limit: &memLimit{max: cfg.MemoryLimit}, design: cfg.Design, large: make(map[uintptr]*slab)}
	for i, size := range kmallocSizes {
		cc := cfg
		if size&(size-1) == 0 {
			// kmalloc guarantees natural alignment for power-of-two sizes.
			cc.Align = max(cfg.Align, min(size, pageSize))
		}
		c, err := newCache(kmallocName(size), size, cc, h, h.limit)
		if err != nil {
			return nil, err
		}
		h.caches[i] = c
	}
	for _, c := range h.caches {
		register(c)
	}
	return h, nil
}

// Caches returns the heap's size-class caches, smallest first.
func (h *Heap) Caches() []*Cache {
	h.checkMade()
	return append([]*Cache(nil), h.caches[:]...)
}

// checkMade panics for a nil Heap or one NewHeap did not make (a zero
// Heap{}).
func (h *Heap) checkMade() {
	if h == nil || h.limit == nil {
		panic("alloc: a nil or zero Heap: make one with NewHeap, or use DefaultHeap")
	}
}

// checkLive panics for a heap that Destroy freed (its caches check
// themselves).
func (h *Heap) checkLive() {
	h.checkMade()
	if h.destroyed.Load() {
		panic("alloc: kmalloc: heap used after Destroy")
	}
}

// zeroSize is the address Malloc(0) returns: one inaccessible page, so a
// dereference faults (the kernel's ZERO_SIZE_PTR).
var zeroSize = sync.OnceValue(sysGuard)

// Malloc returns size bytes, 8-byte aligned at least and naturally aligned
// for power-of-two sizes up to a page, or nil when memory is exhausted or
// the heap's MemoryLimit is reached. Malloc(0) returns a non-nil pointer
// that must not be dereferenced and that Free accepts; a negative size
// returns nil.
func (h *Heap) Malloc(size int) unsafe.Pointer {
	h.checkMade()
	switch {
	case size < 0:
		return nil
	case size == 0:
		return ptr(zeroSize())
	case size <= KmallocMaxCacheSize:
		c := h.caches[kmallocIndex(size)]
		if c.isDebug() {
			return c.debugMalloc(size)
		}
		return c.Alloc()
	}
	return ptr(h.mallocLarge(size))
}

// debugMalloc is Malloc of size bytes from c, a debug size class that holds
// them: failslab applies, and the object records the size, so that the
// bytes past it are red zone.
func (c *Cache) debugMalloc(size int) unsafe.Pointer {
	if c.injectFailure() {
		return nil
	}
	return ptr(c.debugAllocSized(size))
}

// maxLargePages bounds a large allocation: 64 GiB, and on 32-bit platforms
// what an int can count in bytes (UsableSize returns the whole pages).
const maxLargePages = min(1<<24, math.MaxInt/pageSize)

// mallocLarge serves sizes above the largest class with whole pages.
func (h *Heap) mallocLarge(size int) uintptr {
	h.checkLive()
	np := (size-1)/pageSize + 1 // size+pageSize-1 would overflow for huge sizes
	if np > maxLargePages {
		return 0
	}
	bytes := int64(np) * pageSize
	if !h.limit.reserve(bytes) {
		return 0
	}
	s := &slab{heap: h, npages: np, large: size}
	a := pages.allocPages(np, 1, s, false)
	if a == 0 {
		h.limit.release(bytes)
		return 0
	}
	s.start, s.base, s.end = a, a, a+uintptr(bytes)
	h.largeMu.Lock()
	h.large[a] = s
	h.largeMu.Unlock()
	return a
}

// Zalloc is Malloc with the memory zeroed.
func (h *Heap) Zalloc(size int) unsafe.Pointer {
	p := h.Malloc(size)
	if p != nil && size > 0 {
		clear(unsafe.Slice((*byte)(p), size))
	}
	return p
}

// Free frees p, which Malloc, Zalloc, Realloc or MallocNoLock of this heap
// returned. nil is a no-op. A pointer the heap did not hand out panics with
// a message naming the heap and the address.
func (h *Heap) Free(p unsafe.Pointer) {
	a := uintptr(p)
	if s := lookupSlab(a); s != nil && s.cache != nil && s.cache.heap == h && s.cache.validSlot(s, a) {
		s.cache.freeChecked(s, a) // one lookup: the slab found here
		return
	}
	h.checkMade()
	if a == 0 || a == zeroSize() {
		return
	}
	s := h.owner("Free", a)
	if s.cache == nil {
		h.freeLarge(s)
		return
	}
	s.cache.Free(p)
}

// owner returns the slab or large allocation of a, or panics.
func (h *Heap) owner(op string, a uintptr) *slab {
	s := lookupSlab(a)
	switch {
	case s == nil && lookupArena(a) != nil && a%pageSize == 0:
		panic(fmt.Sprintf("alloc: kmalloc: %s(%#x): free pages of the page heap: a double free of a large allocation (or of an object whose slab has been freed)", op, a))
	case s == nil && lookupArena(a) != nil:
		panic(fmt.Sprintf("alloc: kmalloc: %s(%#x): free memory of the page heap (a double free? the object's slab has been freed)", op, a))
	case s == nil:
		panic(fmt.Sprintf("alloc: kmalloc: %s(%#x): not allocated by this allocator", op, a))
	case s.cache == nil && s.heap != h, s.cache != nil && s.cache.heap != h:
		panic(fmt.Sprintf("alloc: kmalloc: %s(%#x): allocated by another heap or cache", op, a))
	case s.cache == nil && a != s.base:
		panic(fmt.Sprintf("alloc: kmalloc: %s(%#x): points inside a large allocation at %#x", op, a, s.base))
	}
	return s
}

func (h *Heap) freeLarge(s *slab) {
	h.largeMu.Lock()
	if h.large[s.base] != s {
		h.largeMu.Unlock()
		panic(fmt.Sprintf("alloc: kmalloc: Free(%#x): double free of a large allocation", s.base))
	}
	delete(h.large, s.base)
	h.largeMu.Unlock()
	pages.freePages(s.start, s.npages)
	h.limit.release(int64(s.npages) * pageSize)
}

// UsableSize returns how many bytes at p may be used (ksize): the class size,
// the requested size for debug heaps, or the whole pages of a large one.
func (h *Heap) UsableSize(p unsafe.Pointer) int {
	h.checkMade()
	a := uintptr(p)
	if a == 0 || a == zeroSize() {
		return 0
	}
	s := h.owner("UsableSize", a)
	if s.cache == nil {
		return s.npages * pageSize
	}
	if !s.cache.checkAllocated("UsableSize", a) {
		return 0
	}
	if s.cache.isDebug() {
		return s.cache.debugUsableSize(a)
	}
	return s.cache.objectSize
}

// Realloc resizes p to size bytes, moving it when its size class must change
// (krealloc). Realloc(nil, n) is Malloc(n); Realloc(p, 0) frees p and
// returns the zero-size pointer; a negative size returns nil and leaves p
// alone. When it cannot allocate it returns nil and p stays valid. A p
// that is not allocated is rejected before anything changes, as Free
// rejects it (a debug heap reports freed memory and returns nil).
func (h *Heap) Realloc(p unsafe.Pointer, size int) unsafe.Pointer {
	h.checkMade()
	a := uintptr(p)
	switch {
	case size < 0:
		return nil
	case a == 0 || a == zeroSize():
		return h.Malloc(size)
	case size == 0:
		h.Free(p)
		return ptr(zeroSize())
	}
	old, ok, live := h.resizeInPlace("Realloc", a, size)
	switch {
	case !live:
		return nil // a debug heap reported freed memory
	case ok:
		return p
	}
	q := h.Malloc(size)
	if q == nil {
		return nil
	}
	copy(unsafe.Slice((*byte)(q), size), unsafe.Slice((*byte)(p), min(old, size)))
	h.Free(p)
	return q
}

// resizeInPlace gives a, an allocation of the heap, size bytes where it
// is, when its size class holds them, or when its run of pages does and
// more than half of it stays in use. It returns whether it did, and how
// many bytes at a held data before. A pointer the heap did not hand out,
// or freed memory that the cheap checks of Free see, panics, naming op,
// before anything changes; a debug heap reports freed memory instead and
// returns live false, having changed nothing.
func (h *Heap) resizeInPlace(op string, a uintptr, size int) (old int, ok, live bool) {
	s := h.owner(op, a)
	if s.cache == nil {
		old = s.npages * pageSize
		if size <= old && size > old/2 {
			s.large = size
			return old, true, true
		}
		return old, false, true
	}
	c := s.cache
	if !c.checkAllocated(op, a) {
		return 0, false, false
	}
	if size <= c.objectSize {
		old = c.objectSize
		if c.isDebug() {
			old = c.debugUsableSize(a)
			c.debugResize(a, size)
		}
		return old, true, true
	}
	if c.isDebug() {
		return c.debugUsableSize(a), false, true
	}
	return c.objectSize, false, true
}

// MallocNoLock is kmalloc_nolock: like Malloc but never waits on a lock. When
// the size class is busy it retries once with the next larger class, then
// returns nil. Sizes above KmallocMaxCacheSize return nil.
func (h *Heap) MallocNoLock(size int) unsafe.Pointer {
	h.checkMade()
	switch {
	case size < 0 || size > KmallocMaxCacheSize:
		return nil
	case size == 0:
		return ptr(zeroSize())
	}
	i := kmallocIndex(size)
	c := h.caches[i]
	if p := c.allocNoLockSized(size); p != nil {
		return p
	}
	if i+1 < len(h.caches) {
		c.stat(NoLockRetry)
		return h.caches[i+1].allocNoLockSized(size)
	}
	return nil
}

// allocNoLockSized is AllocNoLock for a kmalloc of size bytes: debug caches
// record the size so that writes past it are caught.
func (c *Cache) allocNoLockSized(size int) unsafe.Pointer {
	if !c.isDebug() {
		return c.AllocNoLock()
	}
	c.checkLive()
	a := c.allocDebug(size, true)
	if a == 0 {
		c.stat(NoLockAllocFail)
		return nil
	}
	c.stat(NoLockAlloc)
	return ptr(a)
}

// FreeNoLock is kfree_nolock: frees p, which MallocNoLock returned, without
// waiting on a lock, deferring it when it must.
func (h *Heap) FreeNoLock(p unsafe.Pointer) {
	h.checkMade()
	a := uintptr(p)
	if a == 0 || a == zeroSize() {
		return
	}
	s := h.owner("FreeNoLock", a)
	if s.cache == nil {
		panic(fmt.Sprintf("alloc: kmalloc: FreeNoLock(%#x): a large allocation, which MallocNoLock never returns", a))
	}
	s.cache.FreeNoLock(p)
}

// Shrink shrinks every cache of the heap and gives free pages to the OS.
func (h *Heap) Shrink() {
	h.checkLive()
	for _, c := range h.caches {
		c.Shrink()
	}
}

// Validate validates every cache of the heap.
func (h *Heap) Validate() error {
	h.checkLive()
	var errs []error
	for _, c := range h.caches {
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Destroy frees the heap. If anything is still allocated it frees nothing,
// returns an error naming it, and the heap stays usable. After a
// successful Destroy the heap must not be used.
func (h *Heap) Destroy() error {
	h.checkLive()
	var msgs []string
	for _, c := range h.caches {
		if err := c.destroy(false); err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if r := h.caches[0].RCU(); h.rcuLarge.Load() > 0 && r.err() == nil {
		r.Barrier() // large allocations freed with FreeRCU
	}
	h.largeMu.Lock()
	for a, s := range h.large {
		msgs = append(msgs, fmt.Sprintf("alloc: kmalloc: Destroy: large allocation of %d bytes at %#x still allocated", s.large, a))
	}
	h.largeMu.Unlock()
	if len(msgs) == 0 {
		// Nothing allocated: free every cache (only a concurrent use,
		// which Destroy does not allow, could make one fail now).
		for _, c := range h.caches {
			if err := c.destroy(true); err != nil {
				msgs = append(msgs, err.Error())
			}
		}
	}
	if len(msgs) > 0 {
		return errorOf(ErrLeak, "%s", strings.Join(msgs, "\n"))
	}
	h.destroyed.Store(true)
	return nil
}

var defaultHeap = sync.OnceValue(func() *Heap {
	h, err := NewHeap(Config{})
	if err != nil {
		panic(err)
	}
	return h
})

// DefaultHeap returns the process-wide Sheaves heap that Malloc and Free use.
func DefaultHeap() *Heap { return defaultHeap() }

// Malloc allocates from the default heap.
func Malloc(size int) unsafe.Pointer { return defaultHeap().Malloc(size) }

// Free frees to the default heap.
func Free(p unsafe.Pointer) { defaultHeap().Free(p) }
