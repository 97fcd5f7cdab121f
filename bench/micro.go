package bench

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"unsafe"
)

// The kernel's own microbenchmarks: Pair, KmallocPair, PairParallel, Batch,
// Bulk, NoLock, NoLockHook. Each measures steady state: the allocator is created and warmed
// outside the timed loop, and memory is sampled once the loop is done.

func runPair(b *testing.B, d *Design, size int) {
	pair(b, d, Spec{Name: "pair", Size: size}, size)
}

// runKmallocPair is Pair on the instance a workload of varying sizes gets
// (for package alloc a Heap), asked for one size only.
func runKmallocPair(b *testing.B, d *Design, size int) {
	pair(b, d, Spec{Name: "kmalloc", MaxSize: size}, size)
}

func pair(b *testing.B, d *Design, spec Spec, size int) {
	a := newAllocator(b, d, spec)
	defer closeOrFail(b, a)
	probe := newProbe(a)
	b.ReportAllocs()
	for b.Loop() {
		p := a.Alloc(size)
		if p == nil {
			b.Fatal("Alloc returned nil")
		}
		a.Free(p, size)
	}
	p := a.Alloc(size)
	probe.sample(int64(size))
	a.Free(p, size)
	probe.report(b, a)
}

func runPairParallel(b *testing.B, d *Design, size int) {
	a := newAllocator(b, d, Spec{Name: "pair", Size: size, Concurrent: true})
	defer closeOrFail(b, a)
	probe := newProbe(a)
	b.ReportAllocs()
	var failed atomic.Bool
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := a.Alloc(size)
			if p == nil {
				failed.Store(true)
				return
			}
			a.Free(p, size)
		}
	})
	if failed.Load() {
		b.Fatal("Alloc returned nil")
	}
	p := a.Alloc(size)
	probe.sample(int64(size))
	a.Free(p, size)
	probe.report(b, a)
}

// allocAll fills objs or fails the benchmark.
func allocAll(b *testing.B, a Allocator, size int, objs []unsafe.Pointer) {
	for i := range objs {
		if objs[i] = a.Alloc(size); objs[i] == nil {
			b.Fatal("Alloc returned nil")
		}
	}
}

func runBatch(b *testing.B, d *Design, size, n int, shuffled bool, capacity, maxCached int) {
	a := newAllocator(b, d, Spec{Name: "batch", Size: size, SheafCapacity: capacity, MaxCachedObjects: maxCached})
	defer closeOrFail(b, a)
	probe := newProbe(a)
	objs := make([]unsafe.Pointer, n)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if shuffled {
		r := rand.New(rand.NewPCG(1, uint64(n)))
		r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	b.ReportAllocs()
	for b.Loop() {
		allocAll(b, a, size, objs)
		for _, i := range order {
			a.Free(objs[i], size)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/obj")
	// What cap= got: alloc.Config.SheafCapacity is a least capacity.
	if s, ok := a.(sheafed); ok {
		if k := s.SheafCapacity(); k > 0 {
			b.ReportMetric(float64(k), "sheaf-capacity")
		}
	}
	allocAll(b, a, size, objs)
	probe.sample(int64(n * size))
	for _, i := range order {
		a.Free(objs[i], size)
	}
	probe.report(b, a)
}

func runBulk(b *testing.B, d *Design, size, n int) {
	a := newAllocator(b, d, Spec{Name: "bulk", Size: size})
	defer closeOrFail(b, a)
	ba := a.(BulkAllocator)
	probe := newProbe(a)
	objs := make([]unsafe.Pointer, n)
	b.ReportAllocs()
	for b.Loop() {
		if ba.AllocBulk(size, objs) == 0 {
			b.Fatal("AllocBulk returned 0")
		}
		ba.FreeBulk(size, objs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/obj")
	if ba.AllocBulk(size, objs) == 0 {
		b.Fatal("AllocBulk returned 0")
	}
	probe.sample(int64(n * size))
	ba.FreeBulk(size, objs)
	probe.report(b, a)
}

func runNoLock(b *testing.B, d *Design, size int) {
	a := newAllocator(b, d, Spec{Name: "nolock", Size: size})
	defer closeOrFail(b, a)
	na := a.(NoLockAllocator)
	probe := newProbe(a)
	nils := 0
	b.ReportAllocs()
	for b.Loop() {
		p := na.AllocNoLock(size)
		if p == nil {
			nils++
			continue
		}
		na.FreeNoLock(p, size)
	}
	b.ReportMetric(float64(nils)/float64(b.N), "nil/op")
	p := a.Alloc(size)
	probe.sample(int64(size))
	a.Free(p, size)
	probe.report(b, a)
}

// hookCounter is the trace hook of NoLockHook: at each event it allocates one
// object with AllocNoLock and frees it with FreeNoLock, on the cache that is
// tracing, and counts the calls and the nil returns. A hook call made from
// inside the hook (its own no-lock calls may reach trace points) does
// nothing.
type hookCounter struct {
	a     atomic.Pointer[hookTarget]
	size  int
	busy  atomic.Bool
	calls atomic.Int64
	nils  atomic.Int64
}

type hookTarget struct{ NoLockAllocator }

func (h *hookCounter) event() {
	t := h.a.Load()
	if t == nil || !h.busy.CompareAndSwap(false, true) {
		return
	}
	h.calls.Add(1)
	if p := t.AllocNoLock(h.size); p == nil {
		h.nils.Add(1)
	} else {
		t.FreeNoLock(p, h.size)
	}
	h.busy.Store(false)
}

func runNoLockHook(b *testing.B, d *Design, size, batch int) {
	h := &hookCounter{size: size}
	a := newAllocator(b, d, Spec{Name: "nolockhook", Size: size, OnEvent: h.event})
	defer closeOrFail(b, a)
	h.a.Store(&hookTarget{a.(NoLockAllocator)})
	probe := newProbe(a)
	objs := make([]unsafe.Pointer, batch)
	b.ReportAllocs()
	for b.Loop() {
		allocAll(b, a, size, objs)
		for _, p := range objs {
			a.Free(p, size)
		}
	}
	calls, nils := h.calls.Load(), h.nils.Load()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/obj")
	b.ReportMetric(float64(calls)/float64(b.N), "hook-calls/op")
	nilFrac := 0.0
	if calls > 0 {
		nilFrac = float64(nils) / float64(calls)
	}
	b.ReportMetric(nilFrac, "nil/hook-call")
	allocAll(b, a, size, objs)
	probe.sample(int64(batch * size))
	for _, p := range objs {
		a.Free(p, size)
	}
	h.a.Store(nil)
	probe.report(b, a)
}
