package alloc

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/goslub/slub/asm"
)

// The cpu slab layer of the old design (the kernel's kmem_cache_cpu, Linux
// 6.19 and before), shared by CPUSlab (cpuslab_pinned.go), CPUSlabLocked
// (cpuslab_locked.go) and, under its sheaves, Hybrid. This file holds what
// the variants share: the per-P structure, the slab-level steps of
// ___slab_alloc and deactivate_slab, and the cpu partial lists. The walks
// are in doc.go.

// kmemCacheCPU is one P's cpu slab.
//
// pair is (freelist, tid): the cpu freelist, detached from the cpu slab, and
// a transaction id that every change advances by tidStep. How the pair is
// protected is the variant's: CPUSlab changes it only pinned, holding lock,
// with a CAS that needs no LOCK prefix; CPUSlabLocked changes it from any P
// with LOCK CMPXCHG16B, and its slow paths hold mu.
type kmemCacheCPU struct {
	// The fast paths touch slot, lock, slab and the first counters
	// (ALLOC_FASTPATH, FREE_FASTPATH): within 64 bytes on 64-bit
	// platforms.
	slot asm.PairSlot         // holds pair: (freelist, tid), 16-byte aligned
	lock localLock            // CPUSlab: the per-P lock (the owner pinned)
	slab atomic.Pointer[slab] // the cpu slab (frozen), or nil
	// stat counts fast-path events with plain increments, as this_cpu_inc
	// does; Stats reads them atomically. In CPUSlabLocked two goroutines
	// can use the same P's structure at once (one migrated meanwhile) and
	// lose an increment: that variant's fast-path counters are approximate.
	// The zero-size field aligns stat to 8 bytes on every platform, as its
	// 64-bit atomics need.
	_       [0]atomic.Uint64
	stat    [NumStatItems]uint64
	partial *slab      // cpu partial list, under the per-P lock
	mu      sync.Mutex // CPUSlabLocked: the per-P lock of the slow paths (local_lock)
	_       [56]byte
}

// pair returns the (freelist, tid) pair.
func (cc *kmemCacheCPU) pair() *asm.Pair { return cc.slot.Pair() }

type cpuArray struct {
	c       []*kmemCacheCPU
	locks   []*localLock
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
	n := max(pid+1, gomaxprocs())
	a := &cpuArray{c: make([]*kmemCacheCPU, n), locks: make([]*localLock, n), tidStep: old.tidStep}
	copy(a.c, old.c)
	for i := range a.c {
		if a.c[i] == nil {
			cc := new(kmemCacheCPU)
			assertPairAligned(cc.pair())
			cc.pair().Hi = uint64(i) // init_tid
			a.c[i] = cc
		}
		a.locks[i] = &a.c[i].lock
	}
	c.cpus.Store(a)
}

// growCPUsFor gives the P the goroutine runs on a kmemCacheCPU if it has
// none yet (GOMAXPROCS grew). With noblock it does not wait for growMu,
// which a flush holds while trace hooks run: it reports false, and the
// caller gives up ("not now").
func (c *Cache) growCPUsFor(noblock bool) bool {
	pid := procPin()
	procUnpin()
	if pid >= len(c.cpus.Load().c) {
		if noblock {
			c.stat(NoLockBusy)
			return false
		}
		c.growCPUs(pid)
	}
	return true
}

func assertPairAligned(p *asm.Pair) {
	if !asm.Aligned(p) {
		panic("alloc: (freelist, tid) pair is not 16-byte aligned")
	}
}

func loadTid(cc *kmemCacheCPU) uint64 { return atomic.LoadUint64(&cc.pair().Hi) }

func loadCPUFreelist(cc *kmemCacheCPU) uintptr {
	return uintptr(atomic.LoadUint64(&cc.pair().Lo))
}

// lockPair and unlockPair bracket a slab pair update made outside list_lock:
// nothing for lockless caches, list_lock for the others (try-locked with
// noblock, when false means nothing was done).
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

// getFreelist takes the cpu slab's own freelist, which remote frees filled
// (get_freelist): the slab stays frozen while it had objects, and is
// unfrozen (full, on no list) when it had none. ok is false, and nothing
// changed, when noblock and list_lock was busy (caches without the
// double-word CAS).
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
// (freeze_slab). ok is false, and nothing changed, when noblock and
// list_lock was busy.
func (c *Cache) freezeSlab(s *slab, noblock bool) (fl uintptr, ok bool) {
	if !c.lockPair(noblock) {
		return 0, false
	}
	defer c.unlockPair()
	return c.freezeLocked(s), true
}

// freezeLocked is freezeSlab for a caller that holds list_lock or whose
// cache is lockless.
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
// is frozen to become a cpu slab and its freelist taken; further slabs are
// detached for the cpu partial list (CPU_PARTIAL_NODE) until more than half
// of cpuPartialSlabs were taken. They come back linked by cpuNext. ok is
// false when noblock and list_lock was busy; s is nil when the node has no
// partial slab.
func (c *Cache) getPartialNode(noblock bool) (s *slab, fl uintptr, extra *slab, ok bool) {
	n := &c.node
	if !n.lock(noblock) {
		return nil, 0, nil, false
	}
	defer n.unlock()
	var last *slab
	have := 0
	for p := n.partialHead; p != nil && have <= c.cpuPartialSlabs/2; {
		next := p.next
		if s == nil {
			n.removePartial(p)
			if f := c.freezeLocked(p); f != 0 {
				s, fl = p, f
			}
		} else {
			n.removePartial(p)
			p.onCPUPartial = true
			if last == nil {
				extra = p
			} else {
				last.cpuNext = p
			}
			last = p
			have++
			c.stat(CPUPartialNode)
		}
		p = next
	}
	return s, fl, extra, true
}

// newCPUSlab cuts a new slab that becomes a cpu slab at once: frozen, its
// whole freelist returned, registered with the node (on no list). nil when
// memory says no or, with noblock, a lock was busy.
func (c *Cache) newCPUSlab(noblock bool) (*slab, uintptr) {
	s := c.newSlab(noblock)
	if s == nil {
		return nil, 0
	}
	fl := s.freelist()
	s.pair().Lo = 0
	s.pair().Hi = uint64(mkCounters(c.objsPerSlab, c.objsPerSlab, true, 1))
	if !c.registerSlab(s, false, noblock) {
		return nil, 0
	}
	return s, fl
}

// pushCPUPartial puts s at the head of cc's cpu partial list. The caller
// holds the per-P lock.
func pushCPUPartial(cc *kmemCacheCPU, s *slab) {
	cnt := 0
	if cc.partial != nil {
		cnt = cc.partial.cpuSlabs
	}
	s.onCPUPartial = true
	s.cpuNext = cc.partial
	s.cpuSlabs = cnt + 1
	cc.partial = s
}

// popCPUPartial takes the head of cc's cpu partial list. The caller holds
// the per-P lock.
func popCPUPartial(cc *kmemCacheCPU) *slab {
	s := cc.partial
	if s == nil {
		return nil
	}
	cc.partial = s.cpuNext
	if cc.partial != nil {
		cc.partial.cpuSlabs = s.cpuSlabs - 1
	}
	s.cpuNext, s.cpuSlabs = nil, 0
	s.onCPUPartial = false
	return s
}

// cpuPartialCount is how many slabs cc's cpu partial list holds.
func cpuPartialCount(cc *kmemCacheCPU) int {
	if cc.partial == nil {
		return 0
	}
	return cc.partial.cpuSlabs
}

// putCPUPartialLocked is put_cpu_partial with the per-P lock held: push s,
// first detaching the whole list for the node when it already holds
// cpuPartialSlabs (CPU_PARTIAL_DRAIN). The caller gives the detached list
// to putPartials once it has dropped the per-P lock.
func (c *Cache) putCPUPartialLocked(cc *kmemCacheCPU, s *slab) (drain *slab) {
	if cpuPartialCount(cc) >= c.cpuPartialSlabs {
		drain = cc.partial
		cc.partial = nil
		c.stat(CPUPartialDrain)
	}
	pushCPUPartial(cc, s)
	return drain
}

// putCPUPartial is put_cpu_partial: a full slab got a free object; keep it
// on this P's cpu partial list. Each variant takes its own per-P lock.
func (c *Cache) putCPUPartial(s *slab) {
	if c.design == CPUSlabLocked {
		c.lockedPutCPUPartial(s)
	} else {
		c.pinnedPutCPUPartial(s)
	}
}

// putNodePartial puts s, which a free made partial, on the node's partial
// list where the P's cpu partial list cannot take it (FREE_ADD_PARTIAL).
func (c *Cache) putNodePartial(s *slab) {
	n := &c.node
	n.lock(false)
	n.addPartial(s, true)
	n.unlock()
	c.stat(FreeAddPartial)
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
		if s.counters().inuse() == 0 && n.overMinPartial() {
			n.removeSlab(s)
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
	c.discardSlabs(discard)
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
	start := s.start // the slab may be freed once list_lock is dropped
	n.lock(false)
	switch {
	case nc.inuse() == 0 && n.overMinPartial():
		n.removeSlab(s)
		n.unlock()
		c.stat(DeactivateEmpty)
		c.freeSlabPages(s)
		c.traceSlab(EventDeactivate, start, free)
		c.traceSlab(EventSlabFree, start, 0)
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
	c.traceSlab(EventDeactivate, start, free)
}

// detachCPU takes the cpu slab, its cpu freelist and the cpu partial list
// off cc, whose per-P lock the caller holds. CPUSlabLocked's lockless
// paths may still run: the slab goes first, so that no fast free pushes
// onto the freelist once it is detached, and the freelist is detached with
// the CAS, advancing the tid.
func (c *Cache) detachCPU(cc *kmemCacheCPU, step uint64) (s *slab, fl uintptr, partial *slab) {
	s = cc.slab.Load()
	if s != nil {
		cc.slab.Store(nil)
		for {
			tid := loadTid(cc)
			f := atomic.LoadUint64(&cc.pair().Lo)
			if c.cpuCAS(cc, f, tid, 0, tid+step) {
				fl = uintptr(f)
				break
			}
		}
	}
	partial = cc.partial
	cc.partial = nil
	return s, fl, partial
}

// flushCPULocked is flush_cpu_slab for one P, whose per-P lock the caller
// holds (list_lock nests inside it): deactivate the cpu slab and drain the
// cpu partial list.
func (c *Cache) flushCPULocked(cc *kmemCacheCPU, step uint64) {
	if err := c.cpuFreelistErr(cc); err != nil {
		// Before anything changes: the freelist stays where Validate
		// can report it, and the caller's locks are released on the way.
		panic("alloc: " + c.name + ": " + err.Error())
	}
	s, fl, partial := c.detachCPU(cc, step)
	if s != nil {
		c.stat(CPUSlabFlush)
	}
	c.retire(s, fl, partial)
}

// keepOnPanic is deferred by a slow path that has taken object a for its
// caller and then fires trace events: if a hook panics, a goes back to its
// slab before the panic goes on, so that nothing is lost.
func (c *Cache) keepOnPanic(a uintptr) {
	if r := recover(); r != nil {
		c.giveBack([]uintptr{a}, false)
		panic(r)
	}
}

// retire deactivates s, a detached cpu slab with its freelist fl (none if
// s is nil), and puts a detached cpu partial list on the node. The list
// goes there even if a trace hook panics at the deactivation.
func (c *Cache) retire(s *slab, fl uintptr, partial *slab) {
	defer c.putPartials(partial)
	if s != nil {
		c.deactivateSlab(s, fl)
	}
}

// cpuCAS updates a (freelist, tid) pair with the CAS of the cache's variant:
// CPUSlab's unlocked CMPXCHG16B (its callers hold the per-P lock, pinned or
// remote; see pinnedCAS), CPUSlabLocked's LOCK CMPXCHG16B, or, without the
// double-word CAS, a compare and store under the per-P lock the caller
// holds.
func (c *Cache) cpuCAS(cc *kmemCacheCPU, oldFL, oldTid, newFL, newTid uint64) bool {
	p := cc.pair()
	switch {
	case c.design != CPUSlabLocked:
		return c.pinnedCAS(cc, oldFL, oldTid, newFL, newTid)
	case c.lockless:
		return asm.CompareAndSwap(p, oldFL, oldTid, newFL, newTid)
	}
	if atomic.LoadUint64(&p.Lo) != oldFL || atomic.LoadUint64(&p.Hi) != oldTid {
		return false
	}
	atomic.StoreUint64(&p.Lo, newFL)
	atomic.StoreUint64(&p.Hi, newTid)
	return true
}

// cpuFreelistLen counts the objects on a P's cpu freelist, for Stats, with
// the P's lock held (so the cpu slab stays). CPUSlabLocked's lockless fast
// paths may pop and push meanwhile: a walk counts only if the tid did not
// move during it, so that it never counts an object that was allocated
// meanwhile. A P too busy to give a still walk in a few tries counts 0,
// which errs towards more active objects, the direction Stats allows. The
// walk stays inside the cpu slab and stops after its object count.
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

// flushSoundCPUs is the flush of percpu.lock for Validate: every P's cpu
// slab and cpu partial list, with every per-P lock held, but for a P whose
// cpu freelist is corrupt (which deactivating would panic on), left for
// validateCPUs to report. A panic meanwhile (a trace hook's) calls unlock
// on its way out, so no per-P lock stays held.
func (c *Cache) flushSoundCPUs(a *cpuArray, unlock func()) {
	done := false
	defer func() {
		if !done {
			unlock()
		}
	}()
	for _, cc := range a.c {
		if c.cpuFreelistErr(cc) == nil {
			c.flushCPULocked(cc, a.tidStep)
		}
	}
	done = true
}

// cpuFreelistErr checks the cpu freelist of cc, whose per-P lock the
// caller holds: every entry an object of the cpu slab, no more of them
// than the slab has (no cycle). CPUSlabLocked's lockless paths may pop and
// push meanwhile: a walk counts only if the tid stood still during it, and
// a P too busy to give a still walk in a few tries counts as sound.
func (c *Cache) cpuFreelistErr(cc *kmemCacheCPU) error {
	s := cc.slab.Load()
	for try := 0; try < 8; try++ {
		tid := loadTid(cc)
		var err error
		prev, n := uintptr(0), 0
		for o := loadCPUFreelist(cc); o != 0; o = c.getFP(o) {
			if s == nil || !c.validSlot(s, o) {
				err = fmt.Errorf("cpu freelist holds %#x after %#x, not an object of its cpu slab (written after free?)", o, prev)
				break
			}
			if n++; n > c.objsPerSlab {
				err = fmt.Errorf("cpu freelist is longer than the %d objects of its cpu slab (a cycle; written after free?)", c.objsPerSlab)
				break
			}
			prev = o
		}
		if loadTid(cc) == tid {
			return err
		}
	}
	return nil
}

// validateCPUs checks, after a flush under the per-P locks, that no P holds
// a cpu slab, a cpu freelist or cpu partial slabs, and names a corrupt cpu
// freelist that the flush left alone.
func (c *Cache) validateCPUs(v *validation) {
	for i, cc := range c.cpus.Load().c {
		if err := c.cpuFreelistErr(cc); err != nil {
			v.fail("P%d: %v", i, err)
			continue
		}
		if cc.slab.Load() != nil || loadCPUFreelist(cc) != 0 {
			v.fail("P%d still has a cpu slab after the flush", i)
		}
		if cc.partial != nil {
			v.fail("P%d cpu partial list not empty after the flush", i)
		}
	}
}

// countCPUs adds the objects on cpu freelists and the per-P counters to st.
func (c *Cache) countCPUs(st *Stats) {
	for _, cc := range c.cpus.Load().c {
		for i := range st.Counters {
			st.Counters[i] += loadCounter(&cc.stat[i])
		}
		st.CachedObjects += int64(c.cpuFreelistLen(cc))
	}
}
