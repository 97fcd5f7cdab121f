package asm

import (
	"sync/atomic"
	"unsafe"
)

// PairSlot holds one Pair at a 16-byte-aligned address wherever the slot
// itself lies: a field of a struct, an element of an array, a variable.
// Go aligns no type to 16 bytes, and whether new(T) happens to return a
// 16-byte-aligned address depends on T's size class and, for a T with
// pointers larger than a few hundred bytes (128 on 32-bit platforms), on
// the 8-byte header the Go heap puts before it; a Pair inside a struct
// cannot count on either. A slot is 8-byte aligned on every platform (it
// holds a 64-bit atomic, so the compiler aligns it), so its 24 bytes always
// hold a 16-byte-aligned Pair, at offset 0 or 8.
type PairSlot struct {
	_ [0]atomic.Uint64
	b [3]uint64
}

// Pair returns the slot's pair. Cost: an AND and an ADD on the slot's
// address.
func (s *PairSlot) Pair() *Pair {
	return (*Pair)(unsafe.Add(unsafe.Pointer(s), uintptr(unsafe.Pointer(s))&8))
}
