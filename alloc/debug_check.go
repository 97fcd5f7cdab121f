package alloc

// Debug caches: alloc, free, checks and repairs. See debug.go for the layout
// and the object states. Everything here that touches a slab runs under the
// node's list_lock unless it says otherwise.

import (
	"fmt"
	"sync/atomic"
)

// debugAlloc is Alloc and AllocNoLock of a debug cache (the kernel's
// alloc_debug_processing on ___slab_alloc's path).
func (c *Cache) debugAlloc(noblock bool) uintptr { return c.allocDebug(c.objectSize, noblock) }

// debugAllocSized is Heap.Malloc on a debug heap: the object remembers the
// size asked for, and the bytes past it are red zone.
func (c *Cache) debugAllocSized(size int) uintptr { return c.allocDebug(size, false) }

func (c *Cache) allocDebug(size int, noblock bool) uintptr {
	var t track
	if c.dbg.user {
		t = captureTrack(noblock)
	}
	if !noblock {
		c.checkLive()
		c.drainDeferred()
	}
	var r reporter
	n := &c.node
	if !n.lock(noblock) {
		return 0
	}
	a := c.debugTake(&r, size, t)
	ot := c.noteTrace(EventAlloc, nil, a)
	n.unlock()
	if a == 0 {
		if s := c.newSlab(noblock); s != nil && c.lockForNewSlab(s, noblock) {
			c.registerSlabLocked(s, true)
			a = c.debugTake(&r, size, t)
			ot = c.noteTrace(EventAlloc, s, a)
			n.unlock()
		}
	}
	if a != 0 {
		c.stat(AllocSlowpath)
		c.liveAdd(a, noblock)
	}
	c.deliver(&r)
	c.emitTrace(ot)
	return a
}

// debugTake pops an object from the first partial slab after checking the
// free pointer it follows and the object's bytes. A corrupt freelist is
// reported and rebuilt from the object states, so a bad pointer is never
// followed and no object is handed out twice.
func (c *Cache) debugTake(r *reporter, size int, t track) uintptr {
	n := &c.node
	for s := n.partialHead; s != nil; s = n.partialHead {
		d := s.dbg
		a := s.freelist()
		oc := s.counters()
		if a == 0 || !c.validSlot(s, a) || d.state(c.slotIndex(s, a)) != objFree {
			rep := c.newReport(ReportFreechain, s, 0)
			rep.Message = fmt.Sprintf("freelist head %#x of slab %#x is not a free object of the slab", a, s.start)
			c.rebuildFreelist(&rep, s)
			r.add(rep)
			continue
		}
		next := c.getFP(a)
		left := oc.free() - 1
		if !c.nextFreeOK(s, a, next, left) {
			c.reportFreepointer(r, s, a, next, left)
			continue
		}
		i := c.slotIndex(s, a)
		c.checkSlot(r, s, a, d.load(i), c.dbg.check)
		if !c.cmpxchg(s, a, oc, next, oc.withInuse(oc.inuse()+1).next()) {
			panic("alloc: " + c.name + ": debug slab changed under list_lock")
		}
		if next == 0 {
			n.removePartial(s)
		}
		c.markAllocated(s, a, i, size, t)
		return a
	}
	return 0
}

// nextFreeOK is check_valid_pointer for the free pointer of a, the object
// being taken: next must be another free object of the same slab while
// left objects stay free, 0 when none does.
func (c *Cache) nextFreeOK(s *slab, a, next uintptr, left int) bool {
	if next == 0 || left == 0 {
		return next == 0 && left == 0
	}
	return next != a && c.validSlot(s, next) && s.dbg.state(c.slotIndex(s, next)) == objFree
}

// reportFreepointer reports a bad free pointer in free object a and
// rebuilds the slab's freelist.
func (c *Cache) reportFreepointer(r *reporter, s *slab, a, next uintptr, left int) {
	kind := ReportFreepointer
	var msg string
	switch {
	case next == 0:
		kind = ReportFreechain
		msg = fmt.Sprintf("freelist of slab %#x ends at %#x with %d more objects free", s.start, a, left)
	case left == 0:
		kind = ReportFreechain
		msg = fmt.Sprintf("freelist of slab %#x goes on past %#x, its last free object, to %#x", s.start, a, next)
	default:
		msg = fmt.Sprintf("free pointer of free object %#x points to %#x, not a free object of slab %#x", a, next, s.start)
	}
	rep := c.newReport(kind, s, a)
	rep.Message = msg
	rep.Offset = int(c.fpOffset)
	rep.Found = append([]byte(nil), mem(a+c.fpOffset, ptrBits/8)...)
	c.rebuildFreelist(&rep, s)
	r.add(rep)
}

// rebuildFreelist links the slab's free objects, by their states, into a new
// freelist in address order and sets the counters to match.
func (c *Cache) rebuildFreelist(rep *Report, s *slab) {
	d := s.dbg
	var head, prev uintptr
	nfree := 0
	for i := range d.obj {
		if d.state(i) != objFree {
			continue
		}
		o := s.base + uintptr(i*c.size)
		if prev == 0 {
			head = o
		} else {
			c.setFP(prev, o)
		}
		prev = o
		nfree++
	}
	if prev != 0 {
		c.setFP(prev, 0)
	}
	oc := s.counters()
	if !c.cmpxchg(s, s.freelist(), oc, head, oc.withInuse(oc.objects()-nfree).next()) {
		panic("alloc: " + c.name + ": debug slab changed under list_lock")
	}
	n := &c.node
	switch {
	case nfree > 0 && !s.onPartial:
		n.addPartial(s, true)
	case nfree == 0 && s.onPartial:
		n.removePartial(s)
	}
	rep.Fix = fmt.Sprintf("Freelist rebuilt from the object states: %d free objects", nfree)
}

// markAllocated records an object as handed out: red zones active, the free
// pointer cleared, the alloc track.
func (c *Cache) markAllocated(s *slab, a uintptr, i, size int, t track) {
	d := c.dbg
	s.dbg.set(i, objAllocated, size)
	if d.redzone {
		fill(a-uintptr(c.redLeft), c.redLeft, redActive)
		if d.kmalloc {
			fill(a+uintptr(size), d.objEnd-size, redActive)
		}
		fill(a+uintptr(d.objEnd), d.rzEnd-d.objEnd, redActive)
	}
	clear(mem(a+c.fpOffset, debugWordSize))
	if d.user {
		c.writeTrack(a, trackAlloc, t)
	}
}

// markFree records an object as free: the free track, poison, red zones
// inactive. The caller links it into the freelist.
func (c *Cache) markFree(s *slab, a uintptr, i int, t track) {
	d := c.dbg
	if d.user && t.pid != 0 {
		c.writeTrack(a, trackFree, t)
	}
	if d.poison {
		c.poisonObject(a)
	}
	if d.redzone {
		fill(a-uintptr(c.redLeft), c.redLeft, redInactive)
		fill(a+uintptr(d.objEnd), d.rzEnd-d.objEnd, redInactive)
	}
	s.dbg.set(i, objFree, 0)
}

// debugOnAlloc runs when Sheaf.Alloc hands out an object of a debug cache.
// The object was taken from its slab (and checked) when the sheaf was
// filled; only the alloc track moves to the real caller.
func (c *Cache) debugOnAlloc(a uintptr) {
	if c.dbg.user {
		c.writeTrack(a, trackAlloc, captureTrack(false))
		c.liveAdd(a, true)
	}
}

// debugFree is Free and FreeNoLock of a debug cache (free_debug_processing
// and __slab_free under list_lock). The core has checked that a is an object
// slot of s. A double free is reported and ignored. With noblock and
// list_lock (or the live-object profile's lock) busy it returns false,
// after moving the object to objDeferred, and the caller puts it on the
// deferred list.
func (c *Cache) debugFree(s *slab, a uintptr, noblock bool) bool {
	var t track
	if c.dbg.user {
		t = captureTrack(noblock)
	}
	var r reporter
	n := &c.node
	if !c.liveRemove(a, noblock) || !n.lock(noblock) {
		ok := c.markDeferred(&r, s, a, t)
		c.deliver(&r)
		return !ok
	}
	c.freeDebugAndUnlock(&r, s, a, t, objAllocated)
	return true
}

// debugFreeDeferred frees an object that FreeNoLock deferred, when the
// deferred list is drained.
func (c *Cache) debugFreeDeferred(s *slab, a uintptr) {
	c.liveRemove(a, false)
	var r reporter
	c.node.lock(false)
	c.freeDebugAndUnlock(&r, s, a, track{}, objDeferred)
}

// freeDebugAndUnlock frees a with list_lock held, drops the lock, and then
// does what needs no lock: the emptied slab's pages, the counter, the
// reports and the trace.
func (c *Cache) freeDebugAndUnlock(r *reporter, s *slab, a uintptr, t track, from uint32) {
	freed, discard := c.freeDebugLocked(r, s, a, t, from)
	var ot objTrace
	if freed {
		ot = c.noteTrace(EventFree, s, a)
	}
	c.node.unlock()
	if discard {
		c.discardSlab(s)
	}
	if freed {
		c.stat(FreeSlowpath)
	}
	c.deliver(r)
	c.emitTrace(ot)
}

// markDeferred moves an allocated object to objDeferred without list_lock,
// so that a second free while it waits is caught. It returns false, after
// reporting, for an object that is not allocated.
func (c *Cache) markDeferred(r *reporter, s *slab, a uintptr, t track) bool {
	d := s.dbg
	i := c.slotIndex(s, a)
	for {
		w := d.load(i)
		if w&objStateMask != objAllocated {
			c.reportDoubleFree(r, s, a, w)
			return false
		}
		if atomic.CompareAndSwapUint32(&d.obj[i], w, w&^objStateMask|objDeferred) {
			if c.dbg.user {
				c.writeTrack(a, trackFree, t)
			}
			return true
		}
	}
}

// freeDebugLocked checks and frees object a of slab s, which the caller's
// path finds in state from: objAllocated (Free), objDeferred (a drained
// FreeNoLock) or objRCU (a FreeRCU whose grace period has ended); in any
// other it is a double free. It returns whether the object was freed, and
// whether s became an empty slab beyond min_partial that is now off every
// list and must go back to the page heap.
func (c *Cache) freeDebugLocked(r *reporter, s *slab, a uintptr, t track, from uint32) (freed, discard bool) {
	d := s.dbg
	i := c.slotIndex(s, a)
	w := d.load(i)
	if w&objStateMask != from {
		c.reportDoubleFree(r, s, a, w)
		return false, false
	}
	c.checkSlot(r, s, a, w, c.dbg.check)
	if c.dbg.check {
		c.checkFreelist(r, s)
	}
	c.markFree(s, a, i, t)
	n := &c.node
	fl := s.freelist()
	oc := s.counters()
	c.setFP(a, fl)
	nc := oc.withInuse(oc.inuse() - 1).next()
	if !c.cmpxchg(s, fl, oc, a, nc) {
		panic("alloc: " + c.name + ": debug slab changed under list_lock")
	}
	wasFull := fl == 0
	if nc.inuse() == 0 && n.nrPartial >= n.minPartial && (s.onPartial || wasFull) {
		if s.onPartial {
			n.removePartial(s)
			c.stat(FreeRemovePartial)
		}
		n.removeSlab(s)
		// Like the kernel's free_slab with debugging: a last look at every
		// object, whose damage would otherwise go unseen.
		c.checkWholeSlab(r, s)
		return true, true
	}
	if wasFull && !s.onPartial {
		n.addPartial(s, true)
		c.stat(FreeAddPartial)
	}
	return true, false
}

func (c *Cache) reportDoubleFree(r *reporter, s *slab, a uintptr, w uint32) {
	c.reportNotAllocated(r, "", s, a, w)
}

// reportNotAllocated reports op (Realloc, UsableSize; "" for a free) of a,
// an object of s whose state word w says it is not allocated.
func (c *Cache) reportNotAllocated(r *reporter, op string, s *slab, a uintptr, w uint32) {
	what, fix := "double free", "Ignoring the free"
	if op != "" {
		what, fix = op, "Ignoring the "+op
	}
	rep := c.newReport(ReportDoubleFree, s, a)
	switch w & objStateMask {
	case objDeferred:
		rep.Message = fmt.Sprintf("%s of %#x, which FreeNoLock freed and which waits on the deferred list", what, a)
	case objRCU:
		rep.Message = fmt.Sprintf("%s of %#x, which FreeRCU freed and which waits for its grace period", what, a)
	default:
		rep.Message = fmt.Sprintf("%s of %#x, which is free", what, a)
	}
	rep.Fix = fix
	r.add(rep)
}

// checkSlot checks the bytes of object a that its state word w fixes, and
// with full the padding too (the kernel's check_object). What is wrong is
// reported and restored.
func (c *Cache) checkSlot(r *reporter, s *slab, a uintptr, w uint32, full bool) {
	d := c.dbg
	free := w&objStateMask == objFree
	rz := byte(redActive)
	if free {
		rz = redInactive
	}
	if d.redzone {
		c.checkBytes(r, s, a, ReportLeftRedzone, "Left Redzone", -c.redLeft, c.redLeft, rz, rz)
		if !free && d.kmalloc {
			size := objSize(w)
			c.checkBytes(r, s, a, ReportKmallocRedzone, "kmalloc Redzone", size, d.objEnd-size, rz, rz)
		}
		c.checkBytes(r, s, a, ReportRightRedzone, "Right Redzone", d.objEnd, d.rzEnd-d.objEnd, rz, rz)
	}
	if free && d.poison {
		c.checkBytes(r, s, a, ReportPoison, "Poison", 0, d.objEnd, poisonFree, poisonEnd)
	}
	if full {
		c.checkBytes(r, s, a, ReportObjectPadding, "Object padding", d.metaEnd, d.slotEnd-d.metaEnd, poisonInuse, poisonInuse)
	}
}

// checkBytes compares the n bytes at obj+off with want (the last one with
// last). A mismatch is reported as kind, the bytes restored (the kernel's
// check_bytes_and_report and restore_bytes). obj 0 means off is from the
// slab's start.
func (c *Cache) checkBytes(r *reporter, s *slab, obj uintptr, kind, what string, off, n int, want, last byte) bool {
	if n <= 0 {
		return true
	}
	base := obj
	if obj == 0 {
		base = s.start
	}
	at := base + uintptr(off)
	b := mem(at, n)
	first, end := -1, -1
	for i := 0; i < n-1; i++ {
		if b[i] != want {
			if first < 0 {
				first = i
			}
			end = i
		}
	}
	if b[n-1] != last {
		if first < 0 {
			first = n - 1
		}
		end = n - 1
	}
	if first < 0 {
		return true
	}
	rep := c.newReport(kind, s, obj)
	rep.Offset = off + first
	rep.Found = append([]byte(nil), b[first:end+1]...)
	rep.Expected = make([]byte, end+1-first)
	for i := range rep.Expected {
		rep.Expected[i] = want
	}
	if end == n-1 {
		rep.Expected[len(rep.Expected)-1] = last
	}
	from, to := at+uintptr(first), at+uintptr(end)
	rep.Message = fmt.Sprintf("%#x-%#x @offset=%d. First byte %#x instead of %#x", from, to, rep.Offset, rep.Found[0], rep.Expected[0])
	fill(at, n-1, want)
	b[n-1] = last
	rep.Fix = fmt.Sprintf("Restoring %s %#x-%#x=%#x", what, from, to, want)
	r.add(rep)
	return false
}

// checkFreelist walks the freelist of s against the object states (the
// kernel's on_freelist): each entry must be a free object of s, none twice,
// and every free object on it. A mismatch is reported and the freelist
// rebuilt; it returns whether the freelist was sound.
func (c *Cache) checkFreelist(r *reporter, s *slab) bool {
	d := s.dbg
	clear(d.seen)
	nfree := 0
	for i := range d.obj {
		if d.state(i) == objFree {
			nfree++
		}
	}
	var prev uintptr
	cnt := 0
	for o := s.freelist(); o != 0; o = c.getFP(o) {
		ok := c.validSlot(s, o)
		if ok {
			i := c.slotIndex(s, o)
			ok = d.state(i) == objFree && d.seen[i/64]&(1<<(i%64)) == 0
			d.seen[i/64] |= 1 << (i % 64)
		}
		if !ok {
			if prev == 0 {
				rep := c.newReport(ReportFreechain, s, 0)
				rep.Message = fmt.Sprintf("freelist head %#x of slab %#x is not a free object of the slab", o, s.start)
				c.rebuildFreelist(&rep, s)
				r.add(rep)
			} else {
				c.reportFreepointer(r, s, prev, o, nfree-cnt)
			}
			return false
		}
		cnt++
		prev = o
	}
	if cnt != nfree || s.counters().free() != nfree {
		rep := c.newReport(ReportFreechain, s, prev)
		rep.Message = fmt.Sprintf("freelist of slab %#x holds %d objects, the slab has %d free (counters say %d)", s.start, cnt, nfree, s.counters().free())
		c.rebuildFreelist(&rep, s)
		r.add(rep)
		return false
	}
	return true
}

// debugValidateSlab is Validate's walk of one slab of a debug cache, under
// list_lock (validate_slab): the freelist against the object states, every
// object's bytes as its state says, the padding and the slab's tail. It adds
// what it finds to r, which Validate delivers once it has dropped its locks,
// and returns the problems for Validate's error.
func (c *Cache) debugValidateSlab(r *reporter, s *slab) []string {
	first := len(r.reps)
	c.checkFreelist(r, s)
	c.checkWholeSlab(r, s)
	var out []string
	for _, rep := range r.reps[first:] {
		out = append(out, rep.Summary())
	}
	return out
}

// checkWholeSlab checks every object of s as its state says, with the
// padding, and the slab's tail.
func (c *Cache) checkWholeSlab(r *reporter, s *slab) {
	d := s.dbg
	for i := range d.obj {
		c.checkSlot(r, s, s.base+uintptr(i*c.size), d.load(i), true)
	}
	tail := s.end - uintptr(c.redLeft)
	c.checkBytes(r, s, 0, ReportSlabPadding, "Padding", int(tail-s.start), int(s.start+uintptr(s.npages*pageSize)-tail), poisonInuse, poisonInuse)
}

// reportLeaks reports the objects a failed Destroy found still allocated,
// by their states (a corrupt freelist cannot make a free object look
// leaked), at most maxLeakReports of them.
func (c *Cache) reportLeaks(_ []uintptr, total int) {
	var r reporter
	n := &c.node
	n.lock(false)
	for s := n.all; s != nil && len(r.reps) < maxLeakReports; s = s.allNext {
		for i := range s.dbg.obj {
			// A deferred object (FreeNoLock) is free, waiting to be drained.
			if s.dbg.state(i) != objAllocated || len(r.reps) == maxLeakReports {
				continue
			}
			a := s.base + uintptr(i*c.size)
			rep := c.newReport(ReportLeak, s, a)
			rep.Message = fmt.Sprintf("%d objects remaining in %s on Destroy; this one is %#x", total, c.name, a)
			rep.Fix = "Destroy fails and frees nothing; the cache stays usable"
			r.add(rep)
		}
	}
	n.unlock()
	c.deliver(&r)
}

const maxLeakReports = 16

// debugCheckAllocated reports, for op (Realloc, UsableSize; "" for a
// free, FreeRCU's), an object a of slab s that is not allocated, and
// returns whether it is.
func (c *Cache) debugCheckAllocated(op string, s *slab, a uintptr) bool {
	w := s.dbg.load(c.slotIndex(s, a))
	if w&objStateMask == objAllocated {
		return true
	}
	var r reporter
	c.reportNotAllocated(&r, op, s, a, w)
	c.deliver(&r)
	return false
}

// debugUsableSize is UsableSize on a debug heap: the size asked for.
func (c *Cache) debugUsableSize(a uintptr) int {
	s := lookupSlab(a)
	w := s.dbg.load(c.slotIndex(s, a))
	if !c.dbg.kmalloc || w&objStateMask != objAllocated {
		return c.objectSize
	}
	return objSize(w)
}

// debugResize is Realloc within the object's size class on a debug heap
// (krealloc's in-place path): a shrink makes the freed tail red zone, a grow
// zeroes the bytes it adds, so that the red zone past the new size is
// exactly right.
func (c *Cache) debugResize(a uintptr, size int) {
	s := lookupSlab(a)
	d := c.dbg
	i := c.slotIndex(s, a)
	var r reporter
	c.node.lock(false)
	w := s.dbg.load(i)
	if w&objStateMask != objAllocated {
		rep := c.newReport(ReportDoubleFree, s, a)
		rep.Message = fmt.Sprintf("Realloc of %#x, which is free", a)
		rep.Fix = "Ignoring the Realloc"
		r.add(rep)
	} else {
		c.checkSlot(&r, s, a, w, false)
		old := objSize(w)
		if size < old {
			if d.redzone {
				fill(a+uintptr(size), old-size, redActive)
			}
		} else {
			clear(mem(a+uintptr(old), size-old))
		}
		s.dbg.set(i, objAllocated, size)
	}
	c.node.unlock()
	c.deliver(&r)
}
