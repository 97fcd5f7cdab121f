package alloc

import "github.com/goslub/slub/asm"

// The CPUSlab design: the old cpu slab layer at the kernel's cost. The
// kernel's fast path is this_cpu_try_cmpxchg128 on the CPU's (freelist,
// tid): CMPXCHG16B without the LOCK prefix, correct because only that CPU
// changes its kmem_cache_cpu and one instruction cannot be split by an
// interrupt. Here the goroutine pins itself to its P for the whole
// sequence, so nothing else runs on the P; what could change the pair from
// another thread (a flush by Shrink, Validate, Stats or Destroy) first
// excludes the owner with the P's localLock, the lock the Sheaves design
// uses (owner: a plain store and a plain load; remote: a flag and
// membarrier). Under that exclusion CompareAndSwapLocal is exact. The tid
// and its step stay: the kernel's protocol is visible, and a sequence that
// another change interleaves with (an install after an unpinned refill)
// re-reads the pair instead of trusting what it saw. The walks are in
// doc.go; the shared parts in cpuslab.go. Model:
// alloc/model/cpuslab_pinned.pml (cpuLock, cpuPop, cpuPush, cpuLoad,
// pinnedCAS, cpuAllocSlow's three steps, cpuInstall, detachCPUSlab,
// cpuFreeOne, the remote flush), on x86-TSO with membarrier as an
// asymmetric fence; pinnedPutCPUPartial is in slabfree.pml.

// cpuLock pins the goroutine and takes its P's cpu slab lock: the prologue
// of every CPUSlab per-P operation. It returns nil, still pinned, when the P
// has no kmemCacheCPU yet or a remote locker holds the lock. cpuUnlock ends
// the section either way. A taken lock is never retried while pinned: an
// owner spinning on it could starve the remote locker's wait for busy == 0
// (the RETRY mutant of cpuslab_pinned.pml).
func (c *Cache) cpuLock() (*kmemCacheCPU, uint64) {
	pid := procPin()
	if a := c.cpus.Load(); pid < len(a.c) {
		if cc := a.c[pid]; cc.lock.tryLock() {
			return cc, a.tidStep
		}
	}
	return nil, 0
}

func cpuUnlock(cc *kmemCacheCPU) {
	if cc != nil {
		cc.lock.unlock()
	}
	procUnpin()
}

// cpuPop is the fast path of slab_alloc_node: (head, tid) -> (next,
// tid+step). The owner holds the lock, so the cpu freelist is non-empty only
// while the P has a cpu slab, and the CAS fails only if that rule was
// broken; it is counted and retried.
func (c *Cache) cpuPop(cc *kmemCacheCPU, step uint64) uintptr {
	pair := cc.pair()
	for {
		tid := pair.Hi
		obj := uintptr(pair.Lo)
		if obj == 0 {
			return 0
		}
		next := c.getFP(obj)
		if c.cpuCAS(cc, uint64(obj), tid, uint64(next), tid+step) {
			pstat(&cc.stat[AllocFastpath])
			return obj
		}
		pstat(&cc.stat[CmpxchgDoubleCPUFail])
	}
}

// cpuPush is do_slab_free's fast path: push head..tail, objects of the cpu
// slab linked through their free pointers, onto the cpu freelist. The
// caller holds the lock and has checked that their slab is the cpu slab.
// A head already on top of the freelist is a double free: cpuPush refuses
// it, and the caller's slow path panics.
func (c *Cache) cpuPush(cc *kmemCacheCPU, step uint64, head, tail uintptr) bool {
	pair := cc.pair()
	for {
		tid := pair.Hi
		fl := uintptr(pair.Lo)
		if fl == head {
			return false
		}
		c.setFP(tail, fl)
		if c.cpuCAS(cc, uint64(fl), tid, uint64(head), tid+step) {
			return true
		}
		pstat(&cc.stat[CmpxchgDoubleCPUFail])
	}
}

// cpuLoad makes the chain after fl the cpu freelist of cc, which has none,
// and s its cpu slab (load_freelist); it returns fl, the object the caller
// takes. The caller holds the lock.
func (c *Cache) cpuLoad(cc *kmemCacheCPU, step uint64, s *slab, fl uintptr) uintptr {
	tid := cc.pair().Hi
	if !c.cpuCAS(cc, 0, tid, uint64(c.getFP(fl)), tid+step) {
		panic("alloc: " + c.name + ": cpu freelist loaded over a non-empty one")
	}
	if cc.slab.Load() != s {
		cc.slab.Store(s)
	}
	return fl
}

// pinnedCAS changes the pair of cc, whose per-P lock the caller holds: with
// CMPXCHG16B without the LOCK prefix (the relaxed CASP on arm64) where the
// cache uses the double-word CAS, else with a compare and store, which the
// exclusion makes exact as well (the kernel's this_cpu_cmpxchg fallback).
// The pair's alignment was asserted when it was made.
func (c *Cache) pinnedCAS(cc *kmemCacheCPU, oldFL, oldTid, newFL, newTid uint64) bool {
	p := cc.pair()
	if c.lockless {
		return asm.CompareAndSwapLocalUnchecked(p, oldFL, oldTid, newFL, newTid)
	}
	if p.Lo != oldFL || p.Hi != oldTid {
		return false
	}
	p.Lo, p.Hi = newFL, newTid
	return true
}

// checkNextFreeUnlock is checkNextFree for a walk made pinned with cc's lock
// held: both are released before it panics.
func (c *Cache) checkNextFreeUnlock(s *slab, obj, next uintptr, cc *kmemCacheCPU) {
	if next != 0 && !c.validSlot(s, next) {
		cpuUnlock(cc)
		c.freelistCorrupt(s, obj, next)
	}
}

// cpuSlabPercpu is the per-P layer of CPUSlab caches, and the backing of
// Hybrid caches' sheaves.
type cpuSlabPercpu struct{}

func (cpuSlabPercpu) alloc(c *Cache) uintptr {
	if a := c.cpuAllocOne(false); a != 0 {
		return a
	}
	if !c.reclaim() {
		return 0
	}
	return c.cpuAllocSlow(false)
}

// cpuAllocOne is the fast path, then the slow path.
func (c *Cache) cpuAllocOne(noblock bool) uintptr {
	cc, step := c.cpuLock()
	if cc != nil {
		if a := c.cpuPop(cc, step); a != 0 {
			cpuUnlock(cc)
			return a
		}
	}
	cpuUnlock(cc)
	return c.cpuAllocSlow(noblock)
}

// cpuAllocSlow is ___slab_alloc in three steps, so that nothing that can
// wait runs pinned:
//
//  1. Pinned, holding the lock: what the P has at hand. The cpu slab's own
//     freelist, which remote frees filled (get_freelist, ALLOC_REFILL; an
//     exhausted cpu slab is dropped, DEACTIVATE_BYPASS), then a cpu partial
//     slab (CPU_PARTIAL_ALLOC).
//  2. Unpinned, holding no per-P lock: a node partial slab (the first frozen
//     as the cpu slab, ALLOC_FROM_PARTIAL, more detached for the cpu partial
//     list), else a new slab (ALLOC_SLAB).
//  3. Pinned again, on whichever P the goroutine now runs: install it. A
//     cpu slab that another goroutine installed meanwhile is taken off and
//     deactivated (CPUSLAB_FLUSH), as ___slab_alloc does after new_slab.
//
// With noblock every lock is try-locked and no memory is mapped from the
// OS; 0 then means "not now".
func (c *Cache) cpuAllocSlow(noblock bool) uintptr {
	c.checkLive()
	if !noblock {
		c.drainDeferred()
	}
	if !c.growCPUsFor(noblock) {
		return 0
	}
	c.stat(AllocSlowpath)
	if a := c.cpuAllocLocal(); a != 0 {
		return a
	}
	s, fl, extra, ok := c.getPartialNode(noblock)
	if !ok {
		c.stat(NoLockBusy)
		return 0
	}
	if s != nil {
		c.stat(AllocFromPartial)
	} else if s, fl = c.newCPUSlab(noblock); s == nil {
		return 0
	}
	return c.cpuInstall(s, fl, extra)
}

// cpuAllocLocal is step 1 of cpuAllocSlow: an object, or 0.
func (c *Cache) cpuAllocLocal() uintptr {
	cc, step := c.cpuLock()
	if cc == nil {
		cpuUnlock(nil)
		return 0
	}
	defer cpuUnlock(cc)
	if a := c.cpuPop(cc, step); a != 0 {
		return a
	}
	if s := cc.slab.Load(); s != nil {
		// Pinned, a busy list_lock can only be tried (caches without the
		// double-word CAS): then keep the cpu slab and go on unpinned.
		fl, ok := c.getFreelist(s, true)
		switch {
		case !ok:
		case fl != 0:
			c.stat(AllocRefill)
			return c.cpuLoad(cc, step, s, fl)
		default:
			// Exhausted: the slab is full and unfrozen now, on no list.
			cc.slab.Store(nil)
			c.stat(DeactivateBypass)
		}
	}
	for cc.slab.Load() == nil {
		s := popCPUPartial(cc)
		if s == nil {
			break
		}
		fl, ok := c.freezeSlab(s, true)
		if !ok {
			pushCPUPartial(cc, s)
			break
		}
		if fl != 0 {
			c.stat(CPUPartialAlloc)
			return c.cpuLoad(cc, step, s, fl)
		}
		// Emptied by the time it was frozen: it is full, on no list.
	}
	return 0
}

// cpuInstall is step 3 of cpuAllocSlow: make s, frozen with its freelist
// fl taken, the cpu slab of the P the goroutine runs on, put the extra
// slabs on its cpu partial list, and return the first object. If the P is
// remote-locked (a flush runs), s is deactivated instead, keeping the one
// object.
func (c *Cache) cpuInstall(s *slab, fl uintptr, extra *slab) uintptr {
	var oldS, drain *slab
	var oldFL uintptr
	defer c.keepOnPanic(fl)
	cc, step := c.cpuLock()
	if cc == nil {
		cpuUnlock(nil)
		c.retire(s, c.getFP(fl), extra)
		return fl
	}
	if old := cc.slab.Load(); old != nil {
		oldS, oldFL, _ = c.detachCPUSlab(cc, step)
	}
	c.cpuLoad(cc, step, s, fl)
	for extra != nil {
		next := extra.cpuNext
		if d := c.putCPUPartialLocked(cc, extra); d != nil {
			drain = d
		}
		extra = next
	}
	cpuUnlock(cc)
	if oldS != nil {
		c.stat(CPUSlabFlush)
	}
	c.retire(oldS, oldFL, drain)
	return fl
}

// detachCPUSlab takes the cpu slab and its freelist off cc, leaving the cpu
// partial list.
func (c *Cache) detachCPUSlab(cc *kmemCacheCPU, step uint64) (*slab, uintptr, bool) {
	s := cc.slab.Load()
	if s == nil {
		return nil, 0, false
	}
	cc.slab.Store(nil)
	pair := cc.pair()
	tid := pair.Hi
	fl := uintptr(pair.Lo)
	if !c.cpuCAS(cc, uint64(fl), tid, 0, tid+step) {
		panic("alloc: " + c.name + ": cpu freelist changed under the per-P lock")
	}
	return s, fl, true
}

// pinnedPutCPUPartial is put_cpu_partial for CPUSlab and Hybrid. While a
// remote locker holds the P the slab goes to the node partial list
// instead.
func (c *Cache) pinnedPutCPUPartial(s *slab) {
	cc, _ := c.cpuLock()
	if cc == nil {
		cpuUnlock(nil)
		c.putNodePartial(s)
		return
	}
	drain := c.putCPUPartialLocked(cc, s)
	cpuUnlock(cc)
	c.putPartials(drain)
}

func (cpuSlabPercpu) free(c *Cache, s *slab, a uintptr) { c.cpuFreeOne(s, a, "Free") }

// cpuFreeOne is do_slab_free for one object: onto the cpu freelist if it
// belongs to this P's cpu slab, else to its slab (__slab_free). The cheap
// double-free checks (the object already on top of the cpu freelist or its
// slab's freelist) panic before anything changes.
func (c *Cache) cpuFreeOne(s *slab, a uintptr, op string) {
	cc, step := c.cpuLock()
	if cc != nil && cc.slab.Load() == s {
		if uintptr(cc.pair().Lo) == a {
			cpuUnlock(cc)
			c.doubleFree(op, a)
		}
		if c.cpuPush(cc, step, a, a) {
			pstat(&cc.stat[FreeFastpath])
			cpuUnlock(cc)
			return
		}
	}
	cpuUnlock(cc)
	c.freeToSlab(s, a, op, false)
}

// allocNoLock is kmalloc_nolock on the pinned cpu slab. Nothing of this
// design holds the per-P lock outside a pinned section, where no hook
// runs, so the lock can be busy only for a remote locker: the fast path is
// safe from a hook, and the slow path try-locks the rest.
func (cpuSlabPercpu) allocNoLock(c *Cache) uintptr {
	a := c.cpuAllocOne(true)
	if a != 0 {
		c.stat(NoLockAlloc)
	}
	return a
}

// freeNoLock is 6.18's kfree_nolock: an object of this P's cpu slab is
// pushed; anything else is deferred, since __slab_free may need list_lock.
func (cpuSlabPercpu) freeNoLock(c *Cache, s *slab, a uintptr) bool {
	if !c.cpuFreeNoLock(s, a) {
		return false
	}
	c.stat(NoLockFree)
	return true
}

func (c *Cache) cpuFreeNoLock(s *slab, a uintptr) bool {
	cc, step := c.cpuLock()
	if cc == nil || cc.slab.Load() != s {
		cpuUnlock(cc)
		if cc == nil {
			c.stat(NoLockBusy)
		}
		return false
	}
	if uintptr(cc.pair().Lo) == a {
		cpuUnlock(cc)
		c.doubleFree("FreeNoLock", a)
	}
	ok := c.cpuPush(cc, step, a, a)
	if ok {
		pstat(&cc.stat[FreeFastpath])
	}
	cpuUnlock(cc)
	return ok
}

func (cpuSlabPercpu) allocBulk(c *Cache, dst []uintptr) int {
	got := c.cpuAllocBulk(dst)
	if got < len(dst) && c.reclaim() {
		got += c.cpuAllocBulk(dst[got:])
	}
	return got
}

// cpuAllocBulk is the old __kmem_cache_alloc_bulk: with the lock held, pop
// the cpu freelist with plain loads, advancing the tid once; when it runs
// dry, ___slab_alloc loads a new one and hands out its first object. Like
// the Sheaves refill it checks hardened free pointers as it walks.
func (c *Cache) cpuAllocBulk(dst []uintptr) (got int) {
	if c.hook != nil {
		defer c.giveBackOnPanic(dst, &got, false)
	}
	for got < len(dst) {
		if cc, step := c.cpuLock(); cc != nil {
			pair := cc.pair()
			tid := pair.Hi
			fl := uintptr(pair.Lo)
			s := cc.slab.Load()
			n := 0
			for fl != 0 && got < len(dst) {
				dst[got] = fl
				got++
				n++
				fl = c.getFP(fl)
				if c.random != 0 {
					c.checkNextFreeUnlock(s, dst[got-1], fl, cc)
				}
			}
			if n > 0 {
				if !c.cpuCAS(cc, pair.Lo, tid, uint64(fl), tid+step) {
					panic("alloc: " + c.name + ": cpu freelist changed under the per-P lock")
				}
				pstatAdd(&cc.stat[AllocFastpath], n)
			}
			cpuUnlock(cc)
		} else {
			cpuUnlock(nil)
		}
		if got == len(dst) {
			break
		}
		a := c.cpuAllocSlow(false)
		if a == 0 {
			break
		}
		dst[got] = a
		got++
	}
	return got
}

func (cpuSlabPercpu) freeBulk(c *Cache, src []uintptr) { c.cpuFreeBulk(src) }

// cpuFreeBulk is the old __kmem_cache_free_bulk: objects grouped by slab
// (build_detached_freelist); a group of the cpu slab is pushed onto the cpu
// freelist with one CAS, the others go to their slabs. It zeroes src.
func (c *Cache) cpuFreeBulk(src []uintptr) {
	if c.hook != nil {
		defer c.freeRestOnPanic(src)
	}
	for i := len(src) - 1; i >= 0; i-- {
		if src[i] == 0 {
			continue
		}
		s, head, tail, cnt := c.detachedFreelist(src, i)
		cc, step := c.cpuLock()
		if cc != nil && cc.slab.Load() == s && c.cpuPush(cc, step, head, tail) {
			pstatAdd(&cc.stat[FreeFastpath], cnt)
			cpuUnlock(cc)
			continue
		}
		cpuUnlock(cc)
		c.slabFree(s, head, tail, cnt, false)
		c.statAdd(FreeSlowpath, cnt)
	}
}

// flush is flush_all: every P's cpu slab and cpu partial list, with every
// P's lock held (see percpu.flush).
func (cpuSlabPercpu) flush(c *Cache) {
	a := c.cpus.Load()
	for _, cc := range a.c {
		c.flushCPULocked(cc, a.tidStep)
	}
}

// lock takes every P's lock as a remote locker.
func (cpuSlabPercpu) lock(c *Cache, flush bool) func() {
	a := c.cpus.Load()
	lockRemote(a.locks)
	unlock := func() { unlockRemote(a.locks) }
	if flush {
		c.flushSoundCPUs(a, unlock)
	}
	return unlock
}

func (cpuSlabPercpu) validate(c *Cache, v *validation) { c.validateCPUs(v) }

func (cpuSlabPercpu) count(c *Cache, st *Stats) { c.countCPUs(st) }

// As the backing of Hybrid caches' sheaves the cpu slab layer serves what
// the sheaves miss, as in Linux 6.18: a sheaf refill is a bulk allocation
// from the cpu slabs and a flush a bulk free to them.

func (cpuSlabPercpu) allocOne(c *Cache, noblock bool) uintptr { return c.cpuAllocOne(noblock) }

func (cpuSlabPercpu) freeOne(c *Cache, s *slab, a uintptr, noblock bool) bool {
	if noblock {
		return c.cpuFreeNoLock(s, a)
	}
	c.cpuFreeOne(s, a, "Free")
	return true
}

func (cpuSlabPercpu) refill(c *Cache, dst []uintptr, _ int, noblock bool) int {
	if noblock {
		return 0 // sheaves are refilled only where waiting is allowed
	}
	return c.cpuAllocBulk(dst)
}

func (cpuSlabPercpu) allocMany(c *Cache, dst []uintptr) int { return c.cpuAllocBulk(dst) }

func (cpuSlabPercpu) flushObjects(c *Cache, objs []uintptr) { c.cpuFreeBulk(objs) }

func (cpuSlabPercpu) freeMany(c *Cache, objs []uintptr) { c.cpuFreeBulk(objs) }
