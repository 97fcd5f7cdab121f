package alloc

import (
	"sync"
	"sync/atomic"
	"testing"
)

// The read side of a grace-period domain against what a Go program would
// use instead to keep a writer from freeing what a reader holds: an
// uncontended sync.RWMutex read lock, and an atomic reader count
// incremented and decremented around each read.

// readSide is one read-side primitive the benchmarks compare, as the
// sub-benchmark /sync=name.
type readSide struct {
	name  string
	pair  func() // one empty read-side section
	close func()
}

func rcuReadSides() []readSide {
	r := NewRCU()
	var mu sync.RWMutex
	var readers atomic.Int64
	return []readSide{
		{"rcu", func() { r.ReadUnlock(r.ReadLock()) }, r.Close},
		{"rwmutex", func() { mu.RLock(); mu.RUnlock() }, func() {}},
		{"atomic", func() { readers.Add(1); readers.Add(-1) }, func() {}},
	}
}

// BenchmarkRCURead is one ReadLock/ReadUnlock pair on one goroutine. The
// rcu case is written out, not called through pair, so that it pays no
// indirect call.
func BenchmarkRCURead(b *testing.B) {
	b.Run("sync=rcu", func(b *testing.B) {
		r := NewRCU()
		defer r.Close()
		for b.Loop() {
			r.ReadUnlock(r.ReadLock())
		}
	})
	b.Run("sync=rwmutex", func(b *testing.B) {
		var mu sync.RWMutex
		for b.Loop() {
			mu.RLock()
			mu.RUnlock()
		}
	})
	b.Run("sync=atomic", func(b *testing.B) {
		var readers atomic.Int64
		for b.Loop() {
			readers.Add(1)
			readers.Add(-1)
		}
	})
}

// BenchmarkRCUReadParallel is the pair on every P at once: the per-P
// counters against one shared cache line.
func BenchmarkRCUReadParallel(b *testing.B) {
	for _, s := range rcuReadSides() {
		b.Run("sync="+s.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s.pair()
				}
			})
		})
		s.close()
	}
}

// BenchmarkRCUSynchronize is the latency of a grace period with no reader
// inside: two scans, each a membarrier(2) call where the system has it.
func BenchmarkRCUSynchronize(b *testing.B) {
	r := NewRCU()
	defer r.Close()
	for b.Loop() {
		r.Synchronize()
	}
}

// BenchmarkRCUSynchronizeParallel is Synchronize from every P at once,
// with readers on none: callers share grace periods.
func BenchmarkRCUSynchronizeParallel(b *testing.B) {
	r := NewRCU()
	defer r.Close()
	before := r.Stats().GracePeriods
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Synchronize()
		}
	})
	b.ReportMetric(float64(r.Stats().GracePeriods-before)/float64(b.N), "gp/op")
}
