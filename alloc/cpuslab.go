package alloc

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/goslub/slub/asm"
)

// The CPUSlab design's per-P layer (the kernel's kmem_cache_cpu, Linux 6.19
// and before). The walks are in doc.go.

// kmemCacheCPU is one P's cpu slab.
//
// pair is (freelist, tid): the cpu freelist, detached from the cpu slab, and a
// transaction id that every change advances by tidStep. The fast paths
// update it with the double-word CAS without any lock and without staying
// pinned. Unlike the kernel's this_cpu_cmpxchg, which acts on whichever CPU
// the task runs on at that instant, the CAS here names the address of the P's
// structure it read, so a goroutine that migrated meanwhile still updates
// the right structure (it may just bounce a cache line); the tid makes the
// CAS fail whenever anything changed in between.
//
// Changes of the cpu slab happen under mu in a fixed order that keeps the
// lockless paths safe: to install, publish the freelist while slab is nil,
// then set slab; to remove, clear slab, then detach the freelist.
type kmemCacheCPU struct {
	pair    asm.Pair             // (freelist, tid); first field, 16-byte aligned
	slab    atomic.Pointer[slab] // the cpu slab (frozen), or nil
	mu      sync.Mutex           // the per-P lock of the slow paths (local_lock)
	partial *slab                // cpu partial list, under mu
	// stat counts fast-path events with plain increments, as
	// this_cpu_inc does; Stats reads them atomically. Two goroutines that
	// use the same P's structure at once (one migrated meanwhile) can lose
	// an increment: the fast-path counters of this design are approximate.
	stat [NumStatItems]uint64
	_    [64]byte
}

type cpuArray struct {
	c       []*kmemCacheCPU
	tidStep uint64
}

func (c *Cache) initCPUs() {
	n := gomaxprocs()
	step := uint64(1) << bits.Len(uint(max(n, runtime.NumCPU())-1))
	c.cpus.Store(&cpuArray{tidStep: step})
	c.growCPUs(n - 1)
}

// growCPUs makes sure P id pid has a kmemCacheCPU. The tid of P i starts at
// i (init_tid); it steps by tidStep, a power of two at least the number of
// Ps when the cache was made, so tid % tidStep names the P while the P count
// stays within it.
func (c *Cache) growCPUs(pid int) {
	c.growMu.Lock()
	defer c.growMu.Unlock()
	old := c.cpus.Load()
	if pid < len(old.c) {
		return
	}
	a := &cpuArray{c: make([]*kmemCacheCPU, max(pid+1, gomaxprocs())), tidStep: old.tidStep}
	copy(a.c, old.c)
	for i := range a.c {
		if a.c[i] == nil {
			cc := new(kmemCacheCPU)
			assertPairAligned(&cc.pair)
			cc.pair.Hi = uint64(i)
			a.c[i] = cc
		}
	}
	c.cpus.Store(a)
}

func assertPairAligned(p *asm.Pair) {
	if uintptr(ptrOf(p))&15 != 0 {
		panic("slub: (freelist, tid) pair is not 16-byte aligned")
	}
}

// thisCPU returns the kmemCacheCPU of the P the goroutine runs on now (it may
// run elsewhere by the time it uses it: that is allowed, see kmemCacheCPU).
func (c *Cache) thisCPU() (*kmemCacheCPU, uint64) {
	pid := procPin()
	procUnpin()
	a := c.cpus.Load()
	if pid >= len(a.c) {
		c.growCPUs(pid)
		a = c.cpus.Load()
	}
	return a.c[pid], a.tidStep
}

// cpuCAS updates a (freelist, tid) pair: the double-word CAS, or, without
// one, a compare and store under cc.mu, which the caller holds.
func (c *Cache) cpuCAS(cc *kmemCacheCPU, oldFL, oldTid, newFL, newTid uint64) bool {
	if c.lockless {
		return asm.CompareAndSwap(&cc.pair, oldFL, oldTid, newFL, newTid)
	}
	if atomic.LoadUint64(&cc.pair.Lo) != oldFL || atomic.LoadUint64(&cc.pair.Hi) != oldTid {
		return false
	}
	atomic.StoreUint64(&cc.pair.Lo, newFL)
	atomic.StoreUint64(&cc.pair.Hi, newTid)
	return true
}

// cpuSlabAlloc is slab_alloc_node's fast path: pop the cpu freelist with
// (head, tid) -> (next, tid+step).
func (c *Cache) cpuSlabAlloc() uintptr {
	if !c.lockless {
		if a := c.cpuSlabAllocSlow(false); a != 0 {
			return a
		}
		return c.cpuReclaimAlloc()
	}
	cc, step := c.thisCPU()
	for {
		tid := atomic.LoadUint64(&cc.pair.Hi)
		obj := uintptr(atomic.LoadUint64(&cc.pair.Lo))
		if obj == 0 || cc.slab.Load() == nil {
			if a := c.cpuSlabAllocSlow(false); a != 0 {
				return a
			}
			return c.cpuReclaimAlloc()
		}
		// get_freepointer_safe: obj may have been taken by a racing
		// goroutine and reused; the read is harmless (slab memory stays
		// mapped) and the CAS then fails.
		next := c.getFP(obj)
		if asm.CompareAndSwap(&cc.pair, uint64(obj), tid, uint64(next), tid+step) {
			pstat(&cc.stat[AllocFastpath])
			return obj
		}
		pstat(&cc.stat[CmpxchgDoubleCPUFail])
	}
}

// cpuSlabFree is do_slab_free: push onto the cpu freelist when the object
// belongs to this P's cpu slab, else free to the slab (__slab_free).
func (c *Cache) cpuSlabFree(s *slab, a uintptr) {
	cc, step := c.thisCPU()
	if !c.lockless {
		cc.mu.Lock()
	}
	for {
		tid := atomic.LoadUint64(&cc.pair.Hi)
		if cc.slab.Load() != s {
			break
		}
		fl := uintptr(atomic.LoadUint64(&cc.pair.Lo))
		if fl == a {
			if !c.lockless {
				cc.mu.Unlock()
			}
			c.doubleFree(a)
		}
		c.setFP(a, fl)
		if c.cpuCAS(cc, uint64(fl), tid, uint64(a), tid+step) {
			pstat(&cc.stat[FreeFastpath])
			if !c.lockless {
				cc.mu.Unlock()
			}
			return
		}
		pstat(&cc.stat[CmpxchgDoubleCPUFail])
	}
	if !c.lockless {
		cc.mu.Unlock()
	}
	if s.freelist() == a {
		c.doubleFree(a)
	}
	c.freeToSlab(s, a, false)
}

// cpuSlabAllocSlow is ___slab_alloc under the per-P lock: the cpu freelist,
// the cpu slab's own freelist (get_freelist), a cpu partial slab, node
// partial slabs, a new slab. With noblock it only try-locks and returns 0
// when a lock is busy.
func (c *Cache) cpuSlabAllocSlow(noblock bool) uintptr {
	c.checkLive()
	if !noblock {
		c.drainDeferred()
	}
	cc, step := c.thisCPU()
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
			if a := c.popCPUFreelist(cc, step); a != 0 {
				return a
			}
			// Take the slab off the P before looking at its own freelist,
			// so no fast free can push onto the cpu freelist meanwhile.
			cc.slab.Store(nil)
			if fl := c.detachCPUFreelist(cc, step); fl != 0 {
				// Frees raced in: use them.
				a := c.loadFreelist(cc, step, fl)
				cc.slab.Store(s)
				return a
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
				a := c.loadFreelist(cc, step, fl)
				cc.slab.Store(s)
				return a
			}
			// Exhausted: the slab is full and unfrozen now, on no list.
			c.stat(DeactivateBypass)
		}
		if s := cc.partial; s != nil {
			cc.partial = s.cpuNext
			if cc.partial != nil {
				cc.partial.cpuSlabs = s.cpuSlabs - 1
			}
			s.cpuNext, s.cpuSlabs = nil, 0
			s.onCPUPartial = false
			fl, ok := c.freezeSlab(s, noblock)
			if !ok {
				// list_lock busy: put the slab back on the list.
				c.pushCPUPartial(cc, s)
				c.stat(NoLockBusy)
				return 0
			}
			if fl == 0 {
				// Emptied by the time we froze it? Only possible if it had
				// nothing free: it stays full, on no list.
				continue
			}
			c.stat(CPUPartialAlloc)
			a := c.loadFreelist(cc, step, fl)
			cc.slab.Store(s)
			return a
		}
		s, fl, ok := c.getPartialNode(cc, noblock)
		if !ok {
			return 0
		}
		if s == nil {
			s = c.newSlab(noblock)
			if s == nil {
				return 0
			}
			fl = s.base
			s.pair.Lo = 0
			s.pair.Hi = uint64(mkCounters(c.objsPerSlab, c.objsPerSlab, true, 1))
			n := &c.node
			if !n.lock(noblock) {
				c.freeNewSlabNoLock(s)
				return 0
			}
			n.addSlab(s)
			c.trace(EventNewSlab, s, 0)
			n.unlock()
		} else {
			c.stat(AllocFromPartial)
		}
		a := c.loadFreelist(cc, step, fl)
		cc.slab.Store(s)
		return a
	}
}

// cpuReclaimAlloc retries a failed allocation once after flushing the cpu
// slabs and cpu partial lists of every P (see reclaim).
func (c *Cache) cpuReclaimAlloc() uintptr {
	if !c.reclaim() {
		return 0
	}
	return c.cpuSlabAllocSlow(false)
}

// popCPUFreelist pops the cpu freelist under the per-P lock (frees may race).
func (c *Cache) popCPUFreelist(cc *kmemCacheCPU, step uint64) uintptr {
	for {
		tid := atomic.LoadUint64(&cc.pair.Hi)
		fl := uintptr(atomic.LoadUint64(&cc.pair.Lo))
		if fl == 0 {
			return 0
		}
		if c.cpuCAS(cc, uint64(fl), tid, uint64(c.getFP(fl)), tid+step) {
			return fl
		}
	}
}

// loadFreelist hands out the first object of fl and makes the rest the cpu
// freelist (load_freelist).
func (c *Cache) loadFreelist(cc *kmemCacheCPU, step uint64, fl uintptr) uintptr {
	c.installCPUChain(cc, step, c.getFP(fl))
	return fl
}

// installCPUChain makes the chain at head the cpu freelist. The caller holds
// the per-P lock and has taken the cpu slab off the P and detached its
// freelist, so no fast path can push or pop meanwhile (see kmemCacheCPU):
// the freelist is empty and the CAS cannot fail.
func (c *Cache) installCPUChain(cc *kmemCacheCPU, step uint64, head uintptr) {
	if testHookCPUInstall != nil {
		testHookCPUInstall()
	}
	tid := loadTid(cc)
	if cc.slab.Load() != nil || !c.cpuCAS(cc, 0, tid, uint64(head), tid+step) {
		panic("slub: " + c.name + ": cpu freelist installed while the cpu slab is on the P")
	}
}

// testHookCPUInstall, when set by a test, runs when installCPUChain starts.
var testHookCPUInstall func()

// detachCPUFreelist takes the whole cpu freelist, advancing the tid.
func (c *Cache) detachCPUFreelist(cc *kmemCacheCPU, step uint64) uintptr {
	for {
		tid := atomic.LoadUint64(&cc.pair.Hi)
		fl := atomic.LoadUint64(&cc.pair.Lo)
		if c.cpuCAS(cc, fl, tid, 0, tid+step) {
			return uintptr(fl)
		}
	}
}

// lockPair and unlockPair bracket a slab pair update made outside list_lock:
// nothing for lockless caches, list_lock for the others.
func (c *Cache) lockPair(noblock bool) bool {
	if c.lockless {
		return true
	}
	return c.node.lock(noblock)
}

func (c *Cache) unlockPair() {
	if !c.lockless {
		c.node.unlock()
	}
}

// getFreelist takes the cpu slab's freelist; the slab stays frozen while it
// had objects, and is unfrozen (full, on no list) when it had none.
// ok is false, and nothing changed, when a no-lock caller found list_lock
// busy.
func (c *Cache) getFreelist(s *slab, noblock bool) (fl uintptr, ok bool) {
	if !c.lockPair(noblock) {
		return 0, false
	}
	defer c.unlockPair()
	for {
		fl := s.freelist()
		oc := s.counters()
		nc := oc.withInuse(oc.objects()).withFrozen(fl != 0).next()
		if c.cmpxchg(s, fl, oc, 0, nc) {
			return fl, true
		}
	}
}

// freezeSlab takes the whole freelist of a slab that becomes a cpu slab
// (freeze_slab). The caller holds list_lock for caches without the CAS, or
// takes none for lockless ones.
// ok is false, and nothing changed, when a no-lock caller found list_lock
// busy.
func (c *Cache) freezeSlab(s *slab, noblock bool) (fl uintptr, ok bool) {
	if !c.lockPair(noblock) {
		return 0, false
	}
	defer c.unlockPair()
	return c.freezeLocked(s), true
}

func (c *Cache) freezeLocked(s *slab) uintptr {
	for {
		fl := s.freelist()
		oc := s.counters()
		if fl == 0 {
			return 0
		}
		if c.cmpxchg(s, fl, oc, 0, oc.withInuse(oc.objects()).withFrozen(true).next()) {
			return fl
		}
	}
}

// getPartialNode is the old get_partial_node: the first node partial slab
// becomes the cpu slab (frozen), further ones go to the cpu partial list
// until it holds more than half of cpuPartialSlabs. It returns (nil, 0, true)
// when the node has no partial slab, ok false when a try-lock failed.
func (c *Cache) getPartialNode(cc *kmemCacheCPU, noblock bool) (*slab, uintptr, bool) {
	n := &c.node
	if !n.lock(noblock) {
		return nil, 0, false
	}
	defer n.unlock()
	var cpuSlab *slab
	var fl uintptr
	for s := n.partialHead; s != nil; {
		next := s.next
		if cpuSlab == nil {
			n.removePartial(s)
			if f := c.freezeLocked(s); f != 0 {
				cpuSlab, fl = s, f
			}
		} else {
			cnt := 0
			if cc.partial != nil {
				cnt = cc.partial.cpuSlabs
			}
			if cnt > c.cpuPartialSlabs/2 {
				break
			}
			n.removePartial(s)
			c.pushCPUPartial(cc, s)
			c.stat(CPUPartialNode)
		}
		s = next
	}
	return cpuSlab, fl, true
}

func (c *Cache) pushCPUPartial(cc *kmemCacheCPU, s *slab) {
	cnt := 0
	if cc.partial != nil {
		cnt = cc.partial.cpuSlabs
	}
	s.onCPUPartial = true
	s.cpuNext = cc.partial
	s.cpuSlabs = cnt + 1
	cc.partial = s
}

// putCPUPartial is put_cpu_partial: a full slab got a free object; keep it on
// this P's cpu partial list, draining the list to the node first when it
// already holds cpuPartialSlabs.
func (c *Cache) putCPUPartial(s *slab) {
	cc, _ := c.thisCPU()
	cc.mu.Lock()
	var drain *slab
	if cc.partial != nil && cc.partial.cpuSlabs >= c.cpuPartialSlabs {
		drain = cc.partial
		cc.partial = nil
		c.stat(CPUPartialDrain)
	}
	c.pushCPUPartial(cc, s)
	cc.mu.Unlock()
	c.putPartials(drain)
}

// putPartials is __put_partials: move a detached cpu partial list to the
// node, freeing empty slabs beyond min_partial.
func (c *Cache) putPartials(list *slab) {
	if list == nil {
		return
	}
	n := &c.node
	var discard *slab
	n.lock(false)
	for s := list; s != nil; {
		next := s.cpuNext
		s.cpuNext, s.cpuSlabs, s.onCPUPartial = nil, 0, false
		if s.counters().inuse() == 0 && n.nrPartial >= n.minPartial {
			n.removeSlab(s)
			c.trace(EventSlabFree, s, 0)
			s.cpuNext = discard
			discard = s
			c.stat(DeactivateEmpty)
		} else {
			n.addPartial(s, true)
			c.stat(FreeAddPartial)
		}
		s = next
	}
	n.unlock()
	for s := discard; s != nil; {
		next := s.cpuNext
		c.freeSlabPages(s)
		s = next
	}
}

// deactivateSlab splices a detached cpu freelist back into its slab,
// unfreezes it and puts it where it belongs (deactivate_slab).
func (c *Cache) deactivateSlab(s *slab, fl uintptr) {
	tail, free := c.chainEnd(s, fl)
	n := &c.node
	c.lockPair(false)
	var nc counters
	var remote bool
	for {
		sfl := s.freelist()
		oc := s.counters()
		remote = sfl != 0
		head := sfl
		if fl != 0 {
			c.setFP(tail, sfl)
			head = fl
		}
		nc = oc.withInuse(oc.inuse() - free).withFrozen(false).next()
		if c.cmpxchg(s, sfl, oc, head, nc) {
			if remote {
				c.stat(DeactivateRemoteFree)
			}
			break
		}
	}
	c.unlockPair()
	n.lock(false)
	c.trace(EventDeactivate, s, free)
	switch {
	case nc.inuse() == 0 && n.nrPartial >= n.minPartial:
		n.removeSlab(s)
		c.trace(EventSlabFree, s, 0)
		n.unlock()
		c.stat(DeactivateEmpty)
		c.freeSlabPages(s)
		return
	case nc.free() > 0:
		// Decided from our own update: once unfrozen and full, the slab
		// belongs to whichever free makes it partial again.
		n.addPartial(s, remote)
		if remote {
			c.stat(DeactivateToTail)
		} else {
			c.stat(DeactivateToHead)
		}
	default:
		c.stat(DeactivateFull)
	}
	n.unlock()
}

// flushCPU is flush_cpu_slab for one P, run from any goroutine: deactivate
// the cpu slab and drain the cpu partial list.
func (c *Cache) flushCPU(cc *kmemCacheCPU, step uint64) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	c.flushCPULocked(cc, step)
}

// flushCPULocked is flushCPU with cc.mu held (list_lock nests inside it).
func (c *Cache) flushCPULocked(cc *kmemCacheCPU, step uint64) {
	s := cc.slab.Load()
	var fl uintptr
	if s != nil {
		cc.slab.Store(nil)
		fl = c.detachCPUFreelist(cc, step)
	}
	partial := cc.partial
	cc.partial = nil
	if s != nil {
		c.stat(CPUSlabFlush)
		c.deactivateSlab(s, fl)
	}
	c.putPartials(partial)
}

// flushCPUs flushes every P's cpu slab and cpu partial list.
func (c *Cache) flushCPUs() {
	a := c.cpus.Load()
	for _, cc := range a.c {
		c.flushCPU(cc, a.tidStep)
	}
}

func loadTid(cc *kmemCacheCPU) uint64 { return atomic.LoadUint64(&cc.pair.Hi) }

// cpuFreelistLen counts the objects on a P's cpu freelist, for Stats, with
// cc.mu held (so the cpu slab stays). The lockless fast paths may pop and
// push meanwhile: a walk counts only if the tid did not move during it, so
// that it never counts an object that was allocated meanwhile. A P too busy
// to give a still walk in a few tries counts 0, which errs towards more
// active objects, the direction Stats allows. The walk stays inside the cpu
// slab and stops after its object count.
func (c *Cache) cpuFreelistLen(cc *kmemCacheCPU) int {
	s := cc.slab.Load()
	if s == nil {
		return 0
	}
	for try := 0; try < 8; try++ {
		tid := loadTid(cc)
		n := 0
		for o := loadCPUFreelist(cc); o != 0 && n < c.objsPerSlab && c.validSlot(s, o); o = c.getFP(o) {
			n++
		}
		if loadTid(cc) == tid {
			return n
		}
	}
	return 0
}

func loadCPUFreelist(cc *kmemCacheCPU) uintptr {
	return uintptr(atomic.LoadUint64(&cc.pair.Lo))
}
