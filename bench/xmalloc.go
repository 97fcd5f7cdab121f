package bench

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// Xmalloc: Lever & Boreham's xmalloc test. P producers allocate batches of
// objects and push them on one shared stack; P consumers pop batches and free
// the objects, so every free is a remote free.

// batchStack is the shared stack of batches. Producers block while it holds
// limit batches; consumers block while it is empty and not closed.
type batchStack struct {
	mu        sync.Mutex
	nonEmpty  sync.Cond
	nonFull   sync.Cond
	items     [][]unsafe.Pointer
	spare     [][]unsafe.Pointer // emptied batches, reused so the Go heap stays out of the loop
	limit     int
	closed    bool
	batchSize int
}

func newBatchStack(limit, batchSize int) *batchStack {
	s := &batchStack{limit: limit, batchSize: batchSize}
	s.nonEmpty.L = &s.mu
	s.nonFull.L = &s.mu
	return s
}

func (s *batchStack) push(batch []unsafe.Pointer) {
	s.mu.Lock()
	for len(s.items) >= s.limit {
		s.nonFull.Wait()
	}
	s.items = append(s.items, batch)
	s.mu.Unlock()
	s.nonEmpty.Signal()
}

// pop returns the top batch, or false once the stack is closed and empty.
func (s *batchStack) pop() ([]unsafe.Pointer, bool) {
	s.mu.Lock()
	for len(s.items) == 0 && !s.closed {
		s.nonEmpty.Wait()
	}
	if len(s.items) == 0 {
		s.mu.Unlock()
		return nil, false
	}
	batch := s.items[len(s.items)-1]
	s.items = s.items[:len(s.items)-1]
	s.mu.Unlock()
	s.nonFull.Signal()
	return batch, true
}

func (s *batchStack) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.nonEmpty.Broadcast()
}

// getBatch returns an empty batch with room for batchSize objects.
func (s *batchStack) getBatch() []unsafe.Pointer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.spare); n > 0 {
		b := s.spare[n-1]
		s.spare = s.spare[:n-1]
		return b
	}
	return make([]unsafe.Pointer, 0, s.batchSize)
}

func (s *batchStack) putBatch(b []unsafe.Pointer) {
	clear(b)
	s.mu.Lock()
	s.spare = append(s.spare, b[:0])
	s.mu.Unlock()
}

// xmallocStats says what an Xmalloc run did.
type xmallocStats struct {
	produced, freed, batches int64
}

// xmalloc has producers producers allocate total objects of size bytes in
// batches, and as many consumers free them.
func xmalloc(a Allocator, p *Params, producers int, total int64, probe *memProbe) (xmallocStats, error) {
	// Every producer writes remaining, produced and batches once per batch,
	// every consumer freed: each counter is on lines of its own.
	counters := lineSlice[lineCounter](4)
	remaining, produced, freed, batches := &counters[0], &counters[1], &counters[2], &counters[3]
	var (
		failed atomic.Bool
		prodWG sync.WaitGroup
		consWG sync.WaitGroup
	)
	size, batchSize := p.XmallocSize, max(p.XmallocBatch, 1)
	remaining.Store(total)
	stack := newBatchStack(max(p.XmallocQueue, 1), batchSize)

	// claim takes up to batchSize of the objects still to produce.
	claim := func() int {
		left := remaining.Add(-int64(batchSize))
		if left >= 0 {
			return batchSize
		}
		return max(batchSize+int(left), 0)
	}
	for i := range producers {
		prodWG.Add(1)
		go func() {
			defer prodWG.Done()
			for n := 0; !failed.Load(); n++ {
				k := claim()
				if k == 0 {
					return
				}
				batch := stack.getBatch()
				for j := range k {
					q := a.Alloc(size)
					if q == nil {
						failed.Store(true)
						break
					}
					*(*uint64)(q) = uint64(j)
					batch = append(batch, q)
				}
				produced.Add(int64(len(batch)))
				batches.Add(1)
				stack.push(batch)
				// Producer 0 alone samples memory, every eighth of its
				// batches. The sample is timed: for package alloc a
				// Stats call, some 25 µs with 400,000 objects live,
				// about 1% of the run; sampling less often misses the
				// peak of short runs.
				if i == 0 && n%8 == 0 {
					probe.sample((produced.Load() - freed.Load()) * int64(size))
				}
			}
		}()
	}
	for range producers {
		consWG.Add(1)
		go func() {
			defer consWG.Done()
			for {
				batch, ok := stack.pop()
				if !ok {
					return
				}
				for _, q := range batch {
					a.Free(q, size)
				}
				freed.Add(int64(len(batch)))
				stack.putBatch(batch)
			}
		}()
	}
	prodWG.Wait()
	stack.close()
	consWG.Wait()
	st := xmallocStats{produced: produced.Load(), freed: freed.Load(), batches: batches.Load()}
	if failed.Load() {
		return st, errAllocNil
	}
	return st, nil
}

func runXmalloc(b *testing.B, d *Design, p *Params) {
	a := newAllocator(b, d, Spec{Name: "xmalloc", Size: p.XmallocSize, Concurrent: true})
	defer closeOrFail(b, a)
	probe := newProbe(a)
	b.ReportAllocs()
	b.ResetTimer()
	_, err := xmalloc(a, p, runtime.GOMAXPROCS(0), int64(b.N), probe)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frees/s")
	probe.report(b, a)
}
