package alloc

import (
	"fmt"
	"strings"
)

// Shrink flushes the per-P caches (sheaves, or cpu slabs and cpu partial
// lists) and the barn to slabs, frees every empty slab and gives free pages
// back to the OS (kmem_cache_shrink). It may run while other goroutines use
// the cache. When objects freed with FreeRCU (or a TypesafeByRCU cache's
// slabs) wait for grace periods, it first hands them to the domain and
// waits for them (rcu_barrier), so it must not be called inside a
// read-side section of the cache's domain.
func (c *Cache) Shrink() {
	c.checkLive()
	_ = c.rcuBarrier() // a stopped domain keeps its objects: nothing to wait for
	c.flushAll()
	c.discardEmpty()
	c.rcuSlabBarrier()
	ReleaseFree()
}

// flushAll empties the deferred list, every per-P cache and the barn, and
// hands the objects that FreeRCU left per P to the grace-period domain.
func (c *Cache) flushAll() {
	c.flushLocked()()
	c.queueRCUBatches()
}

// flushLocked is flushAll's flush, returning with the locks it flushed
// under still held, for Destroy, which counts under them; the caller calls
// the release. Every per-P lock is held for the whole flush, so a trace
// hook that uses the no-lock API meanwhile (DESIGN allows it) can only take
// objects from slabs and give them back to slabs or the deferred list:
// nothing is cached per P again behind the flush. A free from the deferred
// list that would put a slab on a cpu partial list puts it on the node's
// partial list instead, as while any remote locker holds the P. The
// deferred list is drained before the per-P flush (its frees can put slabs
// on cpu partial lists, which the flush then drains) and after it, as the
// flush may defer objects (a hook's frees).
func (c *Cache) flushLocked() (release func()) {
	c.growMu.Lock()
	c.flushMu.Lock()
	unlockPercpu := c.pp.lock(c, false)
	release = func() {
		unlockPercpu()
		c.flushMu.Unlock()
		c.growMu.Unlock()
	}
	done := false
	defer func() {
		if !done {
			release() // a panic (a corrupt freelist, a hook): hold nothing
		}
	}()
	c.drainDeferred()
	c.pp.flush(c)
	c.drainDeferred()
	done = true
	return release
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

// shrinkPromoteMax is SHRINK_PROMOTE_MAX: Shrink sorts the partial slabs
// with fewer free objects than this by their free count.
const shrinkPromoteMax = 32

// discardEmpty is the node part of __kmem_cache_do_shrink: free every empty
// slab on the partial list, min_partial included, and move the fullest
// partial slabs to the head of the list, fewest free objects first, so that
// allocations fill them and the emptier ones can drain. Objects are taken
// from partial slabs only under list_lock, so an empty partial slab stays
// empty while it is held.
func (c *Cache) discardEmpty() {
	n := &c.node
	var discard *slab
	var promote [shrinkPromoteMax]*slab // stacks by free count, linked by cpuNext
	var r reporter
	n.lock(false)
	for s := n.partialHead; s != nil; {
		next := s.next
		switch free := s.counters().free(); {
		case s.counters().inuse() == 0:
			n.removePartial(s)
			n.removeSlab(s)
			if c.isDebug() {
				c.checkWholeSlab(&r, s) // the last look, as when a free empties it
			}
			s.cpuNext = discard
			discard = s
		case free < shrinkPromoteMax:
			n.removePartial(s)
			s.cpuNext = promote[free]
			promote[free] = s
		}
		s = next
	}
	for free := shrinkPromoteMax - 1; free >= 0; free-- {
		for s := promote[free]; s != nil; {
			next := s.cpuNext
			s.cpuNext = nil
			n.addPartial(s, false)
			s = next
		}
	}
	n.unlock()
	c.deliver(&r)
	c.discardSlabs(discard)
}

// quiesce takes every lock that lets a cache's objects move between
// structures, except the lockless slab frees (which only push onto slab
// freelists): growMu, so no P joins meanwhile, every P's per-P lock (the
// design's percpu.lock), the barn lock and list_lock, in the lock order of
// doc.go. With flushCPUSlabs the cpu slabs of the designs that have them
// are flushed once every P is locked (a flush before the locks would let
// an allocation install a new cpu slab in between). It returns the
// release.
func (c *Cache) quiesce(flushCPUSlabs bool) func() {
	c.growMu.Lock()
	c.flushMu.Lock()
	done := false
	defer func() {
		if !done { // the flush panicked (a trace hook), having unlocked the Ps
			c.flushMu.Unlock()
			c.growMu.Unlock()
		}
	}()
	unlockPercpu := c.pp.lock(c, flushCPUSlabs)
	done = true
	c.barn.mu.Lock()
	c.node.lock(false)
	return func() {
		c.node.unlock()
		c.barn.mu.Unlock()
		unlockPercpu()
		c.flushMu.Unlock()
		c.growMu.Unlock()
	}
}

// stableFreelist reads a slab's pair and walks its freelist, retrying until
// the pair did not change during the walk (frees may push concurrently). It
// returns the objects, or an error describing a corrupt freelist.
func (c *Cache) stableFreelist(s *slab) (fl []uintptr, cnt counters, err error) {
	for try := 0; ; try++ {
		head := s.freelist()
		cnt = s.counters()
		fl = fl[:0]
		err = nil
		for o := head; o != 0; o = c.getFP(o) {
			if !c.validSlot(s, o) {
				err = fmt.Errorf("freelist of slab %#x has %#x, not an object of the slab", s.base, o)
				break
			}
			if len(fl) > cnt.objects() {
				err = fmt.Errorf("freelist of slab %#x is longer than its %d objects (a cycle)", s.base, cnt.objects())
				break
			}
			fl = append(fl, o)
		}
		if s.freelist() == head && s.counters() == cnt {
			return fl, cnt, err
		}
		if try > 1000 {
			return fl, cnt, nil // too busy to pin down; not an error
		}
	}
}

// Validate checks every slab and every free list of the cache (the kernel's
// validate_slab_cache) and returns nil when the cache is consistent. It may
// run while other goroutines allocate and free: it holds the locks that
// make objects move between structures and re-reads slabs that frees touch
// meanwhile.
func (c *Cache) Validate() error {
	c.checkLive()
	var errs []string
	if err := c.drainDeferredChecked(); err != nil {
		errs = append(errs, strings.TrimPrefix(err.Error(), "alloc: "+c.name+": "))
	}
	var r reporter
	errs = append(errs, c.validateQuiesced(&r)...)
	c.deliver(&r)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("alloc: %s: validate: %s", c.name, strings.Join(errs, "; "))
}

// validation collects what Validate finds, and what the per-P layers need
// to check their caches against the slabs.
type validation struct {
	errs []string
	free map[uintptr]bool // objects on slab freelists
	seen map[uintptr]bool // objects cached in sheaves
	// lateFrees: a slab may have free objects on no list for a moment
	// (a free racing with the walk, on its way to a cpu partial list).
	lateFrees bool
}

func (v *validation) fail(format string, args ...any) {
	if len(v.errs) < 20 {
		v.errs = append(v.errs, fmt.Sprintf(format, args...))
	}
}

// checkSheaf checks that every object of sh is an object of c, cached once
// and on no slab freelist.
func (v *validation) checkSheaf(c *Cache, where string, sh *sheafObjs) {
	if sh.size < 0 || sh.size > len(sh.objs) {
		v.fail("%s sheaf: size %d, capacity %d", where, sh.size, len(sh.objs))
		return
	}
	for _, o := range sh.objs[:sh.size] {
		s := lookupSlab(o)
		switch {
		case s == nil || s.cache != c || !c.validSlot(s, o):
			v.fail("%s sheaf holds %#x, not an object of this cache", where, o)
		case v.free[o]:
			v.fail("%s sheaf holds %#x, which is also on a slab freelist", where, o)
		case v.seen[o]:
			v.fail("%s sheaf holds %#x, which is cached twice", where, o)
		}
		v.seen[o] = true
	}
}

// validateQuiesced is Validate's walk, under the locks of quiesce. A debug
// cache's reports go to r, for delivery after the locks are dropped.
func (c *Cache) validateQuiesced(r *reporter) []string {
	release := c.quiesce(true)
	defer release()
	// In the designs with cpu partial lists a free that makes a full slab
	// partial puts it on one without list_lock, so it may have free
	// objects on no list for a moment.
	v := &validation{free: make(map[uintptr]bool), seen: make(map[uintptr]bool), lateFrees: c.cpuPartialSlabs > 0}
	n := &c.node
	slabs, partial := 0, 0
	for s := n.all; s != nil; s = s.allNext {
		slabs++
		if s.cache != c {
			v.fail("slab %#x on the list belongs to %s", s.base, s.cache.name)
			continue
		}
		if lookupSlab(s.start) != s || lookupSlab(s.end-1) != s {
			v.fail("slab %#x: the page table does not point to it", s.base)
		}
		fl, cnt, err := c.stableFreelist(s)
		if err != nil {
			v.fail("%v", err)
		}
		if cnt.objects() != c.objsPerSlab {
			v.fail("slab %#x: objects %d, want %d", s.base, cnt.objects(), c.objsPerSlab)
		}
		if cnt.inuse() > cnt.objects() {
			v.fail("slab %#x: inuse %d > objects %d", s.base, cnt.inuse(), cnt.objects())
		}
		if err == nil && cnt.inuse()+len(fl) != cnt.objects() {
			v.fail("slab %#x: inuse %d + free %d != objects %d", s.base, cnt.inuse(), len(fl), cnt.objects())
		}
		for _, o := range fl {
			if v.free[o] {
				v.fail("object %#x is twice on the freelist of slab %#x", o, s.base)
			}
			v.free[o] = true
		}
		if s.onPartial {
			partial++
			if len(fl) == 0 {
				v.fail("slab %#x is on the partial list with no free object", s.base)
			}
			if cnt.frozen() {
				v.fail("slab %#x is on the partial list and frozen", s.base)
			}
		} else if len(fl) > 0 && !v.lateFrees && !c.isDebug() {
			v.fail("slab %#x has %d free objects but is not on the partial list", s.base, len(fl))
		}
		if c.isDebug() {
			for _, e := range c.debugValidateSlab(r, s) {
				v.fail("%s", e)
			}
		}
	}
	if slabs != n.nrSlabs {
		v.fail("%d slabs on the list, nr_slabs says %d", slabs, n.nrSlabs)
	}
	if partial != n.nrPartial {
		v.fail("%d slabs marked partial, nr_partial says %d", partial, n.nrPartial)
	}
	cnt := 0
	for s := n.partialHead; s != nil; s = s.next {
		cnt++
		if !s.onPartial {
			v.fail("slab %#x on the partial list is not marked partial", s.base)
		}
	}
	if cnt != n.nrPartial {
		v.fail("partial list holds %d slabs, nr_partial says %d", cnt, n.nrPartial)
	}
	// The per-P layer, against the freelists.
	c.pp.validate(c, v)
	return v.errs
}

// Stats returns the cache's statistics. It holds the locks of quiesce
// while it counts, so the per-P layer and the lists stand still, and it
// reads in an order that makes the lockless moves that remain (fast-path
// allocations and frees, frees to slabs, deferred frees) err only towards
// more active objects: first every slab's inuse, then the objects cached
// per P and in the barn, then the deferred frees, then the objects waiting
// for grace periods (countRCU). An object enters a cache, the deferred list
// or the wait for a grace period only from in use, which the walk already
// counted, and leaves the deferred and grace-period counts before its
// slab's inuse (or the barn's sheaves). So ActiveObjects is
// never negative and never above Objects; under concurrent use it may count
// objects that were freed while Stats ran. Most allocations and frees wait
// while Stats walks the slabs: it is for monitoring, not for a hot path.
func (c *Cache) Stats() Stats {
	c.checkMade()
	st := Stats{
		Name:             c.name,
		Design:           c.design,
		ObjectSize:       c.objectSize,
		Size:             c.size,
		SlabSize:         c.slabPages * pageSize,
		ObjectsPerSlab:   c.objsPerSlab,
		SheafCapacity:    c.sheafCapacity,
		CPUPartial:       c.cpuPartial,
		MaxCachedObjects: c.cachedBound(),
	}
	for i := range st.Counters {
		st.Counters[i] = c.stats[i].Load()
	}
	var inuse int64
	func() {
		defer c.quiesce(false)()
		for s := c.node.all; s != nil; s = s.allNext {
			st.Slabs++
			cnt := s.counters()
			st.Objects += int64(cnt.objects())
			inuse += int64(cnt.inuse())
		}
		st.PartialSlabs = int64(c.node.nrPartial)
		c.pp.count(c, &st)
		st.DeferredFrees = c.deferred.n.Load()
		c.countRCU(&st, false)
	}()
	st.SlabBytes = st.Slabs * int64(st.SlabSize)
	st.ActiveObjects = inuse - st.CachedObjects - st.DeferredFrees - st.RCUPending
	return st
}

// Destroy flushes the cache and frees its slabs (kmem_cache_destroy). If
// objects are still allocated it frees nothing, returns an error naming
// them, and the cache stays usable. After a successful Destroy the cache
// must not be used. Objects freed with FreeRCU are neither: Destroy waits
// for their grace periods first (rcu_barrier), so it must not be called
// inside a read-side section of the cache's domain, and it fails, freeing
// nothing, if the domain has stopped.
func (c *Cache) Destroy() error {
	c.checkLive()
	if c.heap != nil {
		return fmt.Errorf("alloc: %s: Destroy: the cache belongs to a heap; destroy the heap", c.name)
	}
	return c.destroy(true)
}

// destroy waits for pending RCU frees, flushes the cache and, if no object
// is allocated, frees its slabs and marks it destroyed when free is set.
// Otherwise it changes nothing more and returns an error naming the
// objects.
//
// It counts under the locks it flushed under, so nothing moves while it
// looks: the objects that a trace hook's no-lock calls put on the deferred
// list during the flush are free, not allocated, and so would be any left
// in a per-P cache.
func (c *Cache) destroy(free bool) error {
	if err := c.rcuBarrier(); err != nil {
		return fmt.Errorf("alloc: %s: Destroy: %w", c.name, err)
	}
	release := c.flushLocked()
	c.barn.mu.Lock()
	n := &c.node
	n.lock(false)
	unlock := func() {
		n.unlock()
		c.barn.mu.Unlock()
		release()
	}
	cached := c.cachedObjects()
	var leaked []uintptr
	total := 0
	for s := n.all; s != nil; s = s.allNext {
		if s.counters().inuse() == 0 {
			continue
		}
		fl, _, _ := c.stableFreelist(s)
		isFree := make(map[uintptr]bool, len(fl))
		for _, o := range fl {
			isFree[o] = true
		}
		for o := s.base; o < s.end; o += uintptr(c.size) {
			if !isFree[o] && !cached[o] {
				total++
				if len(leaked) < 16 {
					leaked = append(leaked, o)
				}
			}
		}
	}
	if total > 0 || !free {
		unlock()
		if total == 0 {
			return nil
		}
		if c.isDebug() {
			c.reportLeaks(leaked, total)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "alloc: %s: Destroy: %d objects still allocated:", c.name, total)
		for _, o := range leaked {
			fmt.Fprintf(&b, " %#x", o)
		}
		if total > len(leaked) {
			fmt.Fprintf(&b, " (and %d more)", total-len(leaked))
		}
		return errorOf(ErrLeak, "%s", b.String())
	}
	var all *slab
	for s := n.all; s != nil; {
		next := s.allNext
		if s.onPartial {
			n.removePartial(s)
		}
		n.removeSlab(s)
		s.cpuNext = all
		all = s
		s = next
	}
	// Drop what still points into the slabs: the deferred list, sheaves.
	c.deferred.head.Store(0)
	c.deferred.n.Store(0)
	c.barn.full, c.barn.empty, c.barn.nrFull, c.barn.nrEmpty = nil, nil, 0, 0
	c.destroyed.Store(true)
	unregister(c)
	if pcs := c.pcs.Load(); pcs != nil {
		for i := range pcs.p {
			pcs.p[i].main.size, pcs.p[i].spare = 0, nil
		}
		c.pcs.Store(&pcpuArray{})
	}
	unlock()
	c.freeSlabList(all)
	c.rcuSlabBarrier()
	return nil
}

// cachedObjects returns the free objects held outside the slab freelists:
// on the deferred list, in per-P sheaves and the barn, on cpu freelists.
// The caller holds the locks of quiesce.
func (c *Cache) cachedObjects() map[uintptr]bool {
	m := make(map[uintptr]bool)
	limit := c.deferred.n.Load()
	for o := c.deferred.head.Load(); o != 0 && int64(len(m)) < limit; o = c.getFP(o) {
		m[o] = true
	}
	addSheaf := func(sh *sheafObjs) {
		for _, o := range sh.objs[:sh.size] {
			m[o] = true
		}
	}
	if pcs := c.pcs.Load(); pcs != nil {
		for i := range pcs.p {
			addSheaf(&pcs.p[i].main)
			if sp := pcs.p[i].spare; sp != nil {
				addSheaf(&sp.sheafObjs)
			}
		}
		for sh := c.barn.full; sh != nil; sh = sh.next {
			addSheaf(&sh.sheafObjs)
		}
	}
	if cpus := c.cpus.Load(); cpus != nil {
		for _, cc := range cpus.c {
			s := cc.slab.Load()
			for o, k := loadCPUFreelist(cc), 0; s != nil && o != 0 && k < c.objsPerSlab && c.validSlot(s, o); o, k = c.getFP(o), k+1 {
				m[o] = true
			}
		}
	}
	return m
}
