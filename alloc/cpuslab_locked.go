package alloc

import (
	"sync/atomic"

	"github.com/goslub/slub/asm"
)

// The CPUSlabLocked design: the old cpu slab layer without pinning, as it
// must run where preemption cannot be disabled. The fast paths read the
// tid, the freelist head and its next pointer, then CAS (head, tid) ->
// (next, tid+step) with LOCK CMPXCHG16B (CASPAL on arm64). Nothing is
// pinned across the sequence: the kernel's this_cpu_cmpxchg acts on
// whatever CPU the task is on at that instant, while here the CAS names
// the address of the P's structure the goroutine read, so a goroutine that
// migrated meanwhile still updates a consistent structure, and the tid
// makes the CAS fail whenever anything changed. The slow paths hold the
// P's mu. To keep the lockless paths safe while the mu holder changes the
// cpu slab, it publishes a new freelist while the slab pointer is nil and
// only then sets the slab, and clears the slab before detaching the
// freelist. The shared parts are in cpuslab.go, the walks in doc.go.
// Model: alloc/model/cpuslab_locked.pml (lockedAlloc, lockedPush,
// lockedAllocSlow, lockedPop, lockedDetach, lockedInstallChain, lockedLoad,
// the no-lock calls, and detachCPU's slab-then-freelist order).

// thisCPU returns the kmemCacheCPU of the P the goroutine runs on now (it may
// run elsewhere by the time it uses it: that is allowed, see above).
func (c *Cache) thisCPU() (*kmemCacheCPU, uint64) {
	cc, step, _ := c.thisCPUMaybe(false)
	return cc, step
}

// thisCPUMaybe is thisCPU; with noblock, for a P without a kmemCacheCPU
// yet, it reports false instead of waiting for growMu (which a flush holds
// while trace hooks and deferred frees run).
func (c *Cache) thisCPUMaybe(noblock bool) (*kmemCacheCPU, uint64, bool) {
	pid := procPin()
	procUnpin()
	a := c.cpus.Load()
	if pid >= len(a.c) {
		if noblock {
			c.stat(NoLockBusy)
			return nil, 0, false
		}
		c.growCPUs(pid)
		a = c.cpus.Load()
	}
	return a.c[pid], a.tidStep, true
}

// cpuSlabLockedPercpu is the per-P layer of CPUSlabLocked caches.
type cpuSlabLockedPercpu struct{}

func (cpuSlabLockedPercpu) alloc(c *Cache) uintptr {
	if a := c.lockedAlloc(); a != 0 {
		return a
	}
	if !c.reclaim() {
		return 0
	}
	return c.lockedAllocSlow(false)
}

// lockedAlloc is slab_alloc_node's fast path, then the slow path.
func (c *Cache) lockedAlloc() uintptr {
	if !c.lockless {
		return c.lockedAllocSlow(false)
	}
	cc, step := c.thisCPU()
	pair := cc.pair()
	for {
		tid := atomic.LoadUint64(&pair.Hi)
		obj := uintptr(atomic.LoadUint64(&pair.Lo))
		if obj == 0 || cc.slab.Load() == nil {
			return c.lockedAllocSlow(false)
		}
		// get_freepointer_safe: obj may have been taken by a racing
		// goroutine and reused; the read is harmless (slab memory stays
		// mapped) and the CAS then fails.
		next := c.getFP(obj)
		if asm.CompareAndSwap(pair, uint64(obj), tid, uint64(next), tid+step) {
			pstat(&cc.stat[AllocFastpath])
			return obj
		}
		pstat(&cc.stat[CmpxchgDoubleCPUFail])
	}
}

// lockedPush is do_slab_free's fast path: push head..tail onto the cpu
// freelist if s is the cpu slab. Without the double-word CAS the caller
// holds cc.mu. It reports pushDouble, having changed nothing, when a
// single object is already on top (a double free): the caller releases
// what it holds and panics.
func (c *Cache) lockedPush(cc *kmemCacheCPU, step uint64, s *slab, head, tail uintptr) pushResult {
	for {
		tid := loadTid(cc)
		if cc.slab.Load() != s {
			return pushNotCPUSlab
		}
		fl := loadCPUFreelist(cc)
		if fl == head {
			return pushDouble
		}
		c.setFP(tail, fl)
		if c.cpuCAS(cc, uint64(fl), tid, uint64(head), tid+step) {
			return pushed
		}
		pstat(&cc.stat[CmpxchgDoubleCPUFail])
	}
}

type pushResult int

const (
	pushed pushResult = iota
	pushNotCPUSlab
	pushDouble
)

// lockedPushMaybeLocked is lockedPush taking cc.mu where the cache has no
// double-word CAS; with noblock it only tries the lock and reports
// pushNotCPUSlab when it is busy.
func (c *Cache) lockedPushMaybeLocked(cc *kmemCacheCPU, step uint64, s *slab, head, tail uintptr, noblock bool) pushResult {
	if c.lockless {
		return c.lockedPush(cc, step, s, head, tail)
	}
	if noblock {
		if !cc.mu.TryLock() {
			c.stat(NoLockBusy)
			return pushNotCPUSlab
		}
	} else {
		cc.mu.Lock()
	}
	r := c.lockedPush(cc, step, s, head, tail)
	cc.mu.Unlock()
	return r
}

func (cpuSlabLockedPercpu) free(c *Cache, s *slab, a uintptr) {
	cc, step := c.thisCPU()
	switch c.lockedPushMaybeLocked(cc, step, s, a, a, false) {
	case pushed:
		pstat(&cc.stat[FreeFastpath])
		return
	case pushDouble:
		c.doubleFree("Free", a)
	}
	c.freeToSlab(s, a, "Free", false)
}

// lockedAllocSlow is ___slab_alloc under the per-P lock: the cpu freelist,
// the cpu slab's own freelist (get_freelist), a cpu partial slab, node
// partial slabs, a new slab. With noblock it only try-locks and returns 0
// when a lock is busy.
func (c *Cache) lockedAllocSlow(noblock bool) uintptr {
	c.checkLive()
	if !noblock {
		c.drainDeferred()
	}
	cc, step, ok := c.thisCPUMaybe(noblock)
	if !ok {
		return 0
	}
	if noblock {
		if !cc.mu.TryLock() {
			c.stat(NoLockBusy)
			return 0
		}
	} else {
		cc.mu.Lock()
	}
	defer cc.mu.Unlock()
	c.stat(AllocSlowpath)
	for {
		if s := cc.slab.Load(); s != nil {
			if a := c.lockedPop(cc, step); a != 0 {
				return a
			}
			// Take the slab off the P before looking at its own freelist,
			// so no fast free can push onto the cpu freelist meanwhile.
			cc.slab.Store(nil)
			if fl := c.lockedDetach(cc, step); fl != 0 {
				// Frees raced in: use them.
				return c.lockedLoad(cc, step, s, fl)
			}
			// get_freelist: take what remote frees put on the cpu slab.
			fl, ok := c.getFreelist(s, noblock)
			if !ok {
				// list_lock busy (no-lock caller without the double-word
				// CAS): the slab stays this P's, frozen.
				cc.slab.Store(s)
				c.stat(NoLockBusy)
				return 0
			}
			if fl != 0 {
				c.stat(AllocRefill)
				return c.lockedLoad(cc, step, s, fl)
			}
			// Exhausted: the slab is full and unfrozen now, on no list.
			c.stat(DeactivateBypass)
		}
		if s := popCPUPartial(cc); s != nil {
			fl, ok := c.freezeSlab(s, noblock)
			if !ok {
				// list_lock busy: put the slab back on the list.
				pushCPUPartial(cc, s)
				c.stat(NoLockBusy)
				return 0
			}
			if fl == 0 {
				// Emptied by the time we froze it? Only possible if it had
				// nothing free: it stays full, on no list.
				continue
			}
			c.stat(CPUPartialAlloc)
			return c.lockedLoad(cc, step, s, fl)
		}
		s, fl, extra, ok := c.getPartialNode(noblock)
		if !ok {
			c.stat(NoLockBusy)
			return 0
		}
		for extra != nil {
			next := extra.cpuNext
			pushCPUPartial(cc, extra)
			extra = next
		}
		if s == nil {
			if s, fl = c.newCPUSlab(noblock); s == nil {
				return 0
			}
		} else {
			c.stat(AllocFromPartial)
		}
		return c.lockedLoad(cc, step, s, fl)
	}
}

// lockedPop pops the cpu freelist under the per-P lock (frees may race).
func (c *Cache) lockedPop(cc *kmemCacheCPU, step uint64) uintptr {
	for {
		tid := loadTid(cc)
		fl := loadCPUFreelist(cc)
		if fl == 0 {
			return 0
		}
		if c.cpuCAS(cc, uint64(fl), tid, uint64(c.getFP(fl)), tid+step) {
			return fl
		}
	}
}

// lockedLoad hands out the first object of fl, makes the rest the cpu
// freelist and s the cpu slab (load_freelist), in that order.
func (c *Cache) lockedLoad(cc *kmemCacheCPU, step uint64, s *slab, fl uintptr) uintptr {
	c.lockedInstallChain(cc, step, c.getFP(fl))
	cc.slab.Store(s)
	return fl
}

// lockedInstallChain makes the chain at head the cpu freelist. The caller
// holds the per-P lock and has taken the cpu slab off the P and detached its
// freelist, so no fast path can push or pop meanwhile: the freelist is
// empty and the CAS cannot fail.
func (c *Cache) lockedInstallChain(cc *kmemCacheCPU, step uint64, head uintptr) {
	if testHookCPUInstall != nil {
		testHookCPUInstall()
	}
	tid := loadTid(cc)
	if cc.slab.Load() != nil || !c.cpuCAS(cc, 0, tid, uint64(head), tid+step) {
		panic("alloc: " + c.name + ": cpu freelist installed while the cpu slab is on the P")
	}
}

// testHookCPUInstall, when set by a test, runs when lockedInstallChain
// starts.
var testHookCPUInstall func()

// lockedDetach takes the whole cpu freelist, advancing the tid.
func (c *Cache) lockedDetach(cc *kmemCacheCPU, step uint64) uintptr {
	for {
		tid := loadTid(cc)
		fl := atomic.LoadUint64(&cc.pair().Lo)
		if c.cpuCAS(cc, fl, tid, 0, tid+step) {
			return uintptr(fl)
		}
	}
}

// lockedPutCPUPartial is put_cpu_partial for CPUSlabLocked. While the P's
// mu is busy (a slow path, or a flush that holds every P) the slab goes to
// the node partial list instead, as in CPUSlab while a remote locker holds
// the P: waiting could deadlock with a flush that drains deferred frees.
func (c *Cache) lockedPutCPUPartial(s *slab) {
	pid := procPin()
	procUnpin()
	a := c.cpus.Load()
	if pid >= len(a.c) || !a.c[pid].mu.TryLock() { // no kmemCacheCPU yet, or busy
		c.putNodePartial(s)
		return
	}
	cc := a.c[pid]
	drain := c.putCPUPartialLocked(cc, s)
	cc.mu.Unlock()
	c.putPartials(drain)
}

// allocNoLock is the old design's kmalloc_nolock: the lockless fast path
// is safe anywhere; the slow path first checks whether this P's lock is
// held (it may be held by the very code the hook interrupted) and reports
// busy instead of waiting.
func (cpuSlabLockedPercpu) allocNoLock(c *Cache) uintptr {
	a := c.lockedAllocNoLock()
	if a != 0 {
		c.stat(NoLockAlloc)
	}
	return a
}

func (c *Cache) lockedAllocNoLock() uintptr {
	if c.lockless {
		cc, step, ok := c.thisCPUMaybe(true)
		if !ok {
			return 0
		}
		for tries := 0; tries < 4; tries++ {
			tid := loadTid(cc)
			obj := loadCPUFreelist(cc)
			if obj == 0 || cc.slab.Load() == nil {
				break
			}
			next := c.getFP(obj)
			if c.cpuCAS(cc, uint64(obj), tid, uint64(next), tid+step) {
				pstat(&cc.stat[AllocFastpath])
				return obj
			}
		}
	}
	return c.lockedAllocSlow(true)
}

// freeNoLock is 6.18's kfree_nolock: only the cpu slab's push; any other
// object is deferred.
func (cpuSlabLockedPercpu) freeNoLock(c *Cache, s *slab, a uintptr) bool {
	cc, step, ok := c.thisCPUMaybe(true)
	if !ok {
		return false
	}
	switch c.lockedPushMaybeLocked(cc, step, s, a, a, true) {
	case pushed:
		pstat(&cc.stat[FreeFastpath])
		c.stat(NoLockFree)
		return true
	case pushDouble:
		c.doubleFree("FreeNoLock", a)
	}
	return false
}

func (cpuSlabLockedPercpu) allocBulk(c *Cache, dst []uintptr) int {
	got := c.lockedAllocBulk(dst)
	if got < len(dst) && c.reclaim() {
		got += c.lockedAllocBulk(dst[got:])
	}
	return got
}

// lockedAllocBulk is the old __kmem_cache_alloc_bulk: under the per-P lock,
// take the cpu freelist whole (the slab off the P meanwhile, as for any
// change of the cpu freelist under the lock) and hand it out; when it runs
// dry, ___slab_alloc loads a new one and hands out its first object. What
// is left goes back as the cpu freelist. Two CASes per cpu freelist, not
// one per object.
func (c *Cache) lockedAllocBulk(dst []uintptr) (got int) {
	if c.hook != nil {
		defer c.giveBackOnPanic(dst, &got, false)
	}
	cc, step := c.thisCPU()
	for got < len(dst) {
		cc.mu.Lock()
		if s := cc.slab.Load(); s != nil {
			cc.slab.Store(nil)
			fl := c.lockedDetach(cc, step)
			n := 0
			for fl != 0 && got < len(dst) {
				dst[got] = fl
				got++
				n++
				fl = c.getFP(fl)
				if c.random != 0 && fl != 0 && !c.validSlot(s, fl) {
					cc.mu.Unlock()
					c.freelistCorrupt(s, dst[got-1], fl)
				}
			}
			if fl != 0 {
				c.lockedInstallChain(cc, step, fl)
			}
			cc.slab.Store(s)
			atomic.AddUint64(&cc.stat[AllocFastpath], uint64(n))
		}
		cc.mu.Unlock()
		if got == len(dst) {
			break
		}
		a := c.lockedAllocSlow(false)
		if a == 0 {
			break
		}
		dst[got] = a
		got++
		cc, step = c.thisCPU() // the slow path loaded this P's freelist
	}
	return got
}

// freeBulk groups objects by slab; a group of the cpu slab is pushed onto
// the cpu freelist with one CAS, the others go to their slabs.
func (cpuSlabLockedPercpu) freeBulk(c *Cache, src []uintptr) {
	if c.hook != nil {
		defer c.freeRestOnPanic(src)
	}
	cc, step := c.thisCPU()
	for i := len(src) - 1; i >= 0; i-- {
		if src[i] == 0 {
			continue
		}
		s, head, tail, cnt := c.detachedFreelist(src, i)
		if c.lockedPushMaybeLocked(cc, step, s, head, tail, false) == pushed {
			atomic.AddUint64(&cc.stat[FreeFastpath], uint64(cnt))
			continue
		}
		c.slabFree(s, head, tail, cnt, false)
		c.statAdd(FreeSlowpath, cnt)
	}
}

// flush is flush_all: every P's cpu slab and cpu partial list, with every
// P's mu held (see percpu.flush).
func (cpuSlabLockedPercpu) flush(c *Cache) {
	a := c.cpus.Load()
	for _, cc := range a.c {
		c.flushCPULocked(cc, a.tidStep)
	}
}

// lock takes every P's mu, flushing once all are held if asked (a flush
// before the locks would let an allocation install a new cpu slab in
// between).
func (cpuSlabLockedPercpu) lock(c *Cache, flush bool) func() {
	a := c.cpus.Load()
	for _, cc := range a.c {
		cc.mu.Lock()
	}
	unlock := func() {
		for _, cc := range a.c {
			cc.mu.Unlock()
		}
	}
	if flush {
		c.flushSoundCPUs(a, unlock)
	}
	return unlock
}

func (cpuSlabLockedPercpu) validate(c *Cache, v *validation) { c.validateCPUs(v) }

func (cpuSlabLockedPercpu) count(c *Cache, st *Stats) { c.countCPUs(st) }
