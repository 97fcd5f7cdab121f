package alloc

import (
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/goslub/slub/asm"
)

// Config configures a cache or a heap. The zero value is a Sheaves cache with
// 8-byte alignment and no limit.
type Config struct {
	Design        Design
	Align         int                      // power of two; 0 means 8
	SheafCapacity int                      // Sheaves: minimum sheaf capacity (7.0); Hybrid: the capacity (6.18); 0 = automatic
	Debug         DebugFlags               // slab_debug letters; see DebugFlags
	MemoryLimit   int64                    // bytes of slab memory this cache (or heap) may map; 0 = none
	Ctor          func(obj unsafe.Pointer) // optional, runs when a new slab's objects are set up
	OnReport      func(Report)             // optional, receives debug reports; default prints to stderr
	Trace         func(Event)              // optional trace hook, see Event

	// MaxCachedObjects caps the free objects the cache may park in its
	// per-P caches and its barn (0: the design's own bound). See bound.go
	// for the bound and how the cap lowers it; Stats reports it.
	MaxCachedObjects int
	// RCU is the grace-period domain that FreeRCU and TypesafeByRCU wait
	// on; nil means DefaultRCU(). Close a domain only once the caches that
	// use it are destroyed (rcu_free.go).
	RCU *RCU
	// TypesafeByRCU is SLAB_TYPESAFE_BY_RCU: a freed object may be reused
	// at once, but a slab's pages go back to the page heap only after a
	// grace period of RCU, so a reader inside a read-side section that
	// holds a stale pointer still reads an object of this cache (it must
	// check that the object is still the one it wanted). The free pointer
	// lives outside the object, as with a Ctor, and P poisoning is off.
	TypesafeByRCU bool

	// PlainFreelist turns off free pointer hardening. By default free
	// pointers are stored XORed with a per-cache random and their own
	// address (CONFIG_SLAB_FREELIST_HARDENED), so that a stray write over a
	// free object cannot steer the allocator to an address of the writer's
	// choosing, and the slow paths check what they decode (debug_harden.go).
	// Measured: no cost to the Sheaves design, about 5% on the CPUSlab fast
	// path.
	PlainFreelist bool

	noDCAS bool // tests: behave as if the hardware had no double-word CAS
}

// MaxObjectSize is the largest object a Cache holds.
const MaxObjectSize = 256 << 10

// Cache is the kernel's kmem_cache: objects of one size in slabs of off-heap
// memory. All methods are safe for concurrent use.
type Cache struct {
	name        string
	objectSize  int     // bytes asked for (object_size)
	size        int     // bytes per slot, metadata included (s->size)
	align       int     // object alignment
	fpOffset    uintptr // where a free object keeps its free pointer
	redLeft     int     // debug: left red zone before each slot's object
	slabPages   int     // pages per slab
	objsPerSlab int
	recip       uint64 // ceil(2^recipShift / size), for objIndex
	// The slot geometry that Free checks a pointer against without
	// looking at the slab: slabs are aligned to their size, so an
	// object's offset in its slab is its address masked.
	slabMask  uintptr // bytes per slab - 1
	slotBytes uintptr // objsPerSlab * size: the objects' part of a slab
	sizeMask  uintptr // size - 1 for a power-of-two slot size, else 0

	design  Design
	pp      percpu   // the design's per-P layer (design.go)
	backing backing  // Sheaves and Hybrid: what the sheaves refill from and flush to
	fast    fastPath // the fast path Alloc and Free write out
	// lockless: slab pairs are updated with the double-word CAS; else
	// under list_lock.
	lockless bool
	random   uintptr // free pointer hardening key; 0 when off
	ctor     func(unsafe.Pointer)
	onReport func(Report)
	hook     func(Event)
	debug    DebugFlags
	dbg      *debugState
	heap     *Heap     // the kmalloc heap this cache belongs to, if any
	limit    *memLimit // shared with the other caches of a heap

	sheafCapacity   int // Sheaves: objects per sheaf
	cpuPartial      int // CPUSlab: cpu_partial objects
	cpuPartialSlabs int // CPUSlab: slabs a cpu partial list holds before it drains

	pcs  atomic.Pointer[pcpuArray] // Sheaves, Hybrid: per-P sheaves, indexed by P id
	cpus atomic.Pointer[cpuArray]  // CPUSlab, CPUSlabLocked, Hybrid: per-P cpu slabs

	growMu  sync.Mutex // serializes growing pcs and cpus
	flushMu sync.Mutex // serializes remote lockers of per-P data
	barn    barn
	node    node

	spareSlabs spareSlabs // structs of freed slabs, for new ones
	deferred   deferredList
	rcu        rcuState // FreeRCU and TypesafeByRCU (rcu_free.go)
	destroyed  atomic.Bool
	stats      [NumStatItems]atomic.Uint64 // events counted outside pinned sections
}

// NewCache creates a cache of objects of size bytes.
func NewCache(name string, size int, cfg Config) (*Cache, error) {
	if name == "" {
		return nil, errors.New("alloc: NewCache: empty cache name")
	}
	c, err := newCache(name, size, cfg, nil, &memLimit{max: cfg.MemoryLimit})
	if err != nil {
		return nil, err
	}
	register(c)
	return c, nil
}

func newCache(name string, size int, cfg Config, h *Heap, limit *memLimit) (*Cache, error) {
	switch {
	case size <= 0:
		return nil, fmt.Errorf("alloc: NewCache %s: object size %d must be positive", name, size)
	case size > MaxObjectSize:
		return nil, fmt.Errorf("alloc: NewCache %s: object size %d is larger than %d", name, size, MaxObjectSize)
	case cfg.Align < 0 || cfg.Align&(cfg.Align-1) != 0:
		return nil, fmt.Errorf("alloc: NewCache %s: alignment %d is not a power of two", name, cfg.Align)
	case cfg.Align > pageSize:
		return nil, fmt.Errorf("alloc: NewCache %s: alignment %d is larger than a page", name, cfg.Align)
	case cfg.SheafCapacity < 0 || cfg.SheafCapacity > 1<<16:
		return nil, fmt.Errorf("alloc: NewCache %s: sheaf capacity %d out of range 0..%d", name, cfg.SheafCapacity, 1<<16)
	case cfg.MemoryLimit < 0:
		return nil, fmt.Errorf("alloc: NewCache %s: negative memory limit", name)
	case cfg.MaxCachedObjects < 0:
		return nil, fmt.Errorf("alloc: NewCache %s: negative MaxCachedObjects", name)
	case cfg.Design < 0 || cfg.Design >= numDesigns:
		return nil, fmt.Errorf("alloc: NewCache %s: unknown design %d", name, int(cfg.Design))
	}
	debug := cfg.Debug | debugFromEnv(name)
	if debug&^debugKnownFlags != 0 {
		return nil, fmt.Errorf("alloc: NewCache %s: unknown debug flags %#x", name, uint32(debug&^debugKnownFlags))
	}
	c := &Cache{
		name:       name,
		objectSize: size,
		align:      max(cfg.Align, 8),
		design:     cfg.Design,
		ctor:       cfg.Ctor,
		onReport:   cfg.OnReport,
		hook:       cfg.Trace,
		debug:      debug,
		heap:       h,
		limit:      limit,
	}
	c.rcu.config, c.rcu.typesafe = cfg.RCU, cfg.TypesafeByRCU
	c.layout()
	if debug&DebugNoHigherOrder != 0 && debug&debugCacheFlags != 0 && pageOrder(c.size) > pageOrder(size) {
		// slab_debug=O: no debugging that raises the page order. The
		// metadata letters go; F and T go too where their slot, which
		// keeps the free pointer outside the object, still raises it.
		c.debug &^= debugMetadataFlags
		c.layout()
		if pageOrder(c.size) > pageOrder(size) {
			c.debug &^= debugCacheFlags
			c.layout()
		}
		debug = c.debug
	}
	if c.slabPages == 0 {
		return nil, fmt.Errorf("alloc: NewCache %s: object size %d does not fit a slab", name, size)
	}
	c.recip = (1<<recipShift + uint64(c.size) - 1) / uint64(c.size)
	if !cfg.PlainFreelist {
		for c.random == 0 {
			c.random = uintptr(rand.Uint64())
		}
	}
	c.lockless = asm.Lockless() && !cfg.noDCAS && !c.isDebug()
	c.node.minPartial = minPartialFor(c.size)
	c.setDesign(cfg.Design, cfg.SheafCapacity, cfg.MaxCachedObjects)
	return c, nil
}

// layout places the free pointer and computes the slot size and slab order.
func (c *Cache) layout() {
	obj := max(c.objectSize, 8)
	c.dbg = nil
	if c.debug&debugCacheFlags != 0 {
		c.debugLayout(obj)
	} else if c.ctor != nil || c.rcu.typesafe {
		// The free pointer goes after the object so that a constructed
		// object keeps its state across free and reuse, and a reader of a
		// TypesafeByRCU object never sees it.
		c.fpOffset = uintptr(alignUp(obj, 8))
		c.size = alignUp(int(c.fpOffset)+8, c.align)
	} else {
		// In the middle of the object, where a small overflow from the
		// previous object does not reach it.
		c.fpOffset = uintptr(alignUp(obj, 8)/2) &^ 7
		c.size = alignUp(obj, c.align)
	}
	c.slabPages, c.objsPerSlab = slabOrder(c.size + c.redLeft)
	c.slabMask = uintptr(c.slabPages*pageSize - 1)
	c.slotBytes = uintptr(c.objsPerSlab * c.size)
	c.sizeMask = 0
	if c.size&(c.size-1) == 0 {
		c.sizeMask = uintptr(c.size - 1)
	}
}

func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }

// pageOrder is get_order: the order of the fewest pages that hold n bytes.
func pageOrder(n int) int { return bits.Len(uint((n - 1) / pageSize)) }

const maxSlabOrder = 6 // 256 KiB slabs at most

// slabOrder is the kernel's calculate_order: the smallest power-of-two number
// of pages that holds at least min_objects = 4 * (fls(nr_cpus) + 1) objects
// (no more than an order-3 slab holds) and wastes at most 1/16 of the slab,
// relaxing the waste bound when nothing fits.
func slabOrder(size int) (npages, objects int) {
	minObjects := 4 * (bits.Len(uint(runtime.GOMAXPROCS(0))) + 1)
	minObjects = max(min(minObjects, (pageSize<<3)/size), 1)
	for _, fraction := range []int{16, 8, 4, 2, 1} {
		for order := 0; order <= maxSlabOrder; order++ {
			bytes := pageSize << order
			n := min(bytes/size, maxObjsPerSlab)
			if n < minObjects || bytes-n*size > bytes/fraction {
				continue
			}
			return 1 << order, n
		}
	}
	return 0, 0
}

// sheafCapacityFor is calculate_sheaf_capacity: half of the old cpu_partial
// objects (two sheaves per P), rounded up so that a sheaf with a 32-byte
// header fills a power-of-two kmalloc bucket: 60, 28, 12 or 4.
func sheafCapacityFor(size int) int {
	base := 60
	switch {
	case size >= pageSize:
		base = 4
	case size >= 1024:
		base = 12
	case size >= 256:
		base = 26
	}
	bytes := 32 + 8*base
	bucket := 1 << bits.Len(uint(bytes-1))
	return (bucket - 32) / 8
}

// cpuPartialFor is set_cpu_partial: how many objects the old design keeps on
// a cpu partial list, and the slab count that corresponds to when slabs are
// assumed half full.
func cpuPartialFor(size, objsPerSlab int) (objects, slabs int) {
	switch {
	case size >= pageSize:
		objects = 6
	case size >= 1024:
		objects = 24
	case size >= 256:
		objects = 52
	default:
		objects = 120
	}
	return objects, (2*objects + objsPerSlab - 1) / objsPerSlab
}

// Name returns the cache's name.
func (c *Cache) Name() string {
	c.checkMade()
	return c.name
}

// ObjectSize returns the object size asked for.
func (c *Cache) ObjectSize() int {
	c.checkMade()
	return c.objectSize
}

// Design returns the cache's per-P design.
func (c *Cache) Design() Design {
	c.checkMade()
	return c.design
}

// isDebug reports whether c is a debug cache (slab_debug letters F, Z, P,
// U or T): no per-P layer, every slab change under list_lock.
func (c *Cache) isDebug() bool { return c.dbg != nil }

// Align returns the alignment of the cache's objects.
func (c *Cache) Align() int {
	c.checkMade()
	return c.align
}

// Debug returns the slab_debug letters in force for the cache: Config.Debug
// and EnvSlabDebug, less what O dropped.
func (c *Cache) Debug() DebugFlags {
	c.checkMade()
	return c.debug
}

// Heap returns the heap the cache is a size class of, or nil.
func (c *Cache) Heap() *Heap {
	c.checkMade()
	return c.heap
}

// checkLive panics unless c was made by NewCache (or NewHeap, NewTyped)
// and has not been destroyed.
func (c *Cache) checkLive() {
	c.checkMade()
	if c.destroyed.Load() {
		panic(errorOf(ErrDestroyed, "alloc: %s: cache used after Destroy", c.name))
	}
}

// checkMade panics for a nil Cache or one that NewCache did not make (a
// zero Cache{}), which has no design to run.
func (c *Cache) checkMade() {
	if c == nil || c.pp == nil {
		panic(errCacheNotMade)
	}
}

const errCacheNotMade = "alloc: a nil or zero Cache: make caches with NewCache, NewTyped or NewHeap"

// Alloc returns a new object, or nil when memory is exhausted or the cache's
// MemoryLimit is reached. The object's contents are unspecified (what the
// constructor set, for caches with a Ctor).
//
// The fast paths of Sheaves and CPUSlab are written out here, the pinned
// prologue of pcsLock and cpuLock and one try of pcsPop's and cpuPop's
// step included, to save the calls; a miss goes to the design's alloc,
// which starts over.
func (c *Cache) Alloc() unsafe.Pointer {
	if c == nil {
		panic(errCacheNotMade) // a zero Cache has no fast path: allocSlow says so
	}
	switch c.fast {
	case fastSheaves:
		pid := procPin()
		if pcs := c.pcs.Load(); uint(pid) < uint(len(pcs.p)) {
			if p := &pcs.p[pid]; p.lock.tryLock() {
				m := &p.main
				if i, objs := m.size-1, m.objs; uint(i) < uint(len(objs)) { // not empty
					m.size = i
					a := objs[i]
					pstat(&p.stat[AllocFastpath])
					p.lock.unlock()
					procUnpin()
					return ptr(a)
				}
				p.lock.unlock()
			}
		}
		procUnpin()
	case fastCPUSlab:
		pid := procPin()
		if cpus := c.cpus.Load(); uint(pid) < uint(len(cpus.c)) {
			if cc := cpus.c[pid]; cc.lock.tryLock() {
				pair := cc.pair()
				tid := pair.Hi
				if obj := uintptr(pair.Lo); obj != 0 {
					next := c.getFP(obj)
					if asm.CompareAndSwapLocalUnchecked(pair, uint64(obj), tid, uint64(next), tid+cpus.tidStep) {
						pstat(&cc.stat[AllocFastpath])
						cc.lock.unlock()
						procUnpin()
						return ptr(obj)
					}
				}
				cc.lock.unlock()
			}
		}
		procUnpin()
	}
	return ptr(c.allocSlow())
}

// allocSlow is Alloc past the written-out fast path.
func (c *Cache) allocSlow() uintptr {
	c.checkMade()
	if c.injectFailure() {
		return 0
	}
	return c.pp.alloc(c)
}

// Free returns obj to the cache. A nil obj is a no-op. Freeing a pointer the
// cache did not hand out panics with a message naming the cache and the
// address, before anything changes.
//
// The fast paths are written out as in Alloc (and once more in
// freeChecked, for callers that have checked the pointer already).
func (c *Cache) Free(obj unsafe.Pointer) {
	if c == nil {
		panic(errCacheNotMade) // a zero Cache owns no slab: checkObject says so
	}
	a := uintptr(obj)
	e := lookupOwner(a)
	if e == nil || e.cache.Load() != c || !c.isSlot(a) {
		c.checkMade()
		if a == 0 {
			return
		}
		c.checkObject("Free", a) // panics
	}
	s := e.slab.Load()
	switch c.fast {
	case fastSheaves:
		pid := procPin()
		if pcs := c.pcs.Load(); uint(pid) < uint(len(pcs.p)) {
			if p := &pcs.p[pid]; p.lock.tryLock() {
				m := &p.main
				if n, objs := m.size, m.objs; uint(n) < uint(len(objs)) && (n == 0 || objs[n-1] != a) { // not full, a not on top
					objs[n] = a
					m.size = n + 1
					pstat(&p.stat[FreeFastpath])
					p.lock.unlock()
					procUnpin()
					return
				}
				p.lock.unlock()
			}
		}
		procUnpin()
	case fastCPUSlab:
		pid := procPin()
		if cpus := c.cpus.Load(); uint(pid) < uint(len(cpus.c)) {
			if cc := cpus.c[pid]; cc.lock.tryLock() {
				pair := cc.pair()
				tid := pair.Hi
				if fl := uintptr(pair.Lo); cc.slab.Load() == s && fl != a {
					c.setFP(a, fl)
					if asm.CompareAndSwapLocalUnchecked(pair, uint64(fl), tid, uint64(a), tid+cpus.tidStep) {
						pstat(&cc.stat[FreeFastpath])
						cc.lock.unlock()
						procUnpin()
						return
					}
				}
				cc.lock.unlock()
			}
		}
		procUnpin()
	}
	c.pp.free(c, s, a)
}

// freeChecked is Free of a, which the caller checked is an object slot of
// slab s of c (Heap.Free): the same fast paths, then the design's free. A
// possible double free (the object already on top of the main sheaf or the
// cpu freelist) goes to the design's free, which panics.
func (c *Cache) freeChecked(s *slab, a uintptr) {
	switch c.fast {
	case fastSheaves:
		pid := procPin()
		if pcs := c.pcs.Load(); uint(pid) < uint(len(pcs.p)) {
			if p := &pcs.p[pid]; p.lock.tryLock() {
				m := &p.main
				if n, objs := m.size, m.objs; uint(n) < uint(len(objs)) && (n == 0 || objs[n-1] != a) { // not full, a not on top
					objs[n] = a
					m.size = n + 1
					pstat(&p.stat[FreeFastpath])
					p.lock.unlock()
					procUnpin()
					return
				}
				p.lock.unlock()
			}
		}
		procUnpin()
	case fastCPUSlab:
		pid := procPin()
		if cpus := c.cpus.Load(); uint(pid) < uint(len(cpus.c)) {
			if cc := cpus.c[pid]; cc.lock.tryLock() {
				pair := cc.pair()
				tid := pair.Hi
				if fl := uintptr(pair.Lo); cc.slab.Load() == s && fl != a {
					c.setFP(a, fl)
					if asm.CompareAndSwapLocalUnchecked(pair, uint64(fl), tid, uint64(a), tid+cpus.tidStep) {
						pstat(&cc.stat[FreeFastpath])
						cc.lock.unlock()
						procUnpin()
						return
					}
				}
				cc.lock.unlock()
			}
		}
		procUnpin()
	}
	c.pp.free(c, s, a)
}
