//go:build (!amd64 && !arm64) || purego

package asm

// haveAsm says whether this build has cas128 and load128 in assembly. It has
// not: the CompareAndSwap and Load always take the portable path, and the
// compiler drops the calls below.
const haveAsm = false

func cas128(p *Pair, oldLo, oldHi, newLo, newHi uint64) (swapped bool) {
	panic("asm: no 128-bit compare-and-swap instruction in this build")
}

func cas128Local(p *Pair, oldLo, oldHi, newLo, newHi uint64) (swapped bool) {
	panic("asm: no 128-bit compare-and-swap instruction in this build")
}

func load128(p *Pair) (lo, hi uint64) {
	panic("asm: no 128-bit compare-and-swap instruction in this build")
}
