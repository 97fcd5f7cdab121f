package asm

import (
	"sync"
	"unsafe"
)

// The portable implementation: a pair is guarded by one of stripeCount
// mutexes, chosen by hashing its address. Different pairs may share a mutex;
// that only costs contention, never correctness.

const (
	stripeBits  = 6
	stripeCount = 1 << stripeBits
)

// stripes are padded to 128 bytes, two cache lines on most CPUs, so that
// adjacent-line prefetch does not make neighbours contend.
var stripes [stripeCount]struct {
	sync.Mutex
	_ [128 - unsafe.Sizeof(sync.Mutex{})]byte
}

func stripe(p *Pair) *sync.Mutex {
	// Fibonacci hashing of the 16-byte slot number: pairs at regular strides
	// (one per slab, say) still spread over all stripes.
	slot := uint64(uintptr(unsafe.Pointer(p)) >> 4)
	return &stripes[(slot*0x9e3779b97f4a7c15)>>(64-stripeBits)].Mutex
}

func portableCAS(p *Pair, oldLo, oldHi, newLo, newHi uint64) bool {
	m := stripe(p)
	m.Lock()
	ok := p.Lo == oldLo && p.Hi == oldHi
	if ok {
		p.Lo, p.Hi = newLo, newHi
	}
	m.Unlock()
	return ok
}

func portableLoad(p *Pair) (lo, hi uint64) {
	m := stripe(p)
	m.Lock()
	lo, hi = p.Lo, p.Hi
	m.Unlock()
	return lo, hi
}
