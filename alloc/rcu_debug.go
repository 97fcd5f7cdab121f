package alloc

import (
	"bytes"
	"fmt"
	"sync/atomic"
)

// FreeRCU on debug caches. The object is claimed with a CAS of its state
// word (objAllocated -> objRCU), so that a second free while it waits is a
// double free; its red zones are checked; and, with the P letter, a copy
// of its bytes goes with it into the kfree_rcu batch (rcu_batch.go). It is
// not poisoned: readers that found it before it was unpublished may read it
// until the grace period ends, as the kernel's kfree_rcu leaves an object
// alone until then. When the grace period has ended the object is compared
// with its copy under list_lock, a write during the grace period is
// reported (ReportRCUWrite), and it is freed as Free frees: red zones
// checked, poisoned, back on its slab's freelist. See debug.go for the
// object states.
//
// FreeRCU never waits, so it checks the red zones only when list_lock can
// be had with TryLock (not, for one, from a trace hook that runs under
// it); the end of the grace period checks them in any case. Validate
// checks an objRCU object as the allocated object it still is.

// ReportRCUWrite is the Report.Kind of a write into an object during the
// grace period after FreeRCU freed it (P letter).
const ReportRCUWrite = "Object written during its RCU grace period"

// debugFreeRCU is FreeRCU of object a of slab s of a debug cache. A double
// free is reported and ignored.
func (c *Cache) debugFreeRCU(s *slab, a uintptr) {
	var t track
	if c.dbg.user {
		t = captureTrack(true)
	}
	var r reporter
	d := s.dbg
	i := c.slotIndex(s, a)
	for {
		w := d.load(i)
		if w&objStateMask != objAllocated {
			c.reportDoubleFree(&r, s, a, w)
			c.deliver(&r)
			return
		}
		if atomic.CompareAndSwapUint32(&d.obj[i], w, w&^objStateMask|objRCU) {
			break
		}
	}
	if c.node.lock(true) {
		c.checkSlot(&r, s, a, d.load(i), c.dbg.check)
		c.node.unlock()
	}
	var snap []byte
	if c.debug&DebugPoison != 0 {
		snap = append([]byte(nil), mem(a, c.dbg.objEnd)...)
	}
	if c.dbg.user {
		c.writeTrack(a, trackFree, t)
	}
	c.deliver(&r)
	c.batchFreeRCU(nil, a, snap)
}

// debugFreeRCUDone frees the objects of a batch whose grace period has
// ended, on the domain's goroutine: each is compared with its copy, if it
// has one, and then freed as Free frees it.
func (c *Cache) debugFreeRCUDone(objs []uintptr, snaps [][]byte) {
	var r reporter
	var traces []objTrace
	var discard *slab // linked by cpuNext
	nfreed := 0
	n := &c.node
	n.lock(false)
	for k, a := range objs {
		s := lookupSlab(a)
		if snaps != nil && snaps[k] != nil {
			c.checkRCUCopy(&r, s, a, snaps[k])
		}
		freed, disc := c.freeDebugLocked(&r, s, a, track{}, objRCU)
		if disc {
			s.cpuNext = discard
			discard = s
		}
		if freed {
			nfreed++
			if t := c.noteTrace(EventFree, s, a); t.obj != 0 {
				traces = append(traces, t)
			}
		}
	}
	n.unlock()
	c.discardSlabs(discard)
	c.statAdd(FreeSlowpath, nfreed)
	c.deliver(&r)
	for _, t := range traces {
		c.emitTrace(t)
	}
}

// checkRCUCopy reports the bytes of object a that differ from the copy
// FreeRCU kept: a write during the grace period. Nothing is restored, as
// the object is poisoned when it is freed next.
func (c *Cache) checkRCUCopy(r *reporter, s *slab, a uintptr, snap []byte) {
	b := mem(a, len(snap))
	if bytes.Equal(b, snap) {
		return
	}
	first, last := 0, len(b)-1
	for b[first] == snap[first] {
		first++
	}
	for b[last] == snap[last] {
		last--
	}
	rep := c.newReport(ReportRCUWrite, s, a)
	rep.Offset = first
	rep.Found = append([]byte(nil), b[first:last+1]...)
	rep.Expected = append([]byte(nil), snap[first:last+1]...)
	rep.Message = fmt.Sprintf("%#x-%#x @offset=%d. First byte %#x instead of %#x",
		a+uintptr(first), a+uintptr(last), first, rep.Found[0], rep.Expected[0])
	rep.Fix = "Freeing the object as it is"
	r.add(rep)
}
