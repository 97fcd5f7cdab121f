// Package asm provides a 128-bit compare-and-swap and a consistent 128-bit
// load on a 16-byte-aligned pair of words: the primitive that lets the
// allocator update a slab's (freelist, counters) pair, or a per-P
// (freelist, tid) pair, without a lock.
//
// Where the CPU has a double-word CAS (amd64: LOCK CMPXCHG16B; arm64: CASPAL
// from the LSE atomics) and cpuid.HasDCAS allows it, each operation is one
// instruction. Elsewhere — other architectures, the purego build tag, arm64
// cores without LSE (ARMv8.0), or GOSLUB_NODCAS=1 — a portable version
// serializes the operations on each pair with one of a fixed set of striped
// mutexes. The two must never operate on the same pair at the same time:
// which one runs is decided per call from cpuid.HasDCAS, so flip
// cpuid.ForceNoDCAS only while no pair is in use.
package asm

import (
	"unsafe"

	"github.com/goslub/slub/cpuid"
)

// Pair is two words updated together. Its address must be 16-byte aligned:
// Go aligns a Pair to 8 bytes only (4 on 32-bit platforms), so take pairs
// from MakePairs, from memory aligned by construction (slab metadata), or
// check them with Aligned. Every operation panics on a misaligned pair.
type Pair struct {
	Lo, Hi uint64
}

// misaligned is the panic value for a pair that is not 16-byte aligned.
// Tests match it exactly; keep it fixed.
const misaligned = "asm: 128-bit operation on an address that is not 16-byte aligned"

// Aligned reports whether p is 16-byte aligned, as every operation requires.
func Aligned(p *Pair) bool { return uintptr(unsafe.Pointer(p))&15 == 0 }

func checkAligned(p *Pair) {
	if !Aligned(p) {
		panic(misaligned)
	}
}

// MakePairs returns n zeroed, 16-byte-aligned pairs in the Go heap.
func MakePairs(n int) []Pair {
	// One pair more than needed leaves room to move the start up to the next
	// 16-byte boundary, whatever alignment the heap gave (4, 8 or 12 bytes
	// past one).
	buf := make([]Pair, n+1)
	start := unsafe.Pointer(&buf[0])
	start = unsafe.Add(start, -uintptr(start)&15)
	return unsafe.Slice((*Pair)(start), n)
}

// hardware reports whether the next call may use the instruction. Cost: a
// constant (false in builds without assembly), a load of the x/sys/cpu
// feature flag and an atomic load of the force flag.
func hardware() bool { return haveAsm && cpuid.HasDCAS() }

// Lockless reports whether CompareAndSwap and Load are single hardware
// instructions (and not forced off): the condition for using them on an
// allocator fast path.
func Lockless() bool { return hardware() }

// Instruction names what CompareAndSwap uses: "cmpxchg16b", "casp" or "none"
// (the portable lock-based implementation).
func Instruction() string {
	if !hardware() {
		return "none"
	}
	return cpuid.DCASInstruction()
}

// CompareAndSwap atomically does:
//
//	if p.Lo == oldLo && p.Hi == oldHi { p.Lo, p.Hi = newLo, newHi; return true }
//	return false
//
// With the hardware instruction it is a full barrier (amd64) or has acquire
// and release semantics (arm64), like the 64-bit atomics of sync/atomic.
// It panics if p is not 16-byte aligned.
func CompareAndSwap(p *Pair, oldLo, oldHi, newLo, newHi uint64) bool {
	checkAligned(p)
	if hardware() {
		raceRelease(p)
		ok := cas128(p, oldLo, oldHi, newLo, newHi)
		raceAcquire(p)
		return ok
	}
	return portableCAS(p, oldLo, oldHi, newLo, newHi)
}

// CompareAndSwapLocal does what CompareAndSwap does, for a pair that no
// other thread reads or writes while the call runs: a per-P pair whose owner
// is pinned to its P and excludes every other changer (the kernel's
// this_cpu_cmpxchg128 on a kmem_cache_cpu). On amd64 it is CMPXCHG16B
// without the LOCK prefix, on arm64 the relaxed CASP: the instruction's
// cost without the cost of making it atomic against other CPUs. It is no
// barrier. Without the instruction it is a plain compare and store, which
// that exclusion makes correct. It panics if p is not 16-byte aligned.
func CompareAndSwapLocal(p *Pair, oldLo, oldHi, newLo, newHi uint64) bool {
	checkAligned(p)
	if hardware() {
		return cas128Local(p, oldLo, oldHi, newLo, newHi)
	}
	return plainCAS(p, oldLo, oldHi, newLo, newHi)
}

// CompareAndSwapLocalUnchecked is CompareAndSwapLocal without its checks,
// for a fast path that made them once: p must be 16-byte aligned, and
// Lockless must have reported true before the pair came into use (on an
// arm64 core without LSE the instruction is SIGILL). In builds without the
// assembly it is the plain compare and store.
func CompareAndSwapLocalUnchecked(p *Pair, oldLo, oldHi, newLo, newHi uint64) bool {
	if !haveAsm {
		return plainCAS(p, oldLo, oldHi, newLo, newHi)
	}
	return cas128Local(p, oldLo, oldHi, newLo, newHi)
}

// plainCAS is a compare and store, for pairs nothing else touches meanwhile.
func plainCAS(p *Pair, oldLo, oldHi, newLo, newHi uint64) bool {
	if p.Lo != oldLo || p.Hi != oldHi {
		return false
	}
	p.Lo, p.Hi = newLo, newHi
	return true
}

// Load atomically reads both words: the result is a value the pair held at
// one instant, never half of one value and half of another. With the
// hardware instruction it is a compare-and-swap that writes back the value it
// found, so the memory must be writable and the load takes the cache line
// for writing. It panics if p is not 16-byte aligned.
func Load(p *Pair) (lo, hi uint64) {
	checkAligned(p)
	if hardware() {
		lo, hi = load128(p)
		raceAcquire(p)
		return lo, hi
	}
	return portableLoad(p)
}
