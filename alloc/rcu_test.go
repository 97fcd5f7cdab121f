package alloc

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

func newTestRCU(t *testing.T) *RCU {
	r := NewRCU()
	t.Cleanup(r.Close)
	return r
}

// currentP returns the id of the P the goroutine runs on now.
func currentP() int {
	pid := procPin()
	procUnpin()
	return pid
}

// notDone fails t if ch is closed within d.
func notDone(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s finished while a reader that began before it was still inside", what)
	case <-time.After(d):
	}
}

// doneWithin fails t unless ch is closed within d.
func doneWithin(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s did not finish within %v", what, d)
	}
}

// goDone runs f on a new goroutine and returns a channel closed when f
// returns.
func goDone(f func()) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		f()
	}()
	return ch
}

// The reuse harness: nodes recycled by the test itself, published in slots,
// replaced by writers and freed after a grace period (or, for the negative
// control, at once). A free poisons the node and bumps its generation; a
// reader checks, before and after a pause inside its section, that the node
// it loaded is live and keeps its generation and payload. Any free or reuse
// under a reader is a violation.

const (
	nodeLive = 1
	nodeFree = 2
	poison   = 0x6b6b6b6b6b6b6b6b
)

type rcuNode struct {
	head  rcuHead // first: nodeFromHead converts the head's pointer
	pool  *nodePool
	gen   atomic.Uint64
	state atomic.Uint32
	val   atomic.Uint64 // payload(gen) while live, poison while free
}

func payload(gen uint64) uint64 { return gen*0x9e3779b97f4a7c15 + 1 }

func nodeFromHead(h *rcuHead) *rcuNode { return (*rcuNode)(unsafe.Pointer(h)) }

// nodePool is a free list of nodes that never go back to the Go heap, so
// that a node is really reused.
type nodePool struct {
	size   int
	mu     sync.Mutex
	free   []*rcuNode
	reused atomic.Int64
}

func newNodePool(n int) *nodePool {
	p := &nodePool{size: n, free: make([]*rcuNode, 0, n)}
	nodes := make([]rcuNode, n)
	for i := range nodes {
		nodes[i].pool = p
		nodes[i].state.Store(nodeFree)
		p.free = append(p.free, &nodes[i])
	}
	return p
}

func (p *nodePool) get() *rcuNode {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return nil
	}
	n := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	if n.gen.Load() != 0 {
		p.reused.Add(1)
	}
	g := n.gen.Add(1)
	n.val.Store(payload(g))
	n.state.Store(nodeLive)
	return n
}

func (p *nodePool) put(n *rcuNode) {
	n.state.Store(nodeFree)
	n.gen.Add(1)
	n.val.Store(poison)
	p.mu.Lock()
	p.free = append(p.free, n)
	p.mu.Unlock()
}

func freeNode(h *rcuHead) { n := nodeFromHead(h); n.pool.put(n) }

type retireMode int

const (
	retireSynchronize retireMode = iota // Synchronize, then free
	retireCall                          // free from a callback after the grace period
	retireAtOnce                        // no grace period: the negative control
)

type reuseResult struct {
	reads, violations, replaced, reused int64
	lost                                int // nodes neither in a slot nor back in the pool
	firstViolation                      string
}

// runReuse runs readers and writers on r for d and counts the reads that saw
// their node freed or reused.
func runReuse(r *RCU, mode retireMode, readers, writers int, d time.Duration) reuseResult {
	const nslots = 16
	pool := newNodePool(4096)
	slots := make([]atomic.Pointer[rcuNode], nslots)
	for i := range slots {
		slots[i].Store(pool.get())
	}
	var res reuseResult
	var mu sync.Mutex
	violate := func(msg string) {
		if atomic.AddInt64(&res.violations, 1) == 1 {
			mu.Lock()
			res.firstViolation = msg
			mu.Unlock()
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			var reads int64
			for !stop.Load() {
				t := r.ReadLock()
				n := slots[rnd.IntN(nslots)].Load()
				gen := n.gen.Load()
				if n.state.Load() != nodeLive || n.val.Load() != payload(gen) {
					violate(fmt.Sprintf("node %p free or changed when first read (gen %d)", n, gen))
				}
				switch rnd.IntN(8) {
				case 0:
					runtime.Gosched() // move to another P, maybe
				case 1:
					t2 := r.ReadLock() // a nested section
					m := slots[rnd.IntN(nslots)].Load()
					if m.state.Load() != nodeLive {
						violate(fmt.Sprintf("node %p free in a nested section", m))
					}
					r.ReadUnlock(t2)
				case 2:
					time.Sleep(10 * time.Microsecond)
				}
				if g2 := n.gen.Load(); g2 != gen || n.state.Load() != nodeLive || n.val.Load() != payload(gen) {
					violate(fmt.Sprintf("node %p freed or reused under a reader: gen %d -> %d", n, gen, g2))
				}
				r.ReadUnlock(t)
				reads++
			}
			atomic.AddInt64(&res.reads, reads)
		}()
	}
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 2))
			var replaced int64
			for !stop.Load() {
				n := pool.get()
				if n == nil {
					r.Barrier() // the callbacks give nodes back
					runtime.Gosched()
					continue
				}
				old := slots[rnd.IntN(nslots)].Swap(n)
				switch mode {
				case retireSynchronize:
					r.Synchronize()
					pool.put(old)
				case retireCall:
					r.call(&old.head, 1, freeNode)
				case retireAtOnce:
					pool.put(old)
				}
				replaced++
			}
			atomic.AddInt64(&res.replaced, replaced)
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	r.Barrier()
	res.reused = pool.reused.Load()
	res.lost = pool.size - nslots - len(pool.free)
	return res
}

func reuseDuration() time.Duration {
	if raceEnabled || testing.Short() {
		return 150 * time.Millisecond
	}
	return 400 * time.Millisecond
}

func TestRCUReadersNeverSeeReuse(t *testing.T) {
	withProcs(t, max(4, runtime.GOMAXPROCS(0)))
	for _, tc := range []struct {
		name    string
		mode    retireMode
		writers int
	}{
		{"synchronize", retireSynchronize, 3}, // concurrent Synchronize callers
		{"call", retireCall, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRCU(t)
			before := r.Stats().GracePeriods
			res := runReuse(r, tc.mode, 4, tc.writers, reuseDuration())
			if res.violations != 0 {
				t.Fatalf("%d of %d reads saw their node freed or reused; first: %s", res.violations, res.reads, res.firstViolation)
			}
			st := r.Stats()
			t.Logf("%d reads, %d nodes replaced, %d reused, %d grace periods", res.reads, res.replaced, res.reused, st.GracePeriods-before)
			if res.reads == 0 || res.replaced == 0 || res.reused == 0 {
				t.Fatalf("the test did not exercise reuse: %+v", res)
			}
			if st.GracePeriods == before {
				t.Error("no grace period completed")
			}
			if tc.mode == retireSynchronize && st.GracePeriods-before >= uint64(res.replaced) {
				t.Errorf("%d grace periods for %d Synchronize calls: concurrent callers shared none", st.GracePeriods-before, res.replaced)
			}
			if st.PendingCallbacks != 0 || st.PendingObjects != 0 || res.lost != 0 {
				t.Errorf("after Barrier: %+v, %d nodes not back in the pool", st, res.lost)
			}
		})
	}
}

// TestRCUReuseHarnessCanFail is the negative control of the harness: freeing
// without a grace period must be caught.
func TestRCUReuseHarnessCanFail(t *testing.T) {
	withProcs(t, max(4, runtime.GOMAXPROCS(0)))
	r := newTestRCU(t)
	for range 10 {
		if res := runReuse(r, retireAtOnce, 4, 2, 100*time.Millisecond); res.violations > 0 {
			return
		}
	}
	t.Fatal("frees without a grace period went unnoticed")
}

func TestRCUNestedSections(t *testing.T) {
	r := newTestRCU(t)
	outer := r.ReadLock()
	sd := goDone(r.Synchronize)
	// Wait for the flip, so that the inner section takes the other index.
	for r.idx.Load() == 0 {
		runtime.Gosched()
	}
	inner := r.ReadLock()
	if inner == outer {
		t.Errorf("inner token %#x equals outer: the flip did not reach the reader", inner.v)
	}
	inner2 := r.ReadLock() // nested twice on the same index
	r.ReadUnlock(inner2)
	r.ReadUnlock(inner)
	notDone(t, sd, 30*time.Millisecond, "Synchronize")
	r.ReadUnlock(outer)
	doneWithin(t, sd, 10*time.Second, "Synchronize")
	// Every section has ended: both indices are balanced.
	a := r.pcpu.Load()
	for i := range uint32(2) {
		if l, u := a.sums(i, true); l != u {
			t.Errorf("index %d: %d locks, %d unlocks", i, l, u)
		}
	}
}

// TestRCUReaderMovesBetweenPs locks on one P and unlocks on another, with a
// grace period waiting in between.
func TestRCUReaderMovesBetweenPs(t *testing.T) {
	withProcs(t, max(4, runtime.GOMAXPROCS(0)))
	r := newTestRCU(t)
	// Keep the other Ps busy so that a yielding goroutine comes back on a
	// different one.
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				runtime.Gosched()
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	a := r.pcpu.Load()
	// counts returns, per slot, the locks and unlocks of both indices.
	counts := func() (locks, unlocks []uint64) {
		for j := range a.p {
			locks = append(locks, atomic.LoadUint64(&a.p[j].lock[0])+atomic.LoadUint64(&a.p[j].lock[1]))
			unlocks = append(unlocks, atomic.LoadUint64(&a.p[j].unlock[0])+atomic.LoadUint64(&a.p[j].unlock[1]))
		}
		return locks, unlocks
	}
	moved, split := 0, 0 // readers that moved; sections counted on two slots
	for attempt := 0; attempt < 20 && split < 3; attempt++ {
		l0, u0 := counts()
		tok := r.ReadLock()
		from := currentP()
		sd := goDone(r.Synchronize)
		for range 10000 {
			runtime.Gosched()
			if currentP() != from {
				moved++
				break
			}
		}
		notDone(t, sd, 2*time.Millisecond, "Synchronize")
		r.ReadUnlock(tok)
		doneWithin(t, sd, 10*time.Second, "Synchronize")
		l1, u1 := counts()
		for j := range a.p {
			if l1[j]-l0[j] != u1[j]-u0[j] {
				split++ // the lock on one slot, the unlock on another
				break
			}
		}
	}
	if split == 0 {
		t.Fatalf("%d readers moved to another P, %d sections were counted on two slots: the test proved nothing", moved, split)
	}
	for i := range uint32(2) {
		if l, u := a.sums(i, true); l != u {
			t.Errorf("index %d: %d locks, %d unlocks", i, l, u)
		}
	}
}

// TestRCULongReader: a reader that stays inside holds back Synchronize and
// the callbacks queued after it entered.
func TestRCULongReader(t *testing.T) {
	r := newTestRCU(t)
	tok := r.ReadLock()
	var left atomic.Bool
	sd := goDone(func() {
		r.Synchronize()
		if !left.Load() {
			t.Error("Synchronize returned before the reader left")
		}
	})
	ran := make(chan struct{})
	var cb struct {
		h    rcuHead
		left *atomic.Bool
		ran  chan struct{}
	}
	cb.left, cb.ran = &left, ran
	r.call(&cb.h, 7, func(h *rcuHead) {
		c := (*struct {
			h    rcuHead
			left *atomic.Bool
			ran  chan struct{}
		})(unsafe.Pointer(h))
		if !c.left.Load() {
			t.Error("callback ran before the reader left")
		}
		close(c.ran)
	})
	if st := r.Stats(); st.PendingCallbacks != 1 || st.PendingObjects != 7 {
		t.Errorf("pending %d callbacks, %d objects; want 1, 7", st.PendingCallbacks, st.PendingObjects)
	}
	hold := 100 * time.Millisecond
	notDone(t, sd, hold, "Synchronize")
	notDone(t, ran, time.Millisecond, "the callback")
	if st := r.Stats(); st.PendingObjects != 7 || st.CallbacksRun != 0 {
		t.Errorf("after %v: %+v, want 7 objects pending and no callback run", hold, st)
	}
	left.Store(true)
	r.ReadUnlock(tok)
	doneWithin(t, sd, 10*time.Second, "Synchronize")
	doneWithin(t, ran, 10*time.Second, "the callback")
	r.Barrier()
	if st := r.Stats(); st.PendingCallbacks != 0 || st.PendingObjects != 0 || st.CallbacksRun != 1 {
		t.Errorf("after Barrier: %+v", st)
	}
}

func TestRCUBarrier(t *testing.T) {
	r := newTestRCU(t)
	// Nothing pending: Barrier returns without a grace period.
	gp := r.Stats().GracePeriods
	r.Barrier()
	if got := r.Stats().GracePeriods; got != gp {
		t.Errorf("Barrier with nothing queued ran %d grace periods", got-gp)
	}
	// Callbacks run in the order they were queued, all before Barrier
	// returns.
	const n = 1000
	type item struct {
		h   rcuHead
		i   int
		log *[]int
	}
	var log []int
	items := make([]item, n)
	for i := range items {
		items[i].i, items[i].log = i, &log
		r.call(&items[i].h, 2, func(h *rcuHead) {
			it := (*item)(unsafe.Pointer(h))
			*it.log = append(*it.log, it.i)
		})
	}
	r.Barrier()
	if len(log) != n {
		t.Fatalf("%d of %d callbacks ran before Barrier returned", len(log), n)
	}
	for i, v := range log {
		if v != i {
			t.Fatalf("callback %d ran in place %d", v, i)
		}
	}
	if st := r.Stats(); st.PendingCallbacks != 0 || st.PendingObjects != 0 || st.CallbacksRun != n {
		t.Errorf("%+v, want nothing pending and %d run", st, n)
	}
	// A reader inside holds Barrier back.
	tok := r.ReadLock()
	var x rcuHead
	r.call(&x, 1, func(*rcuHead) {})
	b := goDone(r.Barrier)
	notDone(t, b, 20*time.Millisecond, "Barrier")
	r.ReadUnlock(tok)
	doneWithin(t, b, 10*time.Second, "Barrier")
}

func TestRCUConcurrentSynchronize(t *testing.T) {
	withProcs(t, max(4, runtime.GOMAXPROCS(0)))
	r := newTestRCU(t)
	const callers, calls = 8, 25
	before := r.Stats().GracePeriods
	var stop atomic.Bool
	var rwg sync.WaitGroup
	for range 2 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for !stop.Load() {
				t := r.ReadLock()
				runtime.Gosched()
				r.ReadUnlock(t)
			}
		}()
	}
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				s := r.seq.Load()
				r.Synchronize()
				// A full grace period began and ended within the call.
				if got := r.seq.Load(); !seqDone(got, (s+3)&^1) {
					t.Errorf("Synchronize returned at seq %d, called at %d", got, s)
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	rwg.Wait()
	gps := r.Stats().GracePeriods - before
	t.Logf("%d Synchronize calls, %d grace periods", callers*calls, gps)
	// How many calls share a grace period depends on the scheduler (on a
	// loaded or emulated machine each caller may come alone): the test
	// asserts that each call got a whole one, above, and no more than one.
	if gps == 0 || gps > callers*calls {
		t.Errorf("%d grace periods for %d calls: want between one and one per call", gps, callers*calls)
	}
}

func TestRCUNoAllocation(t *testing.T) {
	r := newTestRCU(t)
	if n := testing.AllocsPerRun(100, func() { r.ReadUnlock(r.ReadLock()) }); n != 0 {
		t.Errorf("ReadLock+ReadUnlock: %v allocations", n)
	}
	if n := testing.AllocsPerRun(20, r.Synchronize); n != 0 {
		t.Errorf("Synchronize: %v allocations", n)
	}
	heads := make([]rcuHead, 200)
	i := 0
	nop := func(*rcuHead) {}
	if n := testing.AllocsPerRun(100, func() { r.call(&heads[i], 1, nop); i++ }); n != 0 {
		t.Errorf("call: %v allocations (or the grace period that ran meanwhile)", n)
	}
	r.Barrier()
}

func TestRCUMisuse(t *testing.T) {
	r := newTestRCU(t)
	name := r.String()
	wantContains(t, mustPanic(t, func() { r.ReadUnlock(RCUToken{}) }), name+": ReadUnlock of a token that ReadLock did not return")
	other := newTestRCU(t)
	tok := other.ReadLock()
	wantContains(t, mustPanic(t, func() { r.ReadUnlock(tok) }), fmt.Sprintf("%s: ReadUnlock of a token of RCU domain %d", name, other.tag>>1))
	other.ReadUnlock(tok)
	other.Synchronize() // the rejected unlock changed nothing in either domain

	var h rcuHead
	r.call(&h, 1, func(*rcuHead) {})
	wantContains(t, mustPanic(t, func() { r.call(&h, 1, func(*rcuHead) {}) }), "queued twice")
	r.Barrier()
	wantContains(t, mustPanic(t, DefaultRCU().Close), "cannot be closed")

	// A token unlocked twice: the next grace period stops the domain.
	bad := NewRCU()
	tok = bad.ReadLock()
	bad.ReadUnlock(tok)
	bad.ReadUnlock(tok)
	wantContains(t, mustPanic(t, bad.Synchronize), "more ReadUnlock than ReadLock")
	wantContains(t, mustPanic(t, bad.Synchronize), "more ReadUnlock than ReadLock")
	bad.call(new(rcuHead), 1, func(*rcuHead) { t.Error("a callback ran on a stopped domain") })
	wantContains(t, mustPanic(t, bad.Barrier), "more ReadUnlock than ReadLock")
	bad.Close()
}

func TestRCUClose(t *testing.T) {
	r := NewRCU()
	var ran atomic.Int32
	heads := make([]rcuHead, 10)
	for i := range heads {
		r.call(&heads[i], 1, func(*rcuHead) { ran.Add(1) })
	}
	r.Close()
	if ran.Load() != 10 {
		t.Errorf("%d of 10 callbacks ran before Close returned", ran.Load())
	}
	doneWithin(t, r.done, time.Second, "the domain's goroutine")
	r.Close() // a second Close does nothing
	wantContains(t, mustPanic(t, func() { r.call(new(rcuHead), 1, func(*rcuHead) {}) }), "after Close")
	r.Barrier() // nothing pending
	tok := r.ReadLock()
	r.ReadUnlock(tok)
	r.Synchronize() // still works
}

// TestRCUGrowsWithGOMAXPROCS starts a domain with one slot, so that readers
// on other Ps count in the overflow slot, and checks that a grace period
// grows the array, keeps the old one in its sums, and still waits for a
// reader that locked on the old array and unlocks on the new.
func TestRCUGrowsWithGOMAXPROCS(t *testing.T) {
	withProcs(t, max(4, runtime.GOMAXPROCS(0)))
	r := newTestRCU(t)
	old := &rcuArray{p: make([]rcuPerP, 1)}
	r.pcpu.Store(old)
	// A goroutine that blocks on a channel is woken on the P of the
	// goroutine that sends: pingers on other Ps move the test around.
	var stop atomic.Bool
	var wg sync.WaitGroup
	ping := make(chan struct{})
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				select {
				case ping <- struct{}{}:
				default:
					runtime.Gosched()
				}
			}
		}()
	}
	overLocks := func() uint64 {
		return atomic.LoadUint64(&old.over.lock[0]) + atomic.LoadUint64(&old.over.lock[1])
	}
	var tok RCUToken
	found := false
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); {
		<-ping
		n := overLocks()
		tok = r.ReadLock()
		if found = overLocks() != n; !found {
			r.ReadUnlock(tok)
		}
	}
	stop.Store(true)
	wg.Wait()
	if !found {
		t.Fatal("no ReadLock ran on a P beyond the array")
	}
	sd := goDone(r.Synchronize)
	notDone(t, sd, 20*time.Millisecond, "Synchronize")
	a := r.pcpu.Load()
	if len(a.p) < 4 || a.prev != old {
		t.Fatalf("array of %d slots, prev %p; want >= 4 slots after the old one", len(a.p), a.prev)
	}
	r.ReadUnlock(tok)
	doneWithin(t, sd, 10*time.Second, "Synchronize")
	for i := range uint32(2) {
		if l, u := a.sums(i, true); l != u {
			t.Errorf("index %d: %d locks, %d unlocks over the chain", i, l, u)
		}
	}
}

// TestRCUCounterWrap starts every counter and the sequence number just short
// of 2^64.
func TestRCUCounterWrap(t *testing.T) {
	r := newTestRCU(t)
	const start = ^uint64(0) - 2
	a := r.pcpu.Load()
	for j := range a.p {
		a.p[j].lock = [2]uint64{start, start}
		a.p[j].unlock = [2]uint64{start, start}
	}
	a.over.lock = [2]uint64{start, start}
	a.over.unlock = [2]uint64{start, start}
	r.seq.Store(^uint64(0) - 3) // even: idle, two grace periods from wrapping
	for round := range 6 {
		var toks []RCUToken
		for range 5 {
			toks = append(toks, r.ReadLock())
		}
		sd := goDone(r.Synchronize)
		notDone(t, sd, 2*time.Millisecond, fmt.Sprintf("Synchronize (round %d)", round))
		for _, tok := range toks {
			r.ReadUnlock(tok)
		}
		doneWithin(t, sd, 10*time.Second, "Synchronize")
	}
	if s := r.seq.Load(); s > 100 {
		t.Errorf("seq %d: did not wrap", s)
	}
	wrapped := false
	for j := range a.p {
		for i := range 2 {
			if atomic.LoadUint64(&a.p[j].lock[i]) < start {
				wrapped = true
			}
		}
	}
	if !wrapped {
		t.Error("no lock counter wrapped")
	}
}

func TestRCUSeqDone(t *testing.T) {
	for _, c := range []struct {
		cur, s uint64
		want   bool
	}{
		{4, 4, true}, {5, 4, true}, {3, 4, false},
		{1, ^uint64(0) - 1, true}, {^uint64(0) - 1, 1, false},
	} {
		if got := seqDone(c.cur, c.s); got != c.want {
			t.Errorf("seqDone(%d, %d) = %v", c.cur, c.s, got)
		}
	}
	// snap: from idle, one grace period; during one, that one and the next.
	r := &RCU{}
	r.seq.Store(6)
	if s := r.snap(); s != 8 {
		t.Errorf("snap at 6 = %d, want 8", s)
	}
	r.seq.Store(7)
	if s := r.snap(); s != 10 {
		t.Errorf("snap at 7 = %d, want 10", s)
	}
}

func TestRCULayout(t *testing.T) {
	if s := unsafe.Sizeof(rcuPerP{}); s != 128 {
		t.Errorf("rcuPerP is %d bytes, want 128", s)
	}
	if o := unsafe.Offsetof(rcuArray{}.over); o != 0 {
		t.Errorf("rcuArray.over at offset %d: its counters may be misaligned on 32-bit platforms", o)
	}
	r := newTestRCU(t)
	a := r.pcpu.Load()
	for j := range a.p {
		if p := uintptr(unsafe.Pointer(&a.p[j].lock[0])); p%8 != 0 {
			t.Errorf("slot %d counters at %#x, not 8-byte aligned", j, p)
		}
	}
	if got := uintptr(unsafe.Pointer(&r.seq)) - uintptr(unsafe.Pointer(&r.tag)); got < 64 {
		t.Errorf("seq is %d bytes from the readers' fields", got)
	}
	if len(a.p) < max(runtime.GOMAXPROCS(0), runtime.NumCPU()) {
		t.Errorf("%d slots for %d Ps", len(a.p), runtime.GOMAXPROCS(0))
	}
}

func TestDefaultRCU(t *testing.T) {
	r := DefaultRCU()
	if r != DefaultRCU() {
		t.Fatal("DefaultRCU returned two domains")
	}
	if !strings.Contains(r.String(), "(default)") {
		t.Errorf("String() = %q", r.String())
	}
	tok := r.ReadLock()
	r.ReadUnlock(tok)
	r.Synchronize()
	r.Barrier()
}

// TestRCUBatchLimit: past rcuBatchLimit pending objects the goroutine takes
// batches without the batching delay, and the call that crosses the bound
// wakes it. The domain here has no goroutine, so nothing consumes what
// call leaves.
func TestRCUBatchLimit(t *testing.T) {
	r := &RCU{}
	r.wake = make(chan struct{}, 1)
	next := time.Now().Add(time.Hour)
	if d := r.delay(next); d < 59*time.Minute {
		t.Errorf("delay %v with nothing pending, want about an hour", d)
	}
	if d := r.delay(time.Now().Add(-time.Second)); d != 0 {
		t.Errorf("delay %v past the deadline", d)
	}
	heads := make([]rcuHead, 3)
	nop := func(*rcuHead) {}
	r.call(&heads[0], rcuBatchLimit-10, nop)
	if len(r.wake) != 0 {
		t.Error("a call below the bound woke the goroutine, which was not sleeping")
	}
	if d := r.delay(next); d == 0 {
		t.Error("no batching delay below the bound")
	}
	r.call(&heads[1], 20, nop) // crosses the bound
	if len(r.wake) != 1 {
		t.Error("the call that crossed the bound did not wake the goroutine")
	}
	<-r.wake
	r.call(&heads[2], 1, nop) // already past it
	if len(r.wake) != 0 {
		t.Error("a call past the bound woke the goroutine again")
	}
	if d := r.delay(next); d != 0 {
		t.Errorf("delay %v past the bound, want none", d)
	}
	if st := r.Stats(); st.PendingObjects != rcuBatchLimit+11 || st.PendingCallbacks != 3 {
		t.Errorf("%+v", st)
	}
	// A sleeping goroutine is woken by any call.
	r.sleeping.Store(true)
	r.call(new(rcuHead), 0, nop)
	if len(r.wake) != 1 || r.sleeping.Load() {
		t.Error("a call did not wake the sleeping goroutine")
	}
	r.closed.Store(true)
	if d := r.delay(next); d != 0 {
		t.Errorf("delay %v while closing", d)
	}
}
