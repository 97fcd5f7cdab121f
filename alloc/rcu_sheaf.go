package alloc

import "unsafe"

// The rcu_free sheaf of the Sheaves and Hybrid designs (Linux 7.0's
// __kfree_rcu_sheaf and rcu_free_sheaf): FreeRCU pushes onto a per-P sheaf
// set aside for it; a full one is handed to the grace-period domain whole,
// and when its grace period has ended it goes to the barn as a full sheaf,
// ready for allocations, without its objects ever touching their slabs.
// The walk is in doc.go.

// maxEmptySheaves is MAX_EMPTY_SHEAVES: an rcu_free sheaf that comes back
// when the barn is full is flushed and kept as an empty sheaf only while
// the barn holds fewer than this many.
const maxEmptySheaves = 10

// sheafFreeRCU puts a on this P's rcu_free sheaf, making one of the empty
// spare, an empty barn sheaf or a new sheaf when the P has none, and hands
// the sheaf to the domain when it fills. It returns false, with nothing
// changed, when the P's sheaves are not to be had (a remote locker holds
// them, or the P has none yet): FREE_RCU_SHEAF_FAIL, and the caller takes
// the kfree_rcu batch instead. It never waits: the barn is only tried, and
// a new sheaf is made unpinned (alloc_empty_sheaf with GFP_NOWAIT).
func (c *Cache) sheafFreeRCU(s *slab, a uintptr) bool {
	var fresh *Sheaf
	for {
		p := c.pcsLock()
		if p == nil {
			pcsUnlock(nil)
			c.dropSheaf(fresh)
			return false
		}
		sh := p.rcuFree
		if sh == nil {
			switch {
			case p.spare != nil && p.spare.size == 0:
				sh, p.spare = p.spare, nil
			case fresh != nil:
				sh, fresh = fresh, nil
			case c.barn.lock(true):
				sh = c.barn.popEmpty()
				c.barn.mu.Unlock()
			}
			if sh == nil {
				pcsUnlock(p)
				fresh = c.newSheaf(c.sheafCapacity)
				continue
			}
			p.rcuFree = sh
		}
		if m := p.main; sh.size > 0 && sh.objs[sh.size-1] == a || m.size > 0 && m.objs[m.size-1] == a || s.freelist() == a {
			pcsUnlock(p)
			c.dropSheaf(fresh)
			c.doubleFree("FreeRCU", a)
		}
		sh.objs[sh.size] = a
		sh.size++
		pstat(&p.stat[FreeRCUSheaf])
		full := sh.full()
		if full {
			p.rcuFree = nil
		}
		pcsUnlock(p)
		c.dropSheaf(fresh)
		if full {
			c.queueRCUSheaf(sh, rcuSheafDone)
		}
		return true
	}
}

// dropSheaf lets go of a sheaf FreeRCU made and did not need (the kernel
// frees it); nil is a no-op.
func (c *Cache) dropSheaf(sh *Sheaf) {
	if sh != nil {
		c.stat(SheafFree)
	}
}

// queueRCUSheaf hands an rcu_free sheaf that left its P to the domain,
// with done to run after the grace period. Its objects count as queued
// before the hand-over.
func (c *Cache) queueRCUSheaf(sh *Sheaf, done func(*rcuHead)) {
	c.handOverRCU(&sh.rcu, sh.size, done)
}

// rcuSheafDone is rcu_free_sheaf, on the domain's goroutine once the
// sheaf's grace period has ended: to the barn as a full sheaf while it
// holds fewer than its limit (BARN_PUT), else flushed (BARN_PUT_FAIL)
// and kept as an empty sheaf while the barn holds fewer than
// maxEmptySheaves, else dropped.
func rcuSheafDone(h *rcuHead) {
	sh := (*Sheaf)(unsafe.Pointer(h))
	c := sh.cache
	n := sh.size
	c.rcu.queued.Add(-int64(n))
	c.statAdd(RCUFree, n)
	if c.barn.putFull(sh) {
		c.stat(BarnPut)
	} else {
		c.stat(BarnPutFail)
		c.flushSheaf(&sh.sheafObjs)
		if !c.barn.putEmptyBelow(sh, maxEmptySheaves) {
			c.stat(SheafFree)
		}
	}
	c.trace(EventRCUDone, 0, n)
}

// rcuSheafDoneNoBarn is rcu_free_sheaf_nobarn, for an rcu_free sheaf that a
// flush handed over (pcs_flush_all, Shrink, Destroy): the objects go back
// to the backing and the sheaf is dropped, as a flush wants.
func rcuSheafDoneNoBarn(h *rcuHead) {
	sh := (*Sheaf)(unsafe.Pointer(h))
	c := sh.cache
	n := sh.size
	c.rcu.queued.Add(-int64(n))
	c.statAdd(RCUFree, n)
	c.flushSheaf(&sh.sheafObjs)
	c.stat(SheafFree)
	c.trace(EventRCUDone, 0, n)
}

// putEmptyBelow stores an empty sheaf while the barn holds fewer than max
// empty ones; false when it holds that many.
func (b *barn) putEmptyBelow(sh *Sheaf, max int) bool {
	b.mu.Lock()
	ok := b.nrEmpty < max
	if ok {
		b.pushEmpty(sh)
	}
	b.mu.Unlock()
	return ok
}

// takeRCUFree detaches the rcu_free sheaf of p, whose lock the caller
// holds as a remote locker, for a flush to hand over: nil when p has none
// or the domain is closed (the sheaf then waits for Destroy, which frees
// it after a grace period of its own).
func (c *Cache) takeRCUFree(p *pcpuSheaves) *Sheaf {
	sh := p.rcuFree
	if sh == nil {
		return nil
	}
	if r := c.rcu.domain.Load(); r != nil && r.closed.Load() {
		return nil
	}
	p.rcuFree = nil
	return sh
}
