package bench

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/goslub/slub/alloc"
)

// FreeRCU: the kfree_rcu workload, modelled on the mmap/munmap stress that
// measured the kernel's rcu_free sheaves (Suren Baghdasaryan's 20000
// cycles of 50 VMAs; see reference/slub-sheaves.md): objects published in
// a shared table are replaced by every P at once, each replaced object freed
// with FreeRCU, while lookups read the table inside RCU read-side sections.
// One op is one lookup and one replace (Alloc, publish, FreeRCU), on
// b.RunParallel's goroutines. Besides ns/op it reports
//
//	gp-ms          the mean time from the hand-over of an rcu_free sheaf or
//	               kfree_rcu batch to the domain until it came back
//	               (EventRCUQueue to EventRCUDone)
//	pending-objs   objects still waiting for grace periods when the ops end
//
// and the memory units of memProbe, sampled every millisecond from the page
// heap's pages in use (Stats would stop the workers). Only the designs of
// package alloc run it: the baselines have no FreeRCU.

const (
	freeRCUSize  = 192  // about a vm_area_struct
	freeRCUSlots = 4096 // entries of the shared table
)

// gpTimer measures grace-period latency from the trace events. Sheaves and
// batches come back in the order they were handed over, but two
// goroutines may trace their hand-overs in the other order; the mean of
// (done - queued) over all of them does not depend on which pairs with
// which, so sums are enough.
type gpTimer struct {
	start            time.Time
	queued, done     atomic.Int64 // events
	queuedNs, doneNs atomic.Int64 // sums of their times since start
}

func (g *gpTimer) event(e alloc.Event) {
	switch e.Kind {
	case alloc.EventRCUQueue:
		g.queuedNs.Add(int64(time.Since(g.start)))
		g.queued.Add(1)
	case alloc.EventRCUDone:
		g.doneNs.Add(int64(time.Since(g.start)))
		g.done.Add(1)
	}
}

// meanMs returns the mean latency in milliseconds, once every hand-over
// has come back; 0 when there was none.
func (g *gpTimer) meanMs() float64 {
	n := g.done.Load()
	if n == 0 || n != g.queued.Load() {
		return 0
	}
	return float64(g.doneNs.Load()-g.queuedNs.Load()) / float64(n) / 1e6
}

// freeRCUCache is the workload's cache, as an Allocator whose footprint is
// the page heap's pages in use (cheap to read while the workers run).
type freeRCUCache struct{ c *alloc.Cache }

func (f freeRCUCache) Alloc(int) unsafe.Pointer     { return f.c.Alloc() }
func (f freeRCUCache) Free(p unsafe.Pointer, _ int) { f.c.Free(p) }
func (f freeRCUCache) Footprint() int64             { return alloc.ReadPageStats().InUse }
func (f freeRCUCache) Shrink()                      { f.c.Shrink() }

func runFreeRCU(b *testing.B, d *Design, size int) {
	ad, err := alloc.ParseDesign(d.Name)
	if err != nil {
		b.Fatal(err)
	}
	r := alloc.NewRCU()
	defer r.Close()
	gp := &gpTimer{start: time.Now()}
	c, err := alloc.NewCache("bench-freercu", size, alloc.Config{Design: ad, RCU: r, Trace: gp.event})
	if err != nil {
		b.Fatal(err)
	}
	f := freeRCUCache{c}
	probe := newProbe(f)
	table := make([]atomic.Pointer[byte], freeRCUSlots)
	for i := range table {
		p := c.Alloc()
		if p == nil {
			b.Fatal(errAllocNil)
		}
		*(*uint64)(p) = uint64(i)
		table[i].Store((*byte)(p))
	}
	live := int64(freeRCUSlots * size)
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				probe.sample(live)
			}
		}
	}()
	var seed atomic.Uint64
	var failed atomic.Bool
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rnd := rand.New(rand.NewPCG(seed.Add(1), 7))
		var sum uint64
		for pb.Next() {
			tok := r.ReadLock()
			sum += *(*uint64)(unsafe.Pointer(table[rnd.IntN(freeRCUSlots)].Load()))
			r.ReadUnlock(tok)
			p := c.Alloc()
			if p == nil {
				failed.Store(true)
				return
			}
			i := rnd.IntN(freeRCUSlots)
			*(*uint64)(p) = uint64(i) + sum&1
			old := table[i].Swap((*byte)(p))
			c.FreeRCU(unsafe.Pointer(old))
		}
	})
	b.StopTimer()
	close(stop)
	sampler.Wait()
	if failed.Load() {
		b.Fatal(errAllocNil)
	}
	b.ReportMetric(float64(c.Stats().RCUPending), "pending-objs")
	for i := range table {
		c.FreeRCU(unsafe.Pointer(table[i].Load()))
	}
	probe.report(b, f) // Shrink waits for every grace period
	b.ReportMetric(gp.meanMs(), "gp-ms")
	if err := c.Destroy(); err != nil {
		b.Error(err)
	}
}
