package bench

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"unsafe"
)

// Per-worker state on its own cache lines. When two workers write to one
// cache line, the line moves between their cores on every write (false
// sharing), and the workload measures that instead of the allocator: with
// Larson's random sources side by side, 70-80% of its runs took 1.8 times as
// long, on every design. So each piece of state that one worker writes and
// the others do not (a random source, a per-P stack, a counter) is padded to
// whole lines and allocated on a line boundary with lineSlice; state shared
// by design (the xmalloc queue, the objects of CacheScratch) is left as it is.

// cacheLine is the unit of padding: 128 bytes, two 64-byte lines, because x86
// cores fetch lines in adjacent pairs (the spatial prefetcher) and some
// arm64 cores have 128-byte lines.
const cacheLine = 128

// lineSlice returns n zeroed Ts that start on a cache line and have the lines
// they touch to themselves: nothing else is allocated in the slack before the
// first or after the last, and the capacity stops at a line boundary so that
// append cannot spill onto a neighbour.
func lineSlice[T any](n int) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if size == 0 {
		panic(fmt.Sprintf("bench: lineSlice of %T, a type of no size", zero))
	}
	if n == 0 {
		return nil
	}
	// per Ts fill a whole number of lines, and one of the first per Ts of a
	// block starts on a line when the block is aligned as the Go heap
	// aligns blocks: to a multiple of its size class from a page. A block
	// with pointers of more than 512 bytes starts 8 bytes further on, after
	// its malloc header, where there may be no such T; a block of 64 KiB or
	// more is a large object, which starts on a page and has no header.
	per := cacheLine / gcd(size, cacheLine)
	whole := (n + per - 1) / per * per
	for _, least := range []int{0, 64 << 10} {
		s := make([]T, max(whole+per, least/size+1))
		for skip := range per {
			if uintptr(unsafe.Pointer(&s[skip]))%cacheLine == 0 {
				return s[skip : skip+n : skip+whole]
			}
		}
	}
	panic(fmt.Sprintf("bench: lineSlice of %T: the Go heap gave no block aligned to %d bytes", zero, cacheLine))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// workerRand is one worker's random source. Every draw writes the PCG state,
// so each worker's lives on lines of its own.
type workerRand struct {
	pcg  rand.PCG
	rand rand.Rand
	_    [cacheLine - (unsafe.Sizeof(rand.PCG{})+unsafe.Sizeof(rand.Rand{}))%cacheLine]byte
}

// newWorkerRands returns n random sources, worker i's seeded with (seed, i+1).
func newWorkerRands(n int, seed uint64) []workerRand {
	ws := lineSlice[workerRand](n)
	for i := range ws {
		w := &ws[i]
		w.pcg.Seed(seed, uint64(i+1))
		w.rand = *rand.New(&w.pcg)
	}
	return ws
}

// lineCounter is an atomic counter on lines of its own, for counters that
// several workers write.
type lineCounter struct {
	atomic.Int64
	_ [cacheLine - unsafe.Sizeof(atomic.Int64{})%cacheLine]byte
}
