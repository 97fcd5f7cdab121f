package alloc

// FreeRCU: frees deferred until a grace period of the cache's RCU domain
// has ended (the kernel's kfree_rcu and kvfree_rcu_mightsleep), and what
// Shrink, Destroy and Stats do about them. Where the objects wait is the
// design's: the per-P rcu_free sheaf of Sheaves and Hybrid (rcu_sheaf.go),
// the classic per-P kfree_rcu batches of the cpu slab designs and of the
// sheaves' fallback (rcu_batch.go); debug caches poison the object and
// check the poison when the grace period ends (rcu_debug.go). Slabs of
// TypesafeByRCU caches wait too (typesafe.go). See doc.go for the walks.

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// rcuState is a cache's part in grace periods.
type rcuState struct {
	config   *RCU // Config.RCU; nil: the default domain
	typesafe bool // Config.TypesafeByRCU

	domain    atomic.Pointer[RCU]           // the domain, once FreeRCU or a typesafe slab free has used it
	batches   atomic.Pointer[rcuBatchArray] // per-P kfree_rcu batches, made on first use
	batchPool sync.Pool                     // empty batches, for the next P that needs one (*rcuBatch)

	// queued counts the objects of sheaves and batches handed to the
	// domain and not yet back: it goes up before the hand-over and down
	// before the objects leave (to the barn, or to their slabs), so Stats
	// never counts an object both here and where it goes.
	queued atomic.Int64
	slabs  atomic.Int64 // TypesafeByRCU slabs waiting for a grace period
}

// rcuDomain returns the cache's domain, noting that the cache uses it.
func (c *Cache) rcuDomain() *RCU {
	if r := c.rcu.domain.Load(); r != nil {
		return r
	}
	r := c.rcu.config
	if r == nil {
		r = DefaultRCU()
	}
	c.rcu.domain.Store(r)
	return r
}

// RCU returns the grace-period domain that FreeRCU and TypesafeByRCU use:
// Config.RCU, or DefaultRCU().
func (c *Cache) RCU() *RCU {
	c.checkMade()
	if r := c.rcu.config; r != nil {
		return r
	}
	return DefaultRCU()
}

// FreeRCU frees obj once a grace period of the cache's RCU domain has
// ended: every read-side section that might hold obj when FreeRCU is called
// has left by the time the memory is reused (kfree_rcu). The caller must
// have unpublished obj first, so that no section that begins later can
// find it. A nil obj is a no-op.
//
// FreeRCU never blocks and never waits for a grace period, so it may be
// called inside a read-side section and from a trace hook, like
// FreeNoLock; it runs no code of the caller's but the cache's Trace hook
// (EventRCUQueue, when it hands a full rcu_free sheaf or batch over) and a
// debug cache's OnReport. The objects wait per P, in the rcu_free sheaf
// (Sheaves, Hybrid) or in a kfree_rcu batch (the cpu slab designs, debug
// caches), which is handed to the domain when full, or by Shrink, Destroy
// and reclaim; Stats counts them in RCUPending. A pointer the cache did not
// hand out panics as in Free, before anything changes, as do the cheap
// double-free checks; a debug cache reports a double free and ignores it.
// FreeRCU panics once the domain is closed or stopped.
func (c *Cache) FreeRCU(obj unsafe.Pointer) {
	c.checkMade()
	a := uintptr(obj)
	if a == 0 {
		return
	}
	c.checkLive()
	s := c.checkObject("FreeRCU", a)
	c.checkDomain("FreeRCU", a)
	c.freeRCU(s, a)
}

// freeRCU is FreeRCU of a, an object slot of slab s that the caller
// checked.
func (c *Cache) freeRCU(s *slab, a uintptr) {
	switch {
	case c.isDebug():
		c.debugFreeRCU(s, a)
	case c.pcs.Load() != nil:
		if !c.sheafFreeRCU(s, a) {
			c.stat(FreeRCUSheafFail)
			c.batchFreeRCU(s, a, nil)
		}
	default:
		c.batchFreeRCU(s, a, nil)
	}
}

// checkDomain panics, naming the cache and the address, when the domain
// can no longer run deferred frees.
func (c *Cache) checkDomain(op string, a uintptr) {
	r := c.rcuDomain()
	if r.closed.Load() {
		c.badPointer(op, a, fmt.Sprintf("%v is closed", r))
	}
	if err := r.err(); err != nil {
		c.badPointer(op, a, err.Error())
	}
}

// FreeRCUSync frees obj after a grace period, waiting for it
// (kvfree_rcu_mightsleep): Synchronize, then Free. It queues nothing, so it
// adds nothing to the memory pending on grace periods, at the cost of a
// grace period per call (concurrent callers share them). It must not be
// called inside a read-side section of the cache's domain, nor from a
// trace hook. Bad pointers panic, and a debug cache reports a double free,
// before the wait.
func (c *Cache) FreeRCUSync(obj unsafe.Pointer) {
	c.checkMade()
	a := uintptr(obj)
	if a == 0 {
		return
	}
	c.checkLive()
	s := c.checkObject("FreeRCUSync", a)
	if c.isDebug() && !c.debugCheckAllocated("", s, a) {
		return
	}
	c.RCU().Synchronize()
	c.Free(obj)
}

// FreeRCU frees a T that New returned after a grace period (Cache.FreeRCU).
func (t *Typed[T]) FreeRCU(p *T) {
	t.checkMade()
	t.c.FreeRCU(unsafe.Pointer(p))
}

// FreeRCU is Cache.FreeRCU for the heap: p, which Malloc, Zalloc, Realloc
// or MallocNoLock returned, is freed after a grace period. A large
// allocation leaves the heap's table at once (a second free of it panics)
// and its pages go back after the grace period. nil and the zero-size
// pointer are no-ops.
func (h *Heap) FreeRCU(p unsafe.Pointer) {
	h.checkMade()
	a := uintptr(p)
	if a == 0 || a == zeroSize() {
		return
	}
	s := h.owner("FreeRCU", a)
	if s.cache == nil {
		h.freeLargeRCU(s)
		return
	}
	c := s.cache
	c.checkLive()
	c.checkObject("FreeRCU", a)
	c.checkDomain("FreeRCU", a)
	c.freeRCU(s, a)
}

// FreeRCUSync is Cache.FreeRCUSync for the heap: Synchronize, then Free.
func (h *Heap) FreeRCUSync(p unsafe.Pointer) {
	h.checkMade()
	a := uintptr(p)
	if a == 0 || a == zeroSize() {
		return
	}
	s := h.owner("FreeRCUSync", a)
	if s.cache != nil {
		c := s.cache
		c.checkObject("FreeRCUSync", a)
		if c.isDebug() && !c.debugCheckAllocated("", s, a) {
			return
		}
	}
	h.caches[0].RCU().Synchronize()
	h.Free(p)
}

// largeRCU is a large allocation waiting for its grace period.
type largeRCU struct {
	head rcuHead // first: largeRCUDone converts the head's pointer
	h    *Heap
	s    *slab
}

// freeLargeRCU takes s out of the heap's table, so that a second free
// panics at once, and queues its pages for after the grace period. The
// table's lock is a leaf held for one map update.
func (h *Heap) freeLargeRCU(s *slab) {
	r := h.caches[0].rcuDomain() // the heap's caches share Config.RCU
	if r.closed.Load() || r.err() != nil {
		panic(fmt.Sprintf("alloc: kmalloc: FreeRCU(%#x): %v can run no more deferred frees", s.base, r))
	}
	h.largeMu.Lock()
	if h.large[s.base] != s {
		h.largeMu.Unlock()
		panic(fmt.Sprintf("alloc: kmalloc: FreeRCU(%#x): double free of a large allocation", s.base))
	}
	delete(h.large, s.base)
	h.largeMu.Unlock()
	h.rcuLarge.Add(1)
	r.call(&(&largeRCU{h: h, s: s}).head, 1, largeRCUDone)
}

func largeRCUDone(head *rcuHead) {
	l := (*largeRCU)(unsafe.Pointer(head))
	pages.freePages(l.s.start, l.s.npages)
	l.h.limit.release(int64(l.s.npages) * pageSize)
	l.h.rcuLarge.Add(-1)
}

// rcuBarrier hands every rcu_free sheaf and kfree_rcu batch of the cache
// to the domain and waits until all of the cache's deferred frees have run
// (kmem_cache_destroy's rcu_barrier). On a closed domain it waits for a
// grace period and frees what the Ps held itself. It returns an error,
// having changed nothing, when the domain has stopped.
func (c *Cache) rcuBarrier() error {
	r := c.rcu.domain.Load()
	if r == nil {
		return nil // never used
	}
	if err := r.err(); err != nil {
		if n := c.rcuPending(); n > 0 || c.rcu.slabs.Load() > 0 {
			return fmt.Errorf("%d objects freed with FreeRCU wait for a grace period, and %w", n, err)
		}
		return nil
	}
	if r.closed.Load() {
		if c.runRCUHeld(r) {
			r.Synchronize()
		}
		return nil
	}
	c.queueRCUHeld()
	if c.rcu.queued.Load() > 0 || c.rcu.slabs.Load() > 0 {
		r.Barrier()
	}
	return nil
}

// queueRCUHeld hands every P's rcu_free sheaf and kfree_rcu batch to the
// domain.
func (c *Cache) queueRCUHeld() {
	sheaves, batches := c.takeRCUHeld()
	for sh := sheaves; sh != nil; {
		next := sh.next
		sh.next = nil
		c.queueRCUSheaf(sh, rcuSheafDoneNoBarn)
		sh = next
	}
	for b := batches; b != nil; {
		next := b.next
		b.next = nil
		c.queueRCUBatch(b)
		b = next
	}
}

// runRCUHeld is queueRCUHeld for a closed domain, which runs no deferred
// free: it takes what the Ps hold, waits for a grace period and frees it.
// It reports whether there was anything.
func (c *Cache) runRCUHeld(r *RCU) bool {
	sheaves, batches := c.takeRCUHeld()
	if sheaves == nil && batches == nil {
		return false
	}
	r.Synchronize()
	for sh := sheaves; sh != nil; {
		next := sh.next
		sh.next = nil
		c.rcu.queued.Add(int64(sh.size))
		rcuSheafDoneNoBarn(&sh.rcu)
		sh = next
	}
	for b := batches; b != nil; {
		next := b.next
		b.next = nil
		c.rcu.queued.Add(int64(b.n))
		rcuBatchDone(&b.head)
		b = next
	}
	return true
}

// takeRCUHeld takes every P's rcu_free sheaf and kfree_rcu batch, as a
// remote locker, and returns them linked by their next fields.
func (c *Cache) takeRCUHeld() (sheaves *Sheaf, batches *rcuBatch) {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	if pcs := c.pcs.Load(); pcs != nil {
		lockRemote(pcs.locks)
		for i := range pcs.p {
			if sh := pcs.p[i].rcuFree; sh != nil {
				pcs.p[i].rcuFree = nil
				sh.next = sheaves
				sheaves = sh
			}
		}
		unlockRemote(pcs.locks)
	}
	return sheaves, c.takeRCUBatches()
}

// takeRCUBatches takes every P's kfree_rcu batch, as a remote locker
// (the caller holds flushMu), and returns them linked by next.
func (c *Cache) takeRCUBatches() (list *rcuBatch) {
	a := c.rcu.batches.Load()
	if a == nil {
		return nil
	}
	lockRemote(a.locks)
	for i := range a.p {
		if b := a.p[i].batch; b != nil {
			a.p[i].batch = nil
			b.next = list
			list = b
		}
	}
	unlockRemote(a.locks)
	return list
}

// rcuPending returns how many objects freed with FreeRCU wait for a grace
// period: in rcu_free sheaves, in kfree_rcu batches, or queued. It takes
// the per-P locks as a remote locker.
func (c *Cache) rcuPending() int64 {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	var st Stats
	c.countRCU(&st, true)
	return st.RCUPending
}

// countRCU adds the objects waiting for grace periods, the kfree_rcu
// batches' per-P counters and the domain's counters to st. The caller holds
// flushMu; with lockPCS it also takes the sheaves' per-P locks, which
// quiesce holds already. The per-P sheaves and batches are read before
// queued: a sheaf or batch handed over meanwhile left its P before queued
// went up, so it is counted once or (towards more active objects) not at
// all.
func (c *Cache) countRCU(st *Stats, lockPCS bool) {
	if pcs := c.pcs.Load(); pcs != nil {
		if lockPCS {
			lockRemote(pcs.locks)
		}
		for i := range pcs.p {
			if sh := pcs.p[i].rcuFree; sh != nil {
				st.RCUPending += int64(sh.size)
			}
		}
		if lockPCS {
			unlockRemote(pcs.locks)
		}
	}
	if a := c.rcu.batches.Load(); a != nil {
		lockRemote(a.locks)
		for i := range a.p {
			p := &a.p[i]
			if p.batch != nil {
				st.RCUPending += int64(p.batch.n)
			}
			st.Counters[FreeRCUBatch] += loadCounter(&p.freed)
		}
		unlockRemote(a.locks)
	}
	st.RCUPending += c.rcu.queued.Load()
	st.RCUSlabs = c.rcu.slabs.Load()
	if r := c.rcu.domain.Load(); r != nil {
		st.RCU = r.Stats()
	}
}
