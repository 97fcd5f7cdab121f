package alloc

// Deferred callbacks of an RCU domain (call_srcu, srcu_barrier): the queue
// that the allocator's deferred frees go through, and the domain's
// goroutine that runs them after their grace periods, like the kernel's RCU
// callback threads. The grace periods themselves are in rcu.go.
// Model: alloc/model/rcu.pml (queue, run, take, invoke and Barrier, with the
// grace periods of rcu.go shared with Synchronize).
//
// The queue is a lock-free stack (incoming) that call pushes onto with a
// CAS. The goroutine takes the whole stack at once, reverses it into queue
// order, notes the grace-period sequence number that ends a grace period
// beginning after the take (snap), runs grace periods until seq reaches it
// (sharing those that Synchronize callers run), and then runs the batch's
// callbacks in order. Callbacks queued meanwhile form the next batch.
//
// Batching: after a quiet spell, the goroutine waits rcuBatchDelay from
// the first callback before it takes the batch, so that callbacks queued
// close together share one grace period; after that, grace periods for
// callbacks begin at most once per rcuBatchDelay. A callback therefore waits
// rcuBatchDelay, or for the batch before it if that takes longer, and then
// for a grace period of its own (two, if one led by Synchronize was already
// running when its batch was taken).
// While more than rcuBatchLimit objects are pending (PendingObjects), the
// goroutine stops waiting and runs grace periods back to back; the call
// that crosses the bound wakes it.

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	// rcuBatchDelay is the batching delay of deferred callbacks.
	rcuBatchDelay = time.Millisecond
	// rcuBatchLimit is the number of pending objects past which grace
	// periods run back to back, without the batching delay.
	rcuBatchLimit = 1 << 15
)

// rcuHead is one deferred callback (the kernel's rcu_head). A structure
// that is handed to a grace period (a sheaf, a batch of objects) embeds one
// and gets it back in fn, which finds the structure from it (container_of;
// with the head as the first field, a conversion of the pointer). The head
// holds Go pointers, so it must live in Go memory, never in slab memory.
// fn is nil except while the head is queued.
type rcuHead struct {
	next    *rcuHead
	fn      func(*rcuHead)
	objs    int  // objects fn frees, for PendingObjects
	barrier bool // Barrier's own head, which the counters leave out
}

// rcuCallbacks is the callback side of a domain.
type rcuCallbacks struct {
	incoming atomic.Pointer[rcuHead] // pushed by call, taken whole by run

	pendingCallbacks atomic.Int64  // queued, not yet run
	pendingObjects   atomic.Int64  // the objs of those callbacks
	callbacksRun     atomic.Uint64 // run since the domain was made

	sleeping  atomic.Bool   // run is about to wait, or waits, on wake with nothing queued
	closed    atomic.Bool   // Close was called
	wake      chan struct{} // one token: there is work, or the domain closes
	done      chan struct{} // closed when run returns
	isDefault bool          // DefaultRCU's domain, which cannot be closed
}

func (r *RCU) startCallbacks() {
	r.wake = make(chan struct{}, 1)
	r.done = make(chan struct{})
	go r.run()
}

// call queues h to have fn(h) run on the domain's goroutine after a full
// grace period (call_srcu); objs is the number of objects fn will free. It
// never blocks, never allocates and never runs code outside this file: a
// CAS push, counter adds, and at most a send on a buffered channel that
// cannot wait. It is meant to be called unpinned.
func (r *RCU) call(h *rcuHead, objs int, fn func(*rcuHead)) { r.queue(h, objs, fn, false) }

// queue is call, and for Barrier's head (barrier) leaves the counters
// alone: a Barrier that returns has its callback still to count down, and
// it is no deferred free.
func (r *RCU) queue(h *rcuHead, objs int, fn func(*rcuHead), barrier bool) {
	if h.fn != nil {
		panic(fmt.Sprintf("alloc: %v: rcu head %p queued twice", r, h))
	}
	if r.closed.Load() {
		panic(fmt.Sprintf("alloc: %v: deferred free after Close", r))
	}
	h.fn, h.objs, h.barrier = fn, objs, barrier
	if !barrier {
		r.pendingCallbacks.Add(1)
	}
	n := r.pendingObjects.Add(int64(objs))
	for {
		old := r.incoming.Load()
		h.next = old
		if r.incoming.CompareAndSwap(old, h) {
			break
		}
	}
	if n > rcuBatchLimit && n-int64(objs) <= rcuBatchLimit {
		r.kick() // crossed the bound: cut a batching delay short
	} else if r.sleeping.Load() && r.sleeping.CompareAndSwap(true, false) {
		r.kick()
	}
}

// kick leaves a token in wake unless one is there.
func (r *RCU) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run is the domain's goroutine.
func (r *RCU) run() {
	defer close(r.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	next := time.Now() // no grace period for callbacks begins before next
	for {
		if r.incoming.Load() == nil {
			if r.closed.Load() {
				return
			}
			// Dekker with call: either call sees sleeping and sends a
			// token, or this load sees its push.
			r.sleeping.Store(true)
			if r.incoming.Load() == nil && !r.closed.Load() {
				<-r.wake
			}
			r.sleeping.Store(false)
			next = time.Now().Add(rcuBatchDelay)
			continue
		}
		if d := r.delay(next); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-r.wake:
				t.Stop()
			}
			continue
		}
		next = time.Now().Add(rcuBatchDelay)
		batch := r.take()
		if r.waitFor(r.snap()) != nil {
			return // misuse stopped the domain; Synchronize and Barrier report it
		}
		r.invoke(batch)
	}
}

// delay returns how long run waits before it takes the next batch: until
// next, unless the domain is closing or more than rcuBatchLimit objects are
// pending.
func (r *RCU) delay(next time.Time) time.Duration {
	if r.closed.Load() || r.pendingObjects.Load() > rcuBatchLimit {
		return 0
	}
	return max(time.Until(next), 0)
}

// take empties incoming and returns its callbacks in the order they were
// queued.
func (r *RCU) take() *rcuHead {
	var q *rcuHead
	for h := r.incoming.Swap(nil); h != nil; {
		next := h.next
		h.next = q
		q = h
		h = next
	}
	return q
}

// invoke runs the callbacks of a batch in order.
func (r *RCU) invoke(h *rcuHead) {
	for h != nil {
		next, fn, objs, barrier := h.next, h.fn, h.objs, h.barrier
		h.next, h.fn = nil, nil // fn may queue h again
		fn(h)
		if !barrier {
			r.callbacksRun.Add(1)
			r.pendingObjects.Add(-int64(objs))
			r.pendingCallbacks.Add(-1)
		}
		h = next
	}
}

// rcuBarrier is Barrier's own callback.
type rcuBarrier struct {
	head rcuHead // first: rcuBarrierDone converts the head's pointer
	done chan struct{}
}

func rcuBarrierDone(h *rcuHead) { close((*rcuBarrier)(unsafe.Pointer(h)).done) }

// Barrier waits until every deferred free queued on the domain before the
// call has run (srcu_barrier). It returns at once when none is pending, and
// panics when misuse has stopped the domain.
func (r *RCU) Barrier() {
	if err := r.err(); err != nil {
		panic(err.Error())
	}
	if r.pendingCallbacks.Load() == 0 {
		return
	}
	b := &rcuBarrier{done: make(chan struct{})}
	r.queue(&b.head, 0, rcuBarrierDone, true)
	select {
	case <-b.done:
	case <-r.done:
		if err := r.err(); err != nil {
			panic(err.Error())
		}
		select {
		case <-b.done:
		default:
			panic(fmt.Sprintf("alloc: %v: Barrier while the domain was closing", r))
		}
	}
}

// Close runs every deferred free still queued, after its grace period, and
// stops the domain's goroutine. Readers and Synchronize keep working after
// Close; deferred frees do not. Close of the default domain panics; a second
// Close does nothing.
func (r *RCU) Close() {
	if r.isDefault {
		panic(fmt.Sprintf("alloc: %v cannot be closed", r))
	}
	r.closed.Store(true)
	r.kick()
	<-r.done
}
