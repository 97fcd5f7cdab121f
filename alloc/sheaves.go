package alloc

// The Sheaves design's per-P layer (Linux 7.0's slub_percpu_sheaves). The
// walks are in doc.go.

// pcpuSheaves is one P's sheaves. main is never nil; spare is nil, empty,
// full or (after ReturnSheaf) partly full. Only the P's owner, pinned and
// holding lock, or a remote locker touches main, spare and stat.
type pcpuSheaves struct {
	lock  localLock
	main  *Sheaf
	spare *Sheaf
	stat  [NumStatItems]uint64 // events counted while pinned; read atomically
	_     [64]byte             // keep neighbouring Ps' lock words apart
}

// pcpuArray is a cache's per-P sheaves, indexed by P id, stored by value so
// the fast path follows one pointer less. When GOMAXPROCS grows, a larger
// array replaces it: the old array's sheaves move over under remote locks,
// and the old array stays remote-locked forever, so a goroutine that still
// holds it takes the slow path.
type pcpuArray struct {
	p     []pcpuSheaves
	locks []*localLock
}

// growPCS makes sure P id pid has sheaves.
func (c *Cache) growPCS(pid int) {
	c.growMu.Lock()
	defer c.growMu.Unlock()
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	old := c.pcs.Load()
	if pid < len(old.p) {
		return
	}
	n := max(pid+1, gomaxprocs())
	a := &pcpuArray{p: make([]pcpuSheaves, n), locks: make([]*localLock, n)}
	lockRemote(old.locks)
	for i := range a.p {
		p := &a.p[i]
		if i < len(old.p) {
			o := &old.p[i]
			p.main, p.spare, p.stat = o.main, o.spare, o.stat
		} else {
			p.main = c.newSheaf(c.sheafCapacity)
		}
		a.locks[i] = &p.lock
	}
	c.pcs.Store(a)
}

// sheavesAlloc is alloc_from_pcs followed by the slow path. Alloc has
// already tried the main sheaf.
func (c *Cache) sheavesAlloc() uintptr {
	if a := c.pcsPop(AllocFastpath); a != 0 {
		return a
	}
	pid := procPin()
	procUnpin()
	return c.sheavesAllocSlow(pid)
}

// pcsPop pops from this P's sheaves: main, else a spare with objects, else a
// full sheaf traded from the barn if its lock is free. It returns 0 when the
// P has nothing at hand or its lock is taken; it never waits. Besides
// ALLOC_FASTPATH it counts also (a no-lock caller's NOLOCK_ALLOC) in the
// per-P counters, which cost no atomic operation.
func (c *Cache) pcsPop(also StatItem) uintptr {
	var a uintptr
	pid := procPin()
	if pcs := c.pcs.Load(); pid < len(pcs.p) {
		p := &pcs.p[pid]
		if p.lock.tryLock() {
			m := p.main
			if m.size == 0 {
				m = c.replaceEmptyMain(p)
			}
			if m != nil {
				m.size--
				a = m.objs[m.size]
				pstat(&p.stat[AllocFastpath])
				if also != AllocFastpath {
					pstat(&p.stat[also])
				}
			}
			p.lock.unlock()
		}
	}
	procUnpin()
	return a
}

// replaceEmptyMain is the pinned part of __pcs_replace_empty_main: swap with a
// spare that has objects, else trade the empty main for a full sheaf of the
// barn if its lock is free. It returns the new main, or nil.
func (c *Cache) replaceEmptyMain(p *pcpuSheaves) *Sheaf {
	if sp := p.spare; sp != nil && sp.size > 0 {
		p.spare, p.main = p.main, sp
		return sp
	}
	if full := c.barn.replaceEmpty(p.main, true); full != nil {
		p.main = full
		pstat(&p.stat[BarnGet])
		return full
	}
	return nil
}

// sheavesAllocSlow runs unpinned when the main and spare sheaves are empty and
// the barn had nothing at hand: get a full sheaf from the barn (waiting for
// its lock) or refill one from slabs, take an object and install the rest.
func (c *Cache) sheavesAllocSlow(pid int) uintptr {
	c.checkLive()
	if pid >= len(c.pcs.Load().p) {
		c.growPCS(pid)
	}
	c.drainDeferred()
	full := c.barn.getFull()
	if full != nil {
		c.stat(BarnGet)
		c.trace(EventBarnGet, nil, full.size)
	} else {
		c.stat(BarnGetFail)
		full = c.barn.getEmpty()
		if full == nil {
			full = c.newSheaf(c.sheafCapacity)
		}
		if !c.refillSheaf(full, false) && !(c.reclaim() && c.refillSheaf(full, false)) {
			c.stashEmpty(full)
			return 0
		}
	}
	full.size--
	a := full.objs[full.size]
	c.installSheaf(full)
	return a
}

// installSheaf puts a sheaf with objects where the P it now runs on can use
// it: as main if main is empty, else as spare, else in the barn (the install
// step of __pcs_replace_empty_main, which must cope with having moved to
// another P while unpinned).
func (c *Cache) installSheaf(sh *Sheaf) {
	var toEmpty, toFull *Sheaf
	pid := procPin()
	if pcs := c.pcs.Load(); pid < len(pcs.p) && pcs.p[pid].lock.tryLock() {
		p := &pcs.p[pid]
		switch {
		case p.main.size == 0:
			old := p.main
			p.main = sh
			if p.spare == nil {
				p.spare = old
			} else {
				toEmpty = old
			}
		case p.spare == nil:
			p.spare = sh
		case p.spare.size == 0:
			toEmpty = p.spare
			p.spare = sh
		default:
			toFull = sh
		}
		p.lock.unlock()
	} else {
		toFull = sh
	}
	procUnpin()
	if toEmpty != nil {
		c.stashEmpty(toEmpty)
	}
	if toFull != nil {
		// Once in the barn the sheaf is anyone's: read its size first.
		if n := toFull.size; n == 0 {
			c.stashEmpty(toFull)
		} else {
			c.barn.putFull(toFull, true)
			c.stat(BarnPut)
			c.trace(EventBarnPut, nil, n)
		}
	}
}

// stashEmpty keeps an empty sheaf in the barn, or drops it past the limit.
func (c *Cache) stashEmpty(sh *Sheaf) {
	if !c.barn.putEmpty(sh) {
		c.stat(SheafFree)
	}
}

// sheavesFree is free_to_pcs followed by the slow path. Free has already
// tried the main sheaf.
func (c *Cache) sheavesFree(s *slab, a uintptr) {
	if !c.pcsPush(a, FreeFastpath) {
		c.sheavesFreeSlow(s, a)
	}
}

// pcsPush pushes onto this P's sheaves: main, else a spare with room, else an
// empty sheaf traded from the barn if its lock is free. It returns false when
// none has room or the P's lock is taken; it never waits. An object already
// on top of the main sheaf is a double free and panics. Like pcsPop it
// counts also per P besides FREE_FASTPATH.
func (c *Cache) pcsPush(a uintptr, also StatItem) bool {
	ok := false
	pid := procPin()
	if pcs := c.pcs.Load(); pid < len(pcs.p) {
		p := &pcs.p[pid]
		if p.lock.tryLock() {
			m := p.main
			if m.size > 0 && m.objs[m.size-1] == a {
				p.lock.unlock()
				procUnpin()
				c.doubleFree(a)
			}
			if m.full() {
				m = c.replaceFullMain(p)
			}
			if m != nil {
				m.objs[m.size] = a
				m.size++
				pstat(&p.stat[FreeFastpath])
				if also != FreeFastpath {
					pstat(&p.stat[also])
				}
				ok = true
			}
			p.lock.unlock()
		}
	}
	procUnpin()
	return ok
}

// replaceFullMain is the pinned part of __pcs_replace_full_main: without a
// spare, take an empty barn sheaf and keep the full main as the spare; else
// make a spare with room the main, else trade the full main for an empty
// sheaf of the barn if its lock is free and it holds fewer than
// maxFullSheaves full ones. It returns the new main, or nil.
func (c *Cache) replaceFullMain(p *pcpuSheaves) *Sheaf {
	if p.spare == nil {
		// No spare: an empty barn sheaf becomes main and the full main the
		// spare. Nothing goes to the barn's full list.
		var empty *Sheaf
		if c.barn.lock(true) {
			empty = c.barn.popEmpty()
			c.barn.mu.Unlock()
		}
		if empty != nil {
			p.spare, p.main = p.main, empty
		}
		return empty
	}
	if sp := p.spare; !sp.full() {
		p.spare, p.main = p.main, sp
		return sp
	}
	if empty := c.barn.replaceFull(p.main, true); empty != nil {
		p.main = empty
		pstat(&p.stat[BarnPut])
		return empty
	}
	return nil
}

// sheavesFreeSlow runs unpinned when main and spare are full and the barn did
// not trade: with an empty sheaf in hand (from the barn or new), install it
// as main and park the full one in the barn, or flush it to slabs when the
// barn holds too many full sheaves.
func (c *Cache) sheavesFreeSlow(s *slab, a uintptr) {
	c.checkLive()
	pid := procPin()
	procUnpin()
	if pid >= len(c.pcs.Load().p) {
		c.growPCS(pid)
	}
	c.drainDeferred()
	empty := c.barn.getEmpty()
	if empty == nil {
		empty = c.newSheaf(c.sheafCapacity)
	}
	var toFull, toEmpty *Sheaf
	pid = procPin()
	pcs := c.pcs.Load()
	if pid >= len(pcs.p) || !pcs.p[pid].lock.tryLock() {
		procUnpin()
		c.stashEmpty(empty)
		c.freeToSlab(s, a, false)
		return
	}
	p := &pcs.p[pid]
	m := p.main
	switch {
	case !m.full():
		// Moved to a P with room.
		toEmpty = empty
	case p.spare == nil:
		p.spare, p.main = m, empty
	case p.spare.size == 0:
		toEmpty = p.spare
		p.spare, p.main = m, empty
	default:
		toFull = m
		p.main = empty
	}
	p.main.objs[p.main.size] = a
	p.main.size++
	pstat(&p.stat[FreeFastpath])
	p.lock.unlock()
	procUnpin()
	if toEmpty != nil {
		c.stashEmpty(toEmpty)
	}
	if toFull != nil {
		if n := toFull.size; c.barn.putFull(toFull, false) {
			c.stat(BarnPut)
			c.trace(EventBarnPut, nil, n)
		} else {
			c.stat(BarnPutFail)
			c.flushSheaf(toFull)
			c.stashEmpty(toFull)
		}
	}
}

// flushPCS is pcs_flush_all for every P: flush main and spare sheaves
// straight to slabs (the barn is skipped). Owners meanwhile find their lock
// taken and use the slab paths.
func (c *Cache) flushPCS() {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	pcs := c.pcs.Load()
	lockRemote(pcs.locks)
	for i := range pcs.p {
		p := &pcs.p[i]
		c.flushSheaf(p.main)
		if p.spare != nil {
			c.flushSheaf(p.spare)
		}
	}
	unlockRemote(pcs.locks)
}

// reclaim runs when memory (the OS or MemoryLimit) says no: free objects
// cached in other Ps' sheaves, cpu slabs and the barn pin slabs that could
// serve the request, so flush them and report whether there was anything to
// flush. Never called from a no-lock path.
func (c *Cache) reclaim() bool {
	before := c.limit.used.Load()
	slabs := c.node.slabCount()
	c.flushAll()
	c.discardEmpty()
	return c.limit.used.Load() < before || c.node.slabCount() != slabs || c.node.partialCount() > 0
}

// shrinkBarn is barn_shrink: flush the full sheaves, drop them all.
func (c *Cache) shrinkBarn() {
	full, empty := c.barn.takeAll()
	for sh := full; sh != nil; {
		next := sh.next
		sh.next = nil
		c.flushSheaf(sh)
		c.stat(SheafFree)
		sh = next
	}
	for sh := empty; sh != nil; sh = sh.next {
		c.stat(SheafFree)
	}
}
