//go:build !purego

#include "textflag.h"

// CASPAL Xs, Xs+1, Xt, Xt+1, [Xn] compares Xs:Xs+1 with the 16 bytes at Xn
// (Xs with the word at the lower address) and, if equal, stores Xt:Xt+1
// there; either way Xs:Xs+1 receive the value that was in memory. The A
// (acquire) and L (release) forms order it like the other Go atomics; the
// relaxed CASP does not and must not be used here. s and t must be even.
//
// Go's assembler knows only the relaxed CASPD, so CASPAL is spelled as its
// encoding (Arm Architecture Reference Manual, A64 instruction "CASP, CASPA,
// CASPAL, CASPL", 64-bit variant):
//
//	31 30 29..23    22 21 20..16 15 14..10 9..5 4..0
//	 0 sz 0010000   L  1  Rs     o0 11111  Rn   Rt
//
// with sz=1 (64-bit pairs), L=1 (acquire), o0=1 (release): 0x4860fc00. The
// relaxed CASPD (R4, R5), (R0), (R6, R7) is 0x48247c06; setting bits 22 and
// 15 makes it CASPAL X4, X5, X6, X7, [X0]:
//
//	0x4860fc00 | 4<<16 | 0<<5 | 6 = 0x4864fc06
//
// (Check: llvm-mc --disassemble -triple=aarch64 -mattr=+lse reads the bytes
// 0x06 0xfc 0x64 0x48 as "caspal x4, x5, x6, x7, [x0]".)
//
// The registers below are therefore fixed by CASPAL_X4_X6_X0.

#define CASPAL_X4_X6_X0 WORD $0x4864fc06

#define pair R0
#define wantLo R2	// copies of oldLo, oldHi, kept for the comparison
#define wantHi R3
#define cmpLo R4	// Xs: must be R4 for CASPAL_X4_X6_X0
#define cmpHi R5	// Xs+1
#define setLo R6	// Xt: must be R6 for CASPAL_X4_X6_X0
#define setHi R7	// Xt+1
#define diff R8
#define diffHi R9

// func cas128(p *Pair, oldLo, oldHi, newLo, newHi uint64) (swapped bool)
//
// Atomically:
//	if p.Lo == oldLo && p.Hi == oldHi { p.Lo, p.Hi = newLo, newHi; return true }
//	return false
TEXT ·cas128(SB), NOSPLIT, $0-41
	MOVD	p+0(FP), pair
	MOVD	oldLo+8(FP), wantLo
	MOVD	oldHi+16(FP), wantHi
	MOVD	newLo+24(FP), setLo
	MOVD	newHi+32(FP), setHi
	MOVD	wantLo, cmpLo
	MOVD	wantHi, cmpHi
	CASPAL_X4_X6_X0
	// Swapped iff memory held the old value: cmpLo:cmpHi == wantLo:wantHi.
	EOR	wantLo, cmpLo, diff
	EOR	wantHi, cmpHi, diffHi
	ORR	diffHi, diff, diff
	CMP	$0, diff
	CSET	EQ, diff
	MOVB	diff, swapped+40(FP)
	RET

// func cas128Local(p *Pair, oldLo, oldHi, newLo, newHi uint64) (swapped bool)
//
// The relaxed CASP (CASPD to Go's assembler): atomic, but it orders nothing
// around it, which is all a pair that only this thread changes needs.
//	if p.Lo == oldLo && p.Hi == oldHi { p.Lo, p.Hi = newLo, newHi; return true }
//	return false
TEXT ·cas128Local(SB), NOSPLIT, $0-41
	MOVD	p+0(FP), pair
	MOVD	oldLo+8(FP), wantLo
	MOVD	oldHi+16(FP), wantHi
	MOVD	newLo+24(FP), setLo
	MOVD	newHi+32(FP), setHi
	MOVD	wantLo, cmpLo
	MOVD	wantHi, cmpHi
	CASPD	(cmpLo, cmpHi), (pair), (setLo, setHi)
	EOR	wantLo, cmpLo, diff
	EOR	wantHi, cmpHi, diffHi
	ORR	diffHi, diff, diff
	CMP	$0, diff
	CSET	EQ, diff
	MOVB	diff, swapped+40(FP)
	RET

// func load128(p *Pair) (lo, hi uint64)
//
// Atomically:
//	if p.Lo == 0 && p.Hi == 0 { p.Lo, p.Hi = 0, 0 }
//	return p.Lo, p.Hi
TEXT ·load128(SB), NOSPLIT, $0-24
	MOVD	p+0(FP), pair
	MOVD	ZR, cmpLo
	MOVD	ZR, cmpHi
	MOVD	ZR, setLo
	MOVD	ZR, setHi
	CASPAL_X4_X6_X0
	// Swapped or not, cmpLo:cmpHi now hold the value the pair had.
	MOVD	cmpLo, lo+8(FP)
	MOVD	cmpHi, hi+16(FP)
	RET
