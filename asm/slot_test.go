package asm_test

import (
	"testing"
	"unsafe"

	"github.com/goslub/slub/asm"
)

// TestPairSlot: wherever a slot lies (after fields of every size, in arrays,
// on the heap and on the stack), its pair is 16-byte aligned, inside the
// slot, and works with every operation.
func TestPairSlot(t *testing.T) {
	check := func(where string, s *asm.PairSlot) {
		t.Helper()
		p := s.Pair()
		start, end := uintptr(unsafe.Pointer(s)), uintptr(unsafe.Pointer(s))+unsafe.Sizeof(*s)
		at := uintptr(unsafe.Pointer(p))
		if !asm.Aligned(p) || at < start || at+16 > end {
			t.Fatalf("%s: slot [%#x, %#x) gives pair at %#x", where, start, end, at)
		}
		if !asm.CompareAndSwap(p, 0, 0, 1, 2) {
			t.Fatalf("%s: CompareAndSwap on a zero pair failed", where)
		}
		if lo, hi := asm.Load(p); lo != 1 || hi != 2 {
			t.Fatalf("%s: Load = (%d, %d), want (1, 2)", where, lo, hi)
		}
	}
	if a := unsafe.Alignof(asm.PairSlot{}); a != 8 {
		t.Fatalf("PairSlot is %d-byte aligned, want 8", a)
	}

	type afterByte struct {
		_ byte
		s asm.PairSlot
	}
	type afterWord struct {
		_ uint32
		s asm.PairSlot
	}
	type withPointers struct {
		_ *int
		_ [40]*int // large enough for the heap's malloc header
		s asm.PairSlot
	}
	for i := 0; i < 4; i++ {
		check("new(PairSlot)", new(asm.PairSlot))
		check("after a byte", &new(afterByte).s)
		check("after a uint32", &new(afterWord).s)
		check("after pointers", &new(withPointers).s)
	}
	var slots [5]asm.PairSlot
	for i := range slots {
		check("array element", &slots[i])
	}
	words := make([]afterWord, 7)
	for i := range words {
		check("slice element", &words[i].s)
	}
}
