package alloc

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// The Sheaves design's per-P layer (Linux 7.0's slub_percpu_sheaves), which
// the Hybrid design shares; they differ in what the sheaves refill from and
// flush to (Cache.backing). The walks are in doc.go.

// pcpuSheaves is one P's sheaves. main is the main sheaf's array and count,
// held here so that the fast paths reach them in the cache line of the lock
// (sheafObjs); spare is nil, empty, full or (after ReturnSheaf) partly full;
// rcuFree is nil or holds objects freed with FreeRCU (rcu_sheaf.go). Only
// the P's owner, pinned and holding lock, or a remote locker touches main,
// spare, rcuFree and stat.
type pcpuSheaves struct {
	// The fast paths touch lock, main and the first counters
	// (ALLOC_FASTPATH, FREE_FASTPATH): one cache line on 64-bit platforms.
	lock localLock
	main sheafObjs
	_    [0]atomic.Uint64     // stat is 8-byte aligned on every platform
	stat [NumStatItems]uint64 // events counted while pinned; read atomically
	// The slow paths' fields.
	spare   *Sheaf
	rcuFree *Sheaf
	// Keep neighbouring Ps' lock words apart, and make the size a power
	// of two so that indexing by P id is a shift.
	_ [pcpuSheavesSize - pcpuSheavesUsed]byte
}

// pcpuSheavesSize is the size of pcpuSheaves: a power of two with at least
// a cache line to spare (a test checks both; raise it when the fields
// grow).
const (
	pcpuSheavesUsed = unsafe.Sizeof(localLock{}) + unsafe.Sizeof(sheafObjs{}) + 2*unsafe.Sizeof(uintptr(0)) + uintptr(NumStatItems)*8
	pcpuSheavesSize = 1024
)

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
			p.main, p.spare, p.rcuFree, p.stat = o.main, o.spare, o.rcuFree, o.stat
		} else {
			c.stat(SheafAlloc)
			p.main = sheafObjs{objs: make([]uintptr, c.sheafCapacity)}
		}
		a.locks[i] = &p.lock
	}
	c.pcs.Store(a)
}

// pcsLock pins the goroutine to its P and takes the P's sheaves lock: the
// prologue of every per-P sheaves operation. It returns nil, still pinned,
// when the P has no sheaves yet or a remote locker holds the lock.
// pcsUnlock(p) ends the section either way.
func (c *Cache) pcsLock() *pcpuSheaves {
	pid := procPin()
	if pcs := c.pcs.Load(); pid < len(pcs.p) {
		if p := &pcs.p[pid]; p.lock.tryLock() {
			return p
		}
	}
	return nil
}

func pcsUnlock(p *pcpuSheaves) {
	if p != nil {
		p.lock.unlock()
	}
	procUnpin()
}

// sheavesPercpu is the per-P layer of Sheaves caches (and the alloc, free
// and bulk paths of Hybrid caches).
type sheavesPercpu struct{}

// alloc is alloc_from_pcs followed by the slow path. Alloc has already
// tried the main sheaf.
func (sheavesPercpu) alloc(c *Cache) uintptr {
	if a := c.pcsPop(AllocFastpath); a != 0 {
		return a
	}
	return c.sheavesAllocSlow()
}

// pcsPop pops from this P's sheaves: main, else a spare with objects, else a
// full sheaf traded from the barn if its lock is free. It returns 0 when the
// P has nothing at hand or its lock is taken; it never waits. Besides
// ALLOC_FASTPATH it counts also (a no-lock caller's NOLOCK_ALLOC) in the
// per-P counters, which cost no atomic operation.
func (c *Cache) pcsPop(also StatItem) uintptr {
	var a uintptr
	if p := c.pcsLock(); p != nil {
		if m := &p.main; m.size > 0 || c.replaceEmptyMain(p) {
			m.size--
			a = m.objs[m.size]
			pstat(&p.stat[AllocFastpath])
			if also != AllocFastpath {
				pstat(&p.stat[also])
			}
		}
		pcsUnlock(p)
	} else {
		pcsUnlock(nil)
	}
	return a
}

// replaceEmptyMain is the pinned part of __pcs_replace_empty_main: swap with a
// spare that has objects, else trade the empty main for a full sheaf of the
// barn if its lock is free. It reports whether main has objects now.
func (c *Cache) replaceEmptyMain(p *pcpuSheaves) bool {
	if sp := p.spare; sp != nil && sp.size > 0 {
		p.main.swap(sp)
		return true
	}
	if c.barn.replaceEmpty(&p.main, true) {
		pstat(&p.stat[BarnGet])
		return true
	}
	return false
}

// sheavesAllocSlow runs unpinned when the main and spare sheaves are empty and
// the barn had nothing at hand: get a full sheaf from the barn (waiting for
// its lock), or refill the P's empty spare, an empty barn sheaf or a new one
// from the backing (__pcs_replace_empty_main); take an object and install
// the rest.
func (c *Cache) sheavesAllocSlow() uintptr {
	c.checkLive()
	c.growPCSFor()
	c.drainDeferred()
	full := c.barn.getFull()
	if full != nil {
		c.stat(BarnGet)
		c.trace(EventBarnGet, 0, full.size)
	} else {
		c.stat(BarnGetFail)
		full = c.takeEmptySpare()
		if full == nil {
			full = c.barn.getEmpty()
		}
		if full == nil {
			full = c.newSheaf(c.sheafCapacity)
		}
		if !c.refillSheaf(&full.sheafObjs, false) && !(c.reclaim() && c.refillSheaf(&full.sheafObjs, false)) {
			c.stashEmpty(full)
			return 0
		}
	}
	full.size--
	a := full.objs[full.size]
	c.installSheaf(full)
	return a
}

// growPCSFor gives the P the goroutine runs on sheaves if it has none yet
// (GOMAXPROCS grew).
func (c *Cache) growPCSFor() {
	pid := procPin()
	procUnpin()
	if pid >= len(c.pcs.Load().p) {
		c.growPCS(pid)
	}
}

// takeEmptySpare detaches this P's spare if it is empty, for a refill.
func (c *Cache) takeEmptySpare() *Sheaf {
	var sh *Sheaf
	if p := c.pcsLock(); p != nil {
		if p.spare != nil && p.spare.size == 0 {
			sh, p.spare = p.spare, nil
		}
		pcsUnlock(p)
	} else {
		pcsUnlock(nil)
	}
	return sh
}

// installSheaf puts a sheaf with objects where the P it now runs on can use
// it: as main if main is empty, else as spare, else in the barn (the install
// step of __pcs_replace_empty_main, which must cope with having moved to
// another P while unpinned). Where the kernel puts it in the barn whatever
// the barn holds, it is flushed when the barn is full (BARN_PUT_FAIL), so
// that the bound on cached objects (bound.go) holds.
func (c *Cache) installSheaf(sh *Sheaf) {
	var toEmpty, toFull *Sheaf
	if p := c.pcsLock(); p != nil {
		switch {
		case p.main.size == 0:
			p.main.swap(sh) // sh holds the empty main now
			if p.spare == nil {
				p.spare = sh
			} else {
				toEmpty = sh
			}
		case p.spare == nil:
			p.spare = sh
		case p.spare.size == 0:
			toEmpty = p.spare
			p.spare = sh
		default:
			toFull = sh
		}
		pcsUnlock(p)
	} else {
		pcsUnlock(nil)
		toFull = sh
	}
	if toEmpty != nil {
		c.stashEmpty(toEmpty)
	}
	if toFull != nil {
		// Once in the barn the sheaf is anyone's: read its size first.
		c.parkFull(toFull)
	}
}

// stashEmpty keeps an empty sheaf in the barn (barn_put_empty_sheaf, which
// ignores MAX_EMPTY_SHEAVES: the sheaf exists already).
func (c *Cache) stashEmpty(sh *Sheaf) { c.barn.putEmpty(sh) }

// free is free_to_pcs followed by the slow path. Free has already tried the
// main sheaf.
func (sheavesPercpu) free(c *Cache, s *slab, a uintptr) {
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
	p := c.pcsLock()
	if p == nil {
		pcsUnlock(nil)
		return false
	}
	m := &p.main
	if m.size > 0 && m.objs[m.size-1] == a {
		pcsUnlock(p)
		op := "Free"
		if also == NoLockFree {
			op = "FreeNoLock"
		}
		c.doubleFree(op, a)
	}
	ok := !m.full() || c.replaceFullMain(p)
	if ok {
		m.objs[m.size] = a
		m.size++
		pstat(&p.stat[FreeFastpath])
		if also != FreeFastpath {
			pstat(&p.stat[also])
		}
	}
	pcsUnlock(p)
	return ok
}

// replaceFullMain is the pinned part of __pcs_replace_full_main: without a
// spare, take an empty barn sheaf as main and keep the full main as the
// spare; else make a spare with room the main, else trade the full main for
// an empty sheaf of the barn if its lock is free and it holds fewer than
// maxFull full ones. It reports whether main has room now.
func (c *Cache) replaceFullMain(p *pcpuSheaves) bool {
	if p.spare == nil {
		// Nothing goes to the barn's full list.
		var empty *Sheaf
		if c.barn.lock(true) {
			empty = c.barn.popEmpty()
			c.barn.mu.Unlock()
		}
		if empty == nil {
			return false
		}
		p.main.swap(empty) // empty holds the full main now
		p.spare = empty
		return true
	}
	if sp := p.spare; !sp.full() {
		p.main.swap(sp)
		return true
	}
	if c.barn.replaceFull(&p.main, true) {
		pstat(&p.stat[BarnPut])
		return true
	}
	return false
}

// sheavesFreeSlow runs unpinned when main and spare are full and the barn did
// not trade: with an empty sheaf in hand (from the barn or new), install it
// as main and park the full one in the barn, or flush it when the barn holds
// too many full sheaves (BARN_PUT_FAIL).
func (c *Cache) sheavesFreeSlow(s *slab, a uintptr) {
	c.checkLive()
	c.growPCSFor()
	c.drainDeferred()
	empty := c.barn.getEmpty()
	if empty == nil {
		empty = c.newSheaf(c.sheafCapacity)
	}
	var toFull, toEmpty *Sheaf
	p := c.pcsLock()
	if p == nil {
		pcsUnlock(nil)
		c.stashEmpty(empty)
		c.backing.freeOne(c, s, a, false)
		return
	}
	m := &p.main
	switch {
	case m.size > 0 && m.objs[m.size-1] == a:
		pcsUnlock(p)
		c.stashEmpty(empty)
		c.doubleFree("Free", a)
	case !m.full():
		// Moved to a P with room.
		toEmpty = empty
	case p.spare == nil:
		m.swap(empty) // empty holds the full main now
		p.spare = empty
	case p.spare.size == 0:
		toEmpty = p.spare
		m.swap(empty)
		p.spare = empty
	default:
		m.swap(empty)
		toFull = empty
	}
	m.objs[m.size] = a
	m.size++
	pstat(&p.stat[FreeFastpath])
	pcsUnlock(p)
	if toEmpty != nil {
		c.stashEmpty(toEmpty)
	}
	if toFull != nil {
		c.parkFull(toFull)
	}
}

// parkFull puts a sheaf with objects in the barn (BARN_PUT), or flushes it
// and keeps it as an empty sheaf when the barn holds its limit
// (BARN_PUT_FAIL).
func (c *Cache) parkFull(sh *Sheaf) {
	// Once in the barn the sheaf is anyone's: read its size first.
	if n := sh.size; n > 0 && c.barn.putFull(sh) {
		c.stat(BarnPut)
		c.trace(EventBarnPut, 0, n)
		return
	}
	if sh.size > 0 {
		c.stat(BarnPutFail)
		c.flushSheaf(&sh.sheafObjs)
	}
	c.stashEmpty(sh)
}

// allocNoLock is kmalloc_nolock on sheaves: the per-P sheaves (try-lock),
// then one object from the backing with try-locks.
func (sheavesPercpu) allocNoLock(c *Cache) uintptr {
	if a := c.pcsPop(NoLockAlloc); a != 0 {
		return a // counted per P
	}
	a := c.backing.allocOne(c, true)
	if a != 0 {
		c.stat(NoLockAlloc)
	}
	return a
}

// freeNoLock is free_to_pcs with allow_spin=false (no sheaf allocation, no
// flush), then the backing with try-locks.
func (sheavesPercpu) freeNoLock(c *Cache, s *slab, a uintptr) bool {
	if c.pcsPush(a, NoLockFree) {
		return true // counted per P
	}
	if !c.backing.freeOne(c, s, a, true) {
		return false
	}
	c.stat(NoLockFree)
	return true
}

// allocBulk is kmem_cache_alloc_bulk: alloc_from_pcs_bulk, then straight
// from the backing without going through a sheaf (that would copy twice).
func (sheavesPercpu) allocBulk(c *Cache, dst []uintptr) int {
	got := c.pcsAllocBulk(dst)
	if got < len(dst) {
		c.checkLive()
		got += c.backing.allocMany(c, dst[got:])
		if got < len(dst) && c.reclaim() {
			got += c.backing.allocMany(c, dst[got:])
		}
	}
	return got
}

// pcsAllocBulk is alloc_from_pcs_bulk: main, then a spare with objects, then
// a full barn sheaf; no refill.
func (c *Cache) pcsAllocBulk(dst []uintptr) int {
	got := 0
	p := c.pcsLock()
	if p == nil {
		pcsUnlock(nil)
		return 0
	}
	m := &p.main
	for got < len(dst) {
		if m.size == 0 && !c.replaceEmptyMain(p) {
			break
		}
		k := min(m.size, len(dst)-got)
		copy(dst[got:got+k], m.objs[m.size-k:m.size])
		m.size -= k
		got += k
	}
	pstatAdd(&p.stat[AllocFastpath], got)
	pcsUnlock(p)
	return got
}

// freeBulk is kmem_cache_free_bulk: free_to_pcs_bulk, the rest to the
// backing.
func (sheavesPercpu) freeBulk(c *Cache, src []uintptr) {
	if done := c.pcsFreeBulk(src); done < len(src) {
		c.backing.freeMany(c, src[done:])
	}
}

// pcsFreeBulk is free_to_pcs_bulk: push onto main, swapping in a spare with
// room or an empty barn sheaf when it fills; the caller frees the rest.
func (c *Cache) pcsFreeBulk(src []uintptr) int {
	done := 0
	p := c.pcsLock()
	if p == nil {
		pcsUnlock(nil)
		return 0
	}
	m := &p.main
	for done < len(src) {
		if m.full() {
			if !c.replaceFullMain(p) {
				if p.spare != nil {
					// The barn did not trade (free_to_pcs_bulk's
					// BARN_PUT_FAIL): full, no empty sheaf, or busy.
					pstat(&p.stat[BarnPutFail])
				}
				break
			}
		}
		k := min(len(m.objs)-m.size, len(src)-done)
		copy(m.objs[m.size:m.size+k], src[done:done+k])
		m.size += k
		done += k
	}
	pstatAdd(&p.stat[FreeFastpath], done)
	pcsUnlock(p)
	return done
}

// pcsBatchMax is PCS_BATCH_MAX: the kernel flushes a main sheaf in batches
// of this many objects (sheaf_flush_main), and so does flush.
const pcsBatchMax = 32

// flush is pcs_flush_all for every P, then barn_shrink, with every P's
// lock held (see percpu.flush): the spare is taken, flushed and its sheaf
// dropped, the main sheaf flushed straight to the backing (the barn is
// skipped) in batches of pcsBatchMax (sheaf_flush_main), and the rcu_free
// sheaf handed to the grace-period domain, to be flushed when its grace
// period ends. Owners meanwhile find their lock taken and use the slow
// paths. A batch leaves the sheaf before it is flushed, so a trace hook
// that panics inside the flush can leak a batch but never leaves an
// object both cached and free.
func (sheavesPercpu) flush(c *Cache) {
	pcs := c.pcs.Load()
	for i := range pcs.p {
		p := &pcs.p[i]
		if spare := p.spare; spare != nil {
			p.spare = nil
			c.flushSheaf(&spare.sheafObjs)
			c.stat(SheafFree)
		}
		for m := &p.main; m.size > 0; {
			k := min(m.size, pcsBatchMax)
			m.size -= k
			c.backing.flushObjects(c, m.objs[m.size:m.size+k])
			c.statAdd(SheafFlush, k)
			c.trace(EventSheafFlush, 0, k)
		}
		if rcu := c.takeRCUFree(p); rcu != nil {
			c.queueRCUSheaf(rcu, rcuSheafDoneNoBarn)
		}
	}
	c.shrinkBarn()
}

// shrinkBarn is barn_shrink: flush the full sheaves, drop them all. It
// takes one full sheaf at a time, so that what a panicking trace hook
// interrupts stays in the barn; owners locked out of their Ps may park
// full sheaves meanwhile, which the last take flushes too.
func (c *Cache) shrinkBarn() {
	for {
		sh := c.barn.getFull()
		if sh == nil {
			break
		}
		c.flushSheaf(&sh.sheafObjs)
		c.stat(SheafFree)
	}
	full, empty := c.barn.takeAll()
	for sh := full; sh != nil; {
		next := sh.next
		sh.next = nil
		c.flushSheaf(&sh.sheafObjs)
		c.stat(SheafFree)
		sh = next
	}
	for sh := empty; sh != nil; sh = sh.next {
		c.stat(SheafFree)
	}
}

// lock takes every P's sheaves lock as a remote locker.
func (sheavesPercpu) lock(c *Cache, _ bool) func() {
	pcs := c.pcs.Load()
	lockRemote(pcs.locks)
	return func() { unlockRemote(pcs.locks) }
}

// validate checks that every cached object is an object of this cache,
// cached once and on no freelist, and the barn's counts.
func (sheavesPercpu) validate(c *Cache, v *validation) {
	pcs := c.pcs.Load()
	for i := range pcs.p {
		p := &pcs.p[i]
		v.checkSheaf(c, fmt.Sprintf("P%d main", i), &p.main)
		if p.spare != nil {
			v.checkSheaf(c, fmt.Sprintf("P%d spare", i), &p.spare.sheafObjs)
		}
		if p.rcuFree != nil {
			v.checkSheaf(c, fmt.Sprintf("P%d rcu_free", i), &p.rcuFree.sheafObjs)
		}
	}
	nf, ne := 0, 0
	for sh := c.barn.full; sh != nil; sh = sh.next {
		v.checkSheaf(c, "barn", &sh.sheafObjs)
		nf++
	}
	for sh := c.barn.empty; sh != nil; sh = sh.next {
		if sh.size != 0 {
			v.fail("barn empty sheaf holds %d objects", sh.size)
		}
		ne++
	}
	if nf != c.barn.nrFull || ne != c.barn.nrEmpty {
		v.fail("barn lists hold %d full and %d empty sheaves, counts say %d and %d", nf, ne, c.barn.nrFull, c.barn.nrEmpty)
	}
}

// count adds the objects cached in sheaves and the barn, and the per-P
// counters, to st. Hybrid caches report their sheaf hits as the 6.18
// kernel did: ALLOC_PCS and FREE_PCS, leaving ALLOC_FASTPATH and
// FREE_FASTPATH to the cpu slabs.
func (sheavesPercpu) count(c *Cache, st *Stats) {
	allocHit, freeHit := AllocFastpath, FreeFastpath
	if c.design == Hybrid {
		allocHit, freeHit = AllocPCS, FreePCS
	}
	pcs := c.pcs.Load()
	for i := range pcs.p {
		p := &pcs.p[i]
		st.CachedObjects += int64(p.main.size)
		if p.spare != nil {
			st.CachedObjects += int64(p.spare.size)
		}
		for k := range st.Counters {
			n := loadCounter(&p.stat[k])
			switch StatItem(k) {
			case AllocFastpath:
				st.Counters[allocHit] += n
			case FreeFastpath:
				st.Counters[freeHit] += n
			default:
				st.Counters[k] += n
			}
		}
	}
	for sh := c.barn.full; sh != nil; sh = sh.next {
		st.CachedObjects += int64(sh.size)
	}
}
