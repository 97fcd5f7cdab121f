// Package asm provides a 128-bit compare-and-swap and a consistent 128-bit load
// on a 16-byte-aligned pair of words.
package asm

import (
	"sync"
	"unsafe"

	"github.com/goslub/slub/cpuid"
)

// Pair is two words updated together. It must be 16-byte aligned.
type Pair struct {
	Lo, Hi uint64
}

const misaligned = "asm: 128-bit operation on an address that is not 16-byte aligned"

func checkAligned(p *Pair) {
	if uintptr(unsafe.Pointer(p))&15 != 0 {
		panic(misaligned)
	}
}

// Lockless reports whether CompareAndSwap is one hardware instruction (and not
// forced off): the condition for using it on an allocator fast path.
func Lockless() bool { return cpuid.HasDCAS() }

// Instruction names what CompareAndSwap uses: "cmpxchg16b", "casp" or "none"
// (the portable lock-based implementation).
func Instruction() string { return cpuid.DCASInstruction() }

// CompareAndSwap atomically does:
//
//	if p.Lo == oldLo && p.Hi == oldHi { p.Lo, p.Hi = newLo, newHi; return true }
//	return false
func CompareAndSwap(p *Pair, oldLo, oldHi, newLo, newHi uint64) bool {
	checkAligned(p)
	return portableCAS(p, oldLo, oldHi, newLo, newHi)
}

// Load atomically reads both words.
func Load(p *Pair) (lo, hi uint64) {
	checkAligned(p)
	return portableLoad(p)
}

var stripes [64]struct {
	sync.Mutex
	_ [56]byte
}

func stripe(p *Pair) *sync.Mutex {
	return &stripes[(uintptr(unsafe.Pointer(p))>>4)%uint64Len].Mutex
}

const uint64Len = 64

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
	return
}
