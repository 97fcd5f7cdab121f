//go:build !purego

package asm

// haveAsm says whether this build has cas128 and load128 in assembly.
const haveAsm = true

// cas128 is CompareAndSwap as one CASPAL (compare and swap pair, with acquire
// and release semantics). p must be 16-byte aligned and the CPU must have the
// LSE atomics (ARMv8.1): on an ARMv8.0 core CASPAL is an undefined
// instruction and the process dies of SIGILL.
//
//go:noescape
func cas128(p *Pair, oldLo, oldHi, newLo, newHi uint64) (swapped bool)

// cas128Local is CompareAndSwapLocal as one relaxed CASP: no acquire, no
// release. Same requirements as cas128.
//
//go:noescape
func cas128Local(p *Pair, oldLo, oldHi, newLo, newHi uint64) (swapped bool)

// load128 is Load as one CASPAL that compares with and writes back (0, 0):
// whether or not the pair holds (0, 0), the instruction leaves it as it was
// and returns what it held. Same requirements as cas128.
//
//go:noescape
func load128(p *Pair) (lo, hi uint64)
