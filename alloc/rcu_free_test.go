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

// Tests of FreeRCU: readers that hold objects across grace periods while
// writers replace and free them, for every design; the rcu_free sheaf and
// the kfree_rcu batch step by step; debug caches; bad input; Shrink,
// Destroy and Stats with frees pending; FreeRCU from a trace hook.

// rcuObjWords is the size of the harness's objects in words: a generation,
// then words derived from it, so that any write into the object (a reuse,
// a free pointer, poison) shows.
const rcuObjWords = 8

func objWord(p unsafe.Pointer, i int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Add(p, 8*i))
}

func objPayload(gen uint64, i int) uint64 { return gen*0x9e3779b97f4a7c15 + uint64(i) }

// fillObj makes p object gen.
func fillObj(p unsafe.Pointer, gen uint64) {
	for i := 1; i < rcuObjWords; i++ {
		objWord(p, i).Store(objPayload(gen, i))
	}
	objWord(p, 0).Store(gen)
}

// objIntact reports whether p still is object gen.
func objIntact(p unsafe.Pointer, gen uint64) bool {
	if objWord(p, 0).Load() != gen {
		return false
	}
	for i := 1; i < rcuObjWords; i++ {
		if objWord(p, i).Load() != objPayload(gen, i) {
			return false
		}
	}
	return true
}

// runFreeRCUReuse publishes objects of c in slots, has writers replace them
// and retire the old ones, and readers check, across a pause inside their
// section, that the object they loaded stays intact. It returns the reads,
// the replacements and the reads that saw their object change.
func runFreeRCUReuse(t *testing.T, c *Cache, r *RCU, retire func(unsafe.Pointer), d time.Duration) (reads, replaced, violations int64) {
	t.Helper()
	const nslots, readers, writers = 16, 2, 2
	var gen atomic.Uint64
	slots := make([]atomic.Pointer[byte], nslots)
	for i := range slots {
		p := c.Alloc()
		fillObj(p, gen.Add(1))
		slots[i].Store((*byte)(p))
	}
	var first atomic.Value
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 3))
			var n int64
			for !stop.Load() {
				tok := r.ReadLock()
				p := unsafe.Pointer(slots[rnd.IntN(nslots)].Load())
				gn := objWord(p, 0).Load()
				ok := objIntact(p, gn)
				switch rnd.IntN(8) {
				case 0:
					runtime.Gosched()
				case 1:
					time.Sleep(20 * time.Microsecond)
				}
				if !ok || !objIntact(p, gn) {
					if atomic.AddInt64(&violations, 1) == 1 {
						first.Store(fmt.Sprintf("object %p (gen %d) changed under a reader: gen now %d", p, gn, objWord(p, 0).Load()))
					}
				}
				r.ReadUnlock(tok)
				n++
			}
			atomic.AddInt64(&reads, n)
		}()
	}
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 4))
			var n int64
			for !stop.Load() {
				p := c.Alloc()
				if p == nil {
					t.Error("Alloc returned nil")
					return
				}
				fillObj(p, gen.Add(1))
				old := slots[rnd.IntN(nslots)].Swap((*byte)(p))
				retire(unsafe.Pointer(old))
				n++
			}
			atomic.AddInt64(&replaced, n)
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	for i := range slots {
		retire(unsafe.Pointer(slots[i].Load()))
	}
	if violations > 0 {
		t.Log(first.Load())
	}
	return reads, replaced, violations
}

func rcuTestDuration() time.Duration {
	if raceEnabled || testing.Short() {
		return 40 * time.Millisecond
	}
	return 80 * time.Millisecond
}

// rcuVariants is eachVariant plus a debug cache (red zones, poison, checks).
func rcuVariants(t *testing.T, f func(t *testing.T, cfg Config)) {
	eachVariant(t, f)
	t.Run("debug", func(t *testing.T) { f(t, Config{Debug: DebugConsistency | DebugRedZone | DebugPoison}) })
}

func TestFreeRCUReadersNeverSeeReuse(t *testing.T) {
	withProcs(t, max(4, runtime.GOMAXPROCS(0)))
	rcuVariants(t, func(t *testing.T, cfg Config) {
		r := newTestRCU(t)
		cfg.RCU = r
		var reports atomic.Int64
		cfg.OnReport = func(rep Report) { reports.Add(1); t.Errorf("report: %s", rep.Summary()) }
		c := mustCache(t, "rcu-reuse", 8*rcuObjWords, cfg)
		gp := r.Stats().GracePeriods
		reads, replaced, bad := runFreeRCUReuse(t, c, r, c.FreeRCU, rcuTestDuration())
		if bad != 0 {
			t.Fatalf("%d of %d reads saw their object change", bad, reads)
		}
		if reads == 0 || replaced < 100 {
			t.Fatalf("%d reads, %d replacements: the test exercised nothing", reads, replaced)
		}
		r.Barrier() // no sheaf or batch in flight: Stats counts exactly
		st := c.Stats()
		queued := st.Counters[FreeRCUSheaf] + st.Counters[FreeRCUBatch]
		if want := uint64(replaced + 16); queued != want {
			t.Errorf("FREE_RCU_SHEAF + FREE_RCU_BATCH = %d, want %d FreeRCU calls", queued, want)
		}
		if st.RCUPending <= 0 || st.RCUPending > int64(replaced+16) || st.ActiveObjects != 0 {
			t.Errorf("RCUPending %d, ActiveObjects %d after freeing everything", st.RCUPending, st.ActiveObjects)
		}
		if st.Counters[RCUFree] == 0 || st.RCU.GracePeriods == gp {
			t.Errorf("no object came back (RCU_FREE %d) or no grace period ran", st.Counters[RCUFree])
		}
		c.Shrink() // hands the partial sheaves and batches over and waits
		st = c.Stats()
		if st.RCUPending != 0 || st.Counters[RCUFree] != queued {
			t.Errorf("after Shrink: RCUPending %d, RCU_FREE %d of %d", st.RCUPending, st.Counters[RCUFree], queued)
		}
		t.Logf("%d reads, %d replaced, %d grace periods, %d hand-overs", reads, replaced, st.RCU.GracePeriods-gp, st.Counters[RCUQueue])
		mustFinish(t, c)
	})
}

// TestFreeRCUHarnessCanFail is the negative control: Free instead of
// FreeRCU must be caught.
func TestFreeRCUHarnessCanFail(t *testing.T) {
	withProcs(t, max(4, runtime.GOMAXPROCS(0)))
	r := newTestRCU(t)
	c := mustCache(t, "rcu-control", 8*rcuObjWords, Config{RCU: r})
	for range 10 {
		if _, _, bad := runFreeRCUReuse(t, c, r, c.Free, 50*time.Millisecond); bad > 0 {
			mustFinish(t, c)
			return
		}
	}
	t.Fatal("frees without a grace period went unnoticed")
}

// eventLog records a cache's events of some kinds.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) hook(kinds ...EventKind) func(Event) {
	return func(e Event) {
		for _, k := range kinds {
			if e.Kind == k {
				l.mu.Lock()
				l.events = append(l.events, e)
				l.mu.Unlock()
			}
		}
	}
}

func (l *eventLog) take() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

// TestFreeRCUSheaf follows the rcu_free sheaf on one P: where it comes
// from, its hand-over when full, and where it goes after the grace period
// (the barn, flushed and kept empty, or flushed and dropped).
func TestFreeRCUSheaf(t *testing.T) {
	withProcs(t, 1)
	for _, d := range sheafDesigns {
		t.Run(d.String(), func(t *testing.T) {
			r := newTestRCU(t)
			var log eventLog
			c := mustCache(t, "rcu-sheaf", 64, Config{Design: d, RCU: r, Trace: log.hook(EventRCUQueue, EventRCUDone)})
			capacity := c.sheafCapacity
			p := &c.pcs.Load().p[0]
			// The P has no spare and the barn nothing: a new sheaf.
			alloc0 := counter(c, SheafAlloc)
			objs := allocN(t, c, 3*capacity)
			c.FreeRCU(objs[0])
			if p.rcuFree == nil || p.rcuFree.size != 1 || counter(c, SheafAlloc) != alloc0+1 {
				t.Fatalf("rcu_free %v after one FreeRCU (SHEAF_ALLOC %d -> %d)", p.rcuFree, alloc0, counter(c, SheafAlloc))
			}
			for _, o := range objs[1:capacity] {
				c.FreeRCU(o)
			}
			if p.rcuFree != nil {
				t.Fatalf("full rcu_free sheaf still on the P (%d objects)", p.rcuFree.size)
			}
			if ev := log.take(); len(ev) != 1 || ev[0].Kind != EventRCUQueue || ev[0].Objects != capacity {
				t.Fatalf("events %+v, want one rcu_queue of %d", ev, capacity)
			}
			// Pending until the grace period ends, which on a slow machine
			// may already have happened.
			if st := c.Stats(); (st.RCUPending != int64(capacity) && st.RCUPending != 0) || st.Counters[FreeRCUSheaf] != uint64(capacity) || st.Counters[RCUQueue] != 1 {
				t.Fatalf("pending %d, FREE_RCU_SHEAF %d, RCU_QUEUE %d", st.RCUPending, st.Counters[FreeRCUSheaf], st.Counters[RCUQueue])
			}
			r.Barrier()
			if ev := log.take(); len(ev) != 1 || ev[0].Kind != EventRCUDone || ev[0].Objects != capacity {
				t.Fatalf("events %+v, want one rcu_done of %d", ev, capacity)
			}
			// Back in the barn, full: its objects are cached, not pending.
			if st := c.Stats(); c.barn.nrFull != 1 || st.RCUPending != 0 || st.Counters[BarnPut] == 0 {
				t.Fatalf("barn holds %d full sheaves, pending %d, BARN_PUT %d", c.barn.nrFull, st.RCUPending, st.Counters[BarnPut])
			}
			// An empty spare becomes the next rcu_free sheaf.
			spare := &Sheaf{sheafObjs: sheafObjs{objs: make([]uintptr, capacity)}, cache: c}
			p.spare = spare
			c.FreeRCU(objs[capacity])
			if p.rcuFree != spare || p.spare != nil {
				t.Fatalf("rcu_free %p, spare %p: the empty spare was not taken", p.rcuFree, p.spare)
			}
			// A barn that holds maxFullSheaves full sheaves takes no more:
			// the sheaf is flushed (BARN_PUT_FAIL) and kept as an empty one.
			fill := allocN(t, c, maxFullSheaves*capacity) // may take the barn's sheaf
			for i := 0; c.barn.nrFull < maxFullSheaves; i += capacity {
				sh := &Sheaf{sheafObjs: sheafObjs{objs: make([]uintptr, capacity)}, cache: c}
				for _, o := range fill[i : i+capacity] {
					sh.objs[sh.size] = uintptr(o)
					sh.size++
				}
				c.barn.putFull(sh)
				fill = append(fill[:i], fill[i+capacity:]...)
				i -= capacity
			}
			failBefore, empty := counter(c, BarnPutFail), c.barn.nrEmpty
			for _, o := range objs[capacity+1 : 2*capacity] {
				c.FreeRCU(o)
			}
			r.Barrier()
			if counter(c, BarnPutFail) != failBefore+1 || c.barn.nrEmpty != empty+1 {
				t.Fatalf("BARN_PUT_FAIL %d -> %d, empty sheaves %d -> %d", failBefore, counter(c, BarnPutFail), empty, c.barn.nrEmpty)
			}
			// With maxEmptySheaves empty ones too, the sheaf is dropped.
			for c.barn.nrEmpty < maxEmptySheaves {
				c.barn.putEmpty(&Sheaf{sheafObjs: sheafObjs{objs: make([]uintptr, capacity)}, cache: c})
			}
			freeBefore := counter(c, SheafFree)
			for _, o := range objs[2*capacity:] {
				c.FreeRCU(o)
			}
			r.Barrier()
			if counter(c, SheafFree) != freeBefore+1 || c.barn.nrEmpty != maxEmptySheaves {
				t.Fatalf("SHEAF_FREE %d -> %d, empty sheaves %d", freeBefore, counter(c, SheafFree), c.barn.nrEmpty)
			}
			// The P's sheaves held by a remote locker: FREE_RCU_SHEAF_FAIL,
			// and the object goes to a kfree_rcu batch instead.
			o := c.Alloc()
			pcs := c.pcs.Load()
			c.flushMu.Lock()
			lockRemote(pcs.locks)
			c.FreeRCU(o)
			unlockRemote(pcs.locks)
			c.flushMu.Unlock()
			if st := c.Stats(); st.Counters[FreeRCUSheafFail] != 1 || st.Counters[FreeRCUBatch] != 1 || st.RCUPending != 1 {
				t.Fatalf("FREE_RCU_SHEAF_FAIL %d, FREE_RCU_BATCH %d, pending %d; want 1 each",
					st.Counters[FreeRCUSheafFail], st.Counters[FreeRCUBatch], st.RCUPending)
			}
			mustValidate(t, c)
			freeAll(c, fill)
			c.Shrink()
			if st := c.Stats(); st.ActiveObjects != 0 || st.RCUPending != 0 {
				t.Errorf("ActiveObjects %d, RCUPending %d", st.ActiveObjects, st.RCUPending)
			}
			mustFinish(t, c)
		})
	}
}

// TestFreeRCUBatch follows a P's kfree_rcu batch in the cpu slab designs:
// handed over when full, freed through the normal path after the grace
// period; a partial batch waits for Shrink.
func TestFreeRCUBatch(t *testing.T) {
	withProcs(t, 1)
	for _, d := range cpuSlabDesigns {
		t.Run(d.String(), func(t *testing.T) {
			r := newTestRCU(t)
			var log eventLog
			c := mustCache(t, "rcu-batch", 32, Config{Design: d, RCU: r, Trace: log.hook(EventRCUQueue, EventRCUDone)})
			objs := allocN(t, c, rcuBatchCap+10)
			frees := counter(c, FreeFastpath) + counter(c, FreeSlowpath)
			for _, o := range objs {
				c.FreeRCU(o)
			}
			if ev := log.take(); len(ev) != 1 || ev[0].Kind != EventRCUQueue || ev[0].Objects != rcuBatchCap {
				t.Fatalf("events %+v, want one rcu_queue of %d", ev, rcuBatchCap)
			}
			st := c.Stats()
			if st.RCUPending != int64(len(objs)) || st.ActiveObjects != 0 || st.Counters[FreeRCUBatch] != uint64(len(objs)) {
				t.Fatalf("pending %d, active %d, FREE_RCU_BATCH %d", st.RCUPending, st.ActiveObjects, st.Counters[FreeRCUBatch])
			}
			r.Barrier()
			if ev := log.take(); len(ev) != 1 || ev[0].Kind != EventRCUDone {
				t.Fatalf("events %+v, want one rcu_done", ev)
			}
			st = c.Stats()
			if got := st.Counters[FreeFastpath] + st.Counters[FreeSlowpath] - frees; st.RCUPending != 10 || got != rcuBatchCap {
				t.Fatalf("pending %d, %d objects freed through the free paths; want 10, %d", st.RCUPending, got, rcuBatchCap)
			}
			c.Shrink()
			if st := c.Stats(); st.RCUPending != 0 || st.Slabs != 0 {
				t.Fatalf("after Shrink: pending %d, %d slabs", st.RCUPending, st.Slabs)
			}
			mustFinish(t, c)
		})
	}
}

// TestFreeRCULongReader: a reader that stays inside holds back every
// object freed after it entered, past many sheaves and batches, and Destroy
// waits for it; once it leaves, everything is freed.
func TestFreeRCULongReader(t *testing.T) {
	for _, cfg := range []Config{{Design: Sheaves}, {Design: CPUSlab}, {Debug: DebugPoison}} {
		t.Run(cfg.Design.String()+"/"+cfg.Debug.String(), func(t *testing.T) {
			r := newTestRCU(t)
			cfg.RCU = r
			c := mustCache(t, "rcu-long", 64, cfg)
			tok := r.ReadLock()
			n := 3*rcuBatchCap + 7
			for _, o := range allocN(t, c, n) {
				c.FreeRCU(o)
			}
			time.Sleep(10 * time.Millisecond)
			st := c.Stats()
			if st.RCUPending != int64(n) || st.Counters[RCUFree] != 0 {
				t.Fatalf("with the reader inside: pending %d, RCU_FREE %d; want %d, 0", st.RCUPending, st.Counters[RCUFree], n)
			}
			var left atomic.Bool
			done := goDone(func() {
				if err := c.Destroy(); err != nil {
					t.Error(err)
				}
				if !left.Load() {
					t.Error("Destroy returned while the reader was inside")
				}
			})
			notDone(t, done, 30*time.Millisecond, "Destroy")
			left.Store(true)
			r.ReadUnlock(tok)
			doneWithin(t, done, 10*time.Second, "Destroy")
		})
	}
}

// TestFreeRCUBadInput: bad pointers and double frees are caught before
// anything changes, in every design; a debug cache reports and ignores.
func TestFreeRCUBadInput(t *testing.T) {
	rcuVariants(t, func(t *testing.T, cfg Config) {
		r := newTestRCU(t)
		cfg.RCU = r
		var reports []Report
		cfg.OnReport = func(rep Report) { reports = append(reports, rep) }
		c := mustCache(t, "rcu-bad", 64, cfg)
		other := mustCache(t, "rcu-other", 64, Config{})
		c.FreeRCU(nil)
		p := c.Alloc()
		q := other.Alloc()
		wantContains(t, mustPanic(t, func() { c.FreeRCU(q) }), "rcu-bad", "FreeRCU", hexAddr(q), "belongs to cache rcu-other")
		wantContains(t, mustPanic(t, func() { c.FreeRCU(unsafe.Add(p, 8)) }), "rcu-bad", hexAddr(unsafe.Add(p, 8)), "not the start of an object")
		x := new([64]byte)
		wantContains(t, mustPanic(t, func() { c.FreeRCU(unsafe.Pointer(x)) }), "not allocated by this allocator")
		c.FreeRCU(p)
		if c.isDebug() {
			c.FreeRCU(p)
			c.Free(p)
			if len(reports) != 2 || reports[0].Kind != ReportDoubleFree || !strings.Contains(reports[0].Message, "waits for its grace period") {
				t.Fatalf("reports %v, want two double frees of an object waiting for its grace period", reports)
			}
		} else {
			wantContains(t, mustPanic(t, func() { c.FreeRCU(p) }), "rcu-bad", "FreeRCU", hexAddr(p), "double free")
		}
		if st := c.Stats(); st.RCUPending != 1 || st.ActiveObjects != 0 {
			t.Errorf("pending %d, active %d after the rejected calls", st.RCUPending, st.ActiveObjects)
		}
		mustFinish(t, c)
		other.Free(q)
		mustFinish(t, other)
		wantContains(t, mustPanic(t, func() { c.FreeRCU(p) }), "used after Destroy")
	})
}

// TestFreeRCUClosedDomain: FreeRCU on a closed domain panics, and what the
// Ps held when it closed is freed by Destroy after a grace period.
func TestFreeRCUClosedDomain(t *testing.T) {
	for _, d := range []Design{Sheaves, CPUSlab} {
		r := NewRCU()
		c := mustCache(t, "rcu-closed", 64, Config{Design: d, RCU: r})
		objs := allocN(t, c, 5)
		for _, o := range objs[:4] {
			c.FreeRCU(o)
		}
		r.Close()
		wantContains(t, mustPanic(t, func() { c.FreeRCU(objs[4]) }), "rcu-closed", hexAddr(objs[4]), "is closed")
		c.Free(objs[4])
		if st := c.Stats(); st.RCUPending != 4 {
			t.Errorf("%v: pending %d, want 4", d, st.RCUPending)
		}
		mustFinish(t, c)
	}
}

// TestFreeRCUStoppedDomain: Destroy fails, freeing nothing, when the domain
// has stopped with objects pending, and names them as pending, not leaked.
func TestFreeRCUStoppedDomain(t *testing.T) {
	r := NewRCU()
	defer r.Close()
	c := mustCache(t, "rcu-stopped", 64, Config{RCU: r})
	p := c.Alloc()
	c.FreeRCU(p)
	tok := r.ReadLock()
	r.ReadUnlock(tok)
	r.ReadUnlock(tok) // misuse: the next grace period stops the domain
	mustPanic(t, r.Synchronize)
	err := c.Destroy()
	if err == nil {
		t.Fatal("Destroy succeeded with a stopped domain")
	}
	wantContains(t, err.Error(), "rcu-stopped", "1 objects freed with FreeRCU wait for a grace period", "more ReadUnlock than ReadLock")
	if strings.Contains(err.Error(), "still allocated") {
		t.Errorf("%v: pending objects counted as leaked", err)
	}
	c.Shrink() // does not wait for a domain that stopped
}

// TestFreeRCUSync waits for the reader inside and then frees at once.
func TestFreeRCUSync(t *testing.T) {
	for _, cfg := range []Config{{Design: Sheaves}, {Design: CPUSlabLocked}, {Debug: DebugPoison}} {
		r := newTestRCU(t)
		cfg.RCU = r
		c := mustCache(t, "rcu-sync", 64, cfg)
		p := c.Alloc()
		tok := r.ReadLock()
		done := goDone(func() { c.FreeRCUSync(p) })
		notDone(t, done, 20*time.Millisecond, "FreeRCUSync")
		if n := activeObjects(c); n != 1 {
			t.Errorf("ActiveObjects %d while FreeRCUSync waits", n)
		}
		r.ReadUnlock(tok)
		doneWithin(t, done, 10*time.Second, "FreeRCUSync")
		if st := c.Stats(); st.ActiveObjects != 0 || st.RCUPending != 0 {
			t.Errorf("after FreeRCUSync: active %d, pending %d", st.ActiveObjects, st.RCUPending)
		}
		mustFinish(t, c)
	}
}

// TestFreeRCUDebugWriteDuringGracePeriod: a debug cache reports a write
// into an object during its grace period, with the bytes, when the grace
// period ends; an object left alone comes back without a report.
func TestFreeRCUDebugWriteDuringGracePeriod(t *testing.T) {
	r := newTestRCU(t)
	var reports []Report
	c := mustCache(t, "rcu-debug", 64, Config{Debug: DebugAll, RCU: r, OnReport: func(rep Report) { reports = append(reports, rep) }})
	p, q := c.Alloc(), c.Alloc()
	fillPattern(p, 64, 1)
	fillPattern(q, 64, 2)
	tok := r.ReadLock()
	c.FreeRCU(p)
	c.FreeRCU(q)
	if err := checkPattern(p, 64, 1); err != nil {
		t.Fatalf("FreeRCU changed the object readers may still read: %v", err)
	}
	mustValidate(t, c) // objects waiting for their grace period are checked as allocated
	*(*byte)(unsafe.Add(p, 10)) = 'x'
	r.ReadUnlock(tok)
	c.Shrink()
	if len(reports) != 1 {
		t.Fatalf("%d reports, want 1: %v", len(reports), reports)
	}
	rep := reports[0]
	if rep.Kind != ReportRCUWrite || rep.Object != uintptr(p) || rep.Offset != 10 || string(rep.Found) != "x" || rep.Free == nil {
		t.Errorf("report %+v, want the write at offset 10 of %#x with the free track", rep, uintptr(p))
	}
	// Both are free now: poisoned, on their slab's freelist.
	if st := c.Stats(); st.ActiveObjects != 0 || st.RCUPending != 0 {
		t.Errorf("active %d, pending %d", st.ActiveObjects, st.RCUPending)
	}
	// A red zone overwritten before FreeRCU is reported at once.
	o := c.Alloc()
	*(*byte)(unsafe.Add(o, 64)) = 'y'
	c.FreeRCU(o)
	if len(reports) != 2 || reports[1].Kind != ReportRightRedzone || reports[1].Object != uintptr(o) {
		t.Fatalf("reports %v, want a right red zone report for %#x from FreeRCU", reports[1:], uintptr(o))
	}
	mustFinish(t, c)
}

// TestFreeRCUFromTraceHook: a hook that calls AllocNoLock and FreeRCU at
// every trace point, some of them inside the allocator's critical sections,
// never deadlocks, and every object it frees comes back.
func TestFreeRCUFromTraceHook(t *testing.T) {
	withProcs(t, max(2, runtime.GOMAXPROCS(0)))
	rcuVariants(t, func(t *testing.T, cfg Config) {
		stop := watchdog(t, 60*time.Second)
		defer stop()
		r := newTestRCU(t)
		cfg.RCU = r
		var c *Cache
		var depth, calls, queued, locked atomic.Int64
		var active atomic.Bool // off for the final Shrink and Destroy, which a hook that frees would race with
		active.Store(true)
		cfg.Trace = func(e Event) {
			switch e.Kind {
			case EventRCUQueue:
				queued.Add(1)
			case EventNewSlab, EventSlabFree, EventDeactivate: // list_lock busy to no-lock calls
				locked.Add(1)
			}
			if depth.Add(1) == 1 && active.Load() {
				for range 4 {
					if p := c.AllocNoLock(); p != nil {
						c.FreeRCU(p)
						calls.Add(1)
					}
				}
			}
			depth.Add(-1)
		}
		c = mustCache(t, "rcu-hook", 256, cfg)
		var wg sync.WaitGroup
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				objs := make([]unsafe.Pointer, 200)
				for round := range 6 {
					for i := range objs {
						objs[i] = c.Alloc()
					}
					for i, o := range objs {
						if (i+round+g)%3 == 0 {
							c.FreeRCU(o)
						} else {
							c.Free(o)
						}
					}
					if round == 3 {
						c.Shrink()
					}
				}
			}()
		}
		wg.Wait()
		active.Store(false)
		r.Barrier() // hooks that began before, on the domain's goroutine, are done
		c.Shrink()
		if calls.Load() == 0 || queued.Load() == 0 || locked.Load() == 0 {
			t.Fatalf("%d FreeRCU calls from the hook, %d rcu_queue events, %d events under list_lock", calls.Load(), queued.Load(), locked.Load())
		}
		if st := c.Stats(); st.RCUPending != 0 || st.ActiveObjects != 0 {
			t.Errorf("pending %d, active %d at the end", st.RCUPending, st.ActiveObjects)
		}
		mustFinish(t, c)
	})
}

// TestHeapFreeRCU: objects of the size classes and large allocations; a
// large one's pages go back only after the grace period.
func TestHeapFreeRCU(t *testing.T) {
	r := newTestRCU(t)
	h, err := NewHeap(Config{RCU: r})
	if err != nil {
		t.Fatal(err)
	}
	small := h.Malloc(100)
	large := h.Malloc(3 * KmallocMaxCacheSize)
	h.FreeRCU(nil)
	h.FreeRCU(h.Malloc(0))
	tok := r.ReadLock()
	h.FreeRCU(small)
	h.FreeRCU(large)
	wantContains(t, mustPanic(t, func() { h.FreeRCU(large) }), hexAddr(large), "double free of a large allocation")
	wantContains(t, mustPanic(t, func() { h.Free(large) }), hexAddr(large), "double free of a large allocation")
	if lookupSlab(uintptr(large)) == nil || h.rcuLarge.Load() != 1 {
		t.Fatal("the large allocation's pages went back while a reader was inside")
	}
	r.ReadUnlock(tok)
	r.Barrier()
	if lookupSlab(uintptr(large)) != nil || h.rcuLarge.Load() != 0 {
		t.Fatal("the large allocation's pages did not go back after the grace period")
	}
	if _, err := NewHeap(Config{TypesafeByRCU: true}); err == nil || !strings.Contains(err.Error(), "TypesafeByRCU") {
		t.Errorf("NewHeap with TypesafeByRCU: %v", err)
	}
	mustDestroyHeap(t, h)
}
