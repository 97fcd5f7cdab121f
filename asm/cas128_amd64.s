//go:build !purego

#include "textflag.h"

// CMPXCHG16B m128 compares DX:AX with the 16 bytes at m128 (AX with the low
// word, at the lower address). Equal: it stores CX:BX there and sets ZF.
// Different: it loads the memory into DX:AX and clears ZF. With LOCK the
// whole read-compare-write is atomic and a full barrier. m128 must be
// 16-byte aligned, or the CPU raises #GP; the Go side checks that first.

#define pair DI
#define cmpLo AX
#define cmpHi DX
#define setLo BX
#define setHi CX

// func cas128(p *Pair, oldLo, oldHi, newLo, newHi uint64) (swapped bool)
//
// Atomically:
//	if p.Lo == oldLo && p.Hi == oldHi { p.Lo, p.Hi = newLo, newHi; return true }
//	return false
TEXT ·cas128(SB), NOSPLIT, $0-41
	MOVQ	p+0(FP), pair
	MOVQ	oldLo+8(FP), cmpLo
	MOVQ	oldHi+16(FP), cmpHi
	MOVQ	newLo+24(FP), setLo
	MOVQ	newHi+32(FP), setHi
	LOCK
	CMPXCHG16B	(pair)
	SETEQ	swapped+40(FP)
	RET

// func cas128Local(p *Pair, oldLo, oldHi, newLo, newHi uint64) (swapped bool)
//
// Without LOCK, atomically only against interrupts of this CPU:
//	if p.Lo == oldLo && p.Hi == oldHi { p.Lo, p.Hi = newLo, newHi; return true }
//	return false
TEXT ·cas128Local(SB), NOSPLIT, $0-41
	MOVQ	p+0(FP), pair
	MOVQ	oldLo+8(FP), cmpLo
	MOVQ	oldHi+16(FP), cmpHi
	MOVQ	newLo+24(FP), setLo
	MOVQ	newHi+32(FP), setHi
	CMPXCHG16B	(pair)
	SETEQ	swapped+40(FP)
	RET

// func load128(p *Pair) (lo, hi uint64)
//
// Atomically:
//	if p.Lo == 0 && p.Hi == 0 { p.Lo, p.Hi = 0, 0 }
//	return p.Lo, p.Hi
TEXT ·load128(SB), NOSPLIT, $0-24
	MOVQ	p+0(FP), pair
	XORL	cmpLo, cmpLo
	XORL	cmpHi, cmpHi
	XORL	setLo, setLo
	XORL	setHi, setHi
	LOCK
	CMPXCHG16B	(pair)
	// Swapped or not, DX:AX now holds the value the pair had.
	MOVQ	cmpLo, lo+8(FP)
	MOVQ	cmpHi, hi+16(FP)
	RET
