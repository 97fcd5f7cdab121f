package bench

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/goslub/slub/alloc"
)

// RCURead: the cost of the read-side section that keeps a writer from
// freeing what a reader of a shared structure still holds. Each op is one
// empty section, entered and left, written as a user of each design would
// write it:
//
//	sheaves            alloc.RCU ReadLock + ReadUnlock: grace periods; the
//	                   writer frees after Synchronize or FreeRCU (the same
//	                   read side for every design of package alloc, so it
//	                   runs on one)
//	modernc            sync.RWMutex RLock + RUnlock: without grace periods
//	                   the writer frees under the write lock
//	syncpool, mcache   an atomic reader count, incremented and decremented:
//	                   the writer waits for it to drain before Put
//	goheap             nothing: the garbage collector keeps what a reader
//	                   holds alive
//
// With threads=1 one goroutine runs the sections; with threads=GOMAXPROCS
// every P does (b.RunParallel), which is where the per-P counters of
// alloc.RCU part from the one shared cache line of the other two.

// readSide is how a reader of a structure whose nodes come from an
// allocator marks its section.
type readSide int

const (
	readRCU     readSide = iota // alloc.RCU
	readRWMutex                 // sync.RWMutex
	readAtomic                  // an atomic reader count
	readNone                    // the garbage collector
)

var readSideNames = [...]string{"alloc.RCU", "sync.RWMutex", "atomic counter", "none"}

func (s readSide) String() string { return readSideNames[s] }

// readSideOf returns the read side that a user of a would choose; false for
// an allocator the workload does not know.
func readSideOf(a Allocator) (readSide, bool) {
	switch a.(type) {
	case allocCache, allocHeap:
		return readRCU, true
	case *moderncAlloc:
		return readRWMutex, true
	case *syncPool, mcacheAlloc:
		return readAtomic, true
	case goHeap:
		return readNone, true
	}
	return 0, false
}

func runRCURead(b *testing.B, d *Design, threads int) {
	a := newAllocator(b, d, Spec{Name: "rcuread", Size: 64, Concurrent: threads > 1})
	defer closeOrFail(b, a)
	side, ok := readSideOf(a)
	if !ok {
		b.Fatalf("%s: no read side for RCURead", d.Name)
	}
	// A domain of the run's own, so that no other grace period touches
	// its counters.
	var r *alloc.RCU
	if side == readRCU {
		r = alloc.NewRCU()
		defer r.Close()
	}
	var mu sync.RWMutex
	var readers atomic.Int64
	b.ReportAllocs()
	// One loop per read side, so that none pays an indirect call.
	if threads == 1 {
		switch side {
		case readRCU:
			for b.Loop() {
				r.ReadUnlock(r.ReadLock())
			}
		case readRWMutex:
			for b.Loop() {
				mu.RLock()
				mu.RUnlock()
			}
		case readAtomic:
			for b.Loop() {
				readers.Add(1)
				readers.Add(-1)
			}
		case readNone:
			for b.Loop() {
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		switch side {
		case readRCU:
			for pb.Next() {
				r.ReadUnlock(r.ReadLock())
			}
		case readRWMutex:
			for pb.Next() {
				mu.RLock()
				mu.RUnlock()
			}
		case readAtomic:
			for pb.Next() {
				readers.Add(1)
				readers.Add(-1)
			}
		case readNone:
			for pb.Next() {
			}
		}
	})
}
