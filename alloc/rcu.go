package alloc

// Grace periods in user space: an RCU domain in the manner of the kernel's
// SRCU (kernel/rcu/srcutree.c), with the readers' full barriers taken off
// the fast path by membarrier(2) as in liburcu's urcu-memb flavour. The
// scheme, what a reader costs and why it is correct are in doc.go ("Grace
// periods (RCU)" and the sections after it). The callback queue that the
// allocator uses is in rcu_callback.go.
// Model: alloc/model/rcu.pml (ReadLock and ReadUnlock with readers that move
// between Ps, on x86-TSO store buffers, against waitFor, gracePeriod,
// waitDrained and sums with membarrier; it fails without the barrier, with
// one wait, with the locks summed first or each P's counters read together).

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Polling for readers to leave (see the overview).
const (
	rcuSpinPolls = 16
	rcuPollMin   = 20 * time.Microsecond
	rcuPollMax   = time.Millisecond
)

// RCU is a grace-period domain: readers mark read-side critical sections
// with ReadLock and ReadUnlock, and Synchronize waits until every section
// that was in progress when it was called has ended. Memory that was
// unpublished before Synchronize was called can then be freed: no reader
// still holds it. Readers never block, never take a lock and never
// allocate; sections nest and work from any goroutine, which may move to
// another P inside one.
//
// A section costs two increments of counters of the P it runs on, each
// inside a procPin/procUnpin pair, and no atomic read-modify-write where the
// system has membarrier(2) (Linux): Synchronize pays for the readers'
// barriers instead. The scheme, and why it is correct, are described in the
// package overview (doc.go).
//
// Synchronize and Barrier must not be called inside a read-side section of
// the same domain: they would wait for that section forever.
type RCU struct {
	// Read by every reader; idx changes once per grace period, pcpu
	// when GOMAXPROCS grows.
	pcpu atomic.Pointer[rcuArray] // replaced under gpMu
	idx  atomic.Uint32            // written under gpMu
	tag  uint32                   // the domain's serial << 1; constant
	_    [128]byte                // keep the writers' fields below off the readers' line

	gpMu   sync.Mutex                // held by the goroutine that runs grace periods; also guards growing pcpu
	seq    atomic.Uint64             // grace periods completed * 2, plus 1 while one runs; written under gpMu
	broken atomic.Pointer[rcuBroken] // set once, when a check finds misuse

	endMu   sync.Mutex
	endGen  uint64    // under endMu: counts ends of grace periods and releases of gpMu
	endCond sync.Cond // broadcast when endGen changes; L is &endMu

	rcuCallbacks
}

// RCUToken is what ReadLock returns and ReadUnlock takes back: the index
// the section counted on, and the domain's tag.
type RCUToken struct{ v uint32 }

// rcuPerP is one P's reader counts. The counters come first so that they are
// 8-byte aligned on 32-bit platforms too (the first word of an allocated
// struct or array element is).
type rcuPerP struct {
	lock   [2]uint64
	unlock [2]uint64
	_      [128 - 32]byte
}

// rcuArray is a domain's per-P slots, indexed by P id, with over for Ps
// beyond them and prev for the array it replaced.
type rcuArray struct {
	over rcuPerP // atomic
	p    []rcuPerP
	prev *rcuArray
}

// rcuBroken records the misuse that stopped a domain.
type rcuBroken struct{ msg string }

// rcuSerial numbers domains, for their tags and for messages.
var rcuSerial atomic.Uint32

var defaultRCU = sync.OnceValue(func() *RCU {
	r := NewRCU()
	r.isDefault = true
	return r
})

// DefaultRCU returns the package's default domain, which lives as long as
// the process.
func DefaultRCU() *RCU { return defaultRCU() }

// NewRCU makes a domain. Its goroutine, which runs the allocator's deferred
// frees after their grace periods, lives until Close.
func NewRCU() *RCU {
	s := rcuSerial.Add(1)%(1<<31-1) + 1 // never 0, so that a zero token is never valid
	r := &RCU{tag: s << 1}
	r.endCond.L = &r.endMu
	r.pcpu.Store(&rcuArray{p: make([]rcuPerP, max(gomaxprocs(), runtime.NumCPU()))})
	r.startCallbacks()
	return r
}

func (r *RCU) String() string {
	if r.isDefault {
		return fmt.Sprintf("RCU domain %d (default)", r.tag>>1)
	}
	return fmt.Sprintf("RCU domain %d", r.tag>>1)
}

// ReadLock enters a read-side critical section and returns the token that
// ReadUnlock takes to leave it (srcu_read_lock).
func (r *RCU) ReadLock() RCUToken {
	pid := procPin()
	a := r.pcpu.Load()
	i := r.idx.Load() & 1
	if uint(pid) < uint(len(a.p)) {
		rcuCount(&a.p[pid].lock[i])
	} else {
		atomic.AddUint64(&a.over.lock[i], 1)
	}
	procUnpin()
	return RCUToken{r.tag | i}
}

// ReadUnlock leaves the section that returned t (srcu_read_unlock). It may
// run on another goroutine than ReadLock did. A token of another domain, or
// one that no ReadLock returned, panics; a token unlocked twice is found,
// where it can be, by the next grace period (see Synchronize).
func (r *RCU) ReadUnlock(t RCUToken) {
	if t.v&^1 != r.tag {
		r.badToken(t)
	}
	i := t.v & 1
	pid := procPin()
	a := r.pcpu.Load()
	if uint(pid) < uint(len(a.p)) {
		rcuCount(&a.p[pid].unlock[i])
	} else {
		atomic.AddUint64(&a.over.unlock[i], 1)
	}
	procUnpin()
}

//go:noinline
func (r *RCU) badToken(t RCUToken) {
	if t.v == 0 {
		panic(fmt.Sprintf("alloc: %v: ReadUnlock of a token that ReadLock did not return (the zero RCUToken)", r))
	}
	panic(fmt.Sprintf("alloc: %v: ReadUnlock of a token of RCU domain %d", r, t.v>>1))
}

// Synchronize waits for a grace period: it returns once every read-side
// section that had begun when it was called has ended (synchronize_srcu).
// Concurrent callers share grace periods. It panics when an earlier grace
// period found more ReadUnlock than ReadLock calls.
func (r *RCU) Synchronize() {
	if err := r.waitFor(r.snap()); err != nil {
		panic(err.Error())
	}
}

// snap returns the value of seq at which a grace period that begins after
// now has completed (rcu_seq_snap).
func (r *RCU) snap() uint64 { return (r.seq.Load() + 3) &^ 1 }

// seqDone reports whether seq value cur has reached s, modulo 2^64.
func seqDone(cur, s uint64) bool { return int64(cur-s) >= 0 }

// waitFor returns once seq has reached s. One caller at a time, the one
// that holds gpMu, runs grace periods; the others wait for the end of each
// and return as soon as one has taken seq to their s (the funnel of
// srcu_funnel_gp_start, in one level). A waiter never queues on gpMu
// itself: a caller that keeps the lock busy cannot starve it, and every
// grace period serves all who wait.
func (r *RCU) waitFor(s uint64) error {
	for {
		if err := r.err(); err != nil {
			return err
		}
		r.endMu.Lock()
		gen := r.endGen // before the check: an end after it moves endGen on
		r.endMu.Unlock()
		if seqDone(r.seq.Load(), s) {
			return nil
		}
		if r.gpMu.TryLock() {
			err := r.lead(s)
			r.gpMu.Unlock()
			r.gpEnded() // waiters that found gpMu taken try again
			return err
		}
		r.endMu.Lock()
		for r.endGen == gen {
			r.endCond.Wait()
		}
		r.endMu.Unlock()
	}
}

// lead runs grace periods until seq reaches s; the caller holds gpMu.
func (r *RCU) lead(s uint64) error {
	for !seqDone(r.seq.Load(), s) {
		if err := r.gracePeriod(); err != nil {
			return err
		}
		r.gpEnded()
	}
	return nil
}

// gpEnded wakes the goroutines that wait in waitFor. It allocates nothing,
// so that a grace period allocates nothing.
func (r *RCU) gpEnded() {
	r.endMu.Lock()
	r.endGen++
	r.endMu.Unlock()
	r.endCond.Broadcast()
}

// gracePeriod runs one grace period; the caller holds gpMu.
func (r *RCU) gracePeriod() error {
	if err := r.err(); err != nil {
		return err
	}
	a := r.grow()
	r.seq.Add(1)
	cur := r.idx.Load()
	if err := r.waitDrained(a, (cur+1)&1); err != nil {
		return err
	}
	r.idx.Store(cur + 1)
	if err := r.waitDrained(a, cur&1); err != nil {
		return err
	}
	r.seq.Add(1)
	return nil
}

// grow replaces the per-P array by a larger one when GOMAXPROCS has grown
// beyond it, and returns the array the grace period sums; the caller holds
// gpMu.
func (r *RCU) grow() *rcuArray {
	a := r.pcpu.Load()
	if n := gomaxprocs(); n > len(a.p) {
		a = &rcuArray{p: make([]rcuPerP, n), prev: a}
		r.pcpu.Store(a)
	}
	return a
}

// waitDrained polls until no reader is inside a section on index i.
func (r *RCU) waitDrained(a *rcuArray, i uint32) error {
	d := rcuPollMin
	for try := 0; ; try++ {
		// Without barrier A the sums may be off either way; only the
		// fenced check decides.
		if l, u := a.sums(i, false); l == u || int64(l-u) < 0 {
			l, u = a.sums(i, true)
			if l == u {
				return nil
			}
			if int64(l-u) < 0 {
				return r.setBroken(fmt.Sprintf("alloc: %v: %d more ReadUnlock than ReadLock calls on index %d (a token unlocked twice?); the domain has stopped",
					r, u-l, i))
			}
		}
		if try < rcuSpinPolls {
			runtime.Gosched()
			continue
		}
		time.Sleep(d)
		d = min(2*d, rcuPollMax)
	}
}

// sums returns the sums of lock[i] and unlock[i] over every slot of a and
// the arrays before it, the unlocks first; fenced puts barrier A between
// the two.
func (a *rcuArray) sums(i uint32, fenced bool) (locks, unlocks uint64) {
	for x := a; x != nil; x = x.prev {
		unlocks += atomic.LoadUint64(&x.over.unlock[i])
		for j := range x.p {
			unlocks += atomic.LoadUint64(&x.p[j].unlock[i])
		}
	}
	if fenced {
		asymmetricFence()
	}
	for x := a; x != nil; x = x.prev {
		locks += atomic.LoadUint64(&x.over.lock[i])
		for j := range x.p {
			locks += atomic.LoadUint64(&x.p[j].lock[i])
		}
	}
	return locks, unlocks
}

// setBroken records the first misuse found and returns it as an error.
func (r *RCU) setBroken(msg string) error {
	r.broken.CompareAndSwap(nil, &rcuBroken{msg})
	return r.err()
}

// err returns the misuse that stopped the domain, or nil.
func (r *RCU) err() error {
	if b := r.broken.Load(); b != nil {
		return errors.New(b.msg)
	}
	return nil
}

// RCUStats are a domain's counters, read without stopping it.
type RCUStats struct {
	GracePeriods     uint64 // grace periods completed
	PendingCallbacks int64  // deferred frees queued and not yet run
	PendingObjects   int64  // objects those deferred frees will free
	CallbacksRun     uint64 // deferred frees run
}

// Stats returns the domain's counters.
func (r *RCU) Stats() RCUStats {
	return RCUStats{
		GracePeriods:     r.seq.Load() / 2,
		PendingCallbacks: r.pendingCallbacks.Load(),
		PendingObjects:   r.pendingObjects.Load(),
		CallbacksRun:     r.callbacksRun.Load(),
	}
}
