//go:build !purego

package asm

// haveAsm says whether this build has cas128 and load128 in assembly.
const haveAsm = true

// cas128 is CompareAndSwap as one LOCK CMPXCHG16B. p must be 16-byte aligned
// and the CPU must have CX16.
//
//go:noescape
func cas128(p *Pair, oldLo, oldHi, newLo, newHi uint64) (swapped bool)

// cas128Local is CompareAndSwapLocal as one CMPXCHG16B without the LOCK
// prefix (this_cpu_cmpxchg128): atomic against this CPU's interrupts, not
// against other CPUs, and not a barrier.
//
//go:noescape
func cas128Local(p *Pair, oldLo, oldHi, newLo, newHi uint64) (swapped bool)

// load128 is Load as one LOCK CMPXCHG16B that compares with and writes back
// (0, 0): whether or not the pair holds (0, 0), the instruction leaves it as
// it was and returns what it held. p must be 16-byte aligned and the CPU
// must have CX16.
//
//go:noescape
func load128(p *Pair) (lo, hi uint64)
