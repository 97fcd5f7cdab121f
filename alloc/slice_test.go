package alloc

import (
	"math"
	"strings"
	"testing"
	"unsafe"
)

// MakeSlice: len and cap n, zeroed, aligned for T, usable, freed by
// FreeSlice; the memory is reused zeroed.
func TestMakeSlice(t *testing.T) {
	type rec struct {
		A uint64
		B [3]int32
		C float64
	}
	eachVariant(t, func(t *testing.T, cfg Config) {
		h, err := NewHeap(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 3, 100, 1000, 5000} {
			for round := range 2 {
				s := MakeSlice[rec](h, n)
				if len(s) != n || cap(s) != n {
					t.Fatalf("MakeSlice(%d): len %d cap %d", n, len(s), cap(s))
				}
				if a := uintptr(unsafe.Pointer(&s[0])); a%unsafe.Alignof(rec{}) != 0 {
					t.Fatalf("MakeSlice(%d) at %#x: misaligned", n, a)
				}
				for i := range s {
					if s[i] != (rec{}) {
						t.Fatalf("round %d, MakeSlice(%d): element %d is %+v", round, n, i, s[i])
					}
					s[i] = rec{A: uint64(i), C: 1.5}
				}
				FreeSlice(h, s)
			}
		}
		u := MakeSlice[uint16](h, 7)
		if len(u) != 7 || h.UsableSize(unsafe.Pointer(&u[0])) < 14 {
			t.Fatalf("MakeSlice[uint16](7): len %d", len(u))
		}
		FreeSlice(h, u[:0]) // the length does not matter
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
	})
}

// Empty slices, zero-size types, bad arguments and pointerful types.
func TestMakeSliceEdges(t *testing.T) {
	h, err := NewHeap(Config{MemoryLimit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if s := MakeSlice[int64](h, 0); s == nil || len(s) != 0 {
		t.Fatalf("MakeSlice(0) = %v (nil %v)", s, s == nil)
	} else {
		FreeSlice(h, s)
	}
	e := MakeSlice[struct{}](h, 10)
	if len(e) != 10 {
		t.Fatalf("MakeSlice[struct{}](10): len %d", len(e))
	}
	FreeSlice(h, e)
	FreeSlice[int](h, nil)
	if s := MakeSlice[byte](h, 2<<20); s != nil {
		t.Fatalf("MakeSlice past the MemoryLimit returned %d bytes", len(s))
	}
	type named struct {
		ID   int
		Name string
	}
	for _, tc := range []struct {
		f    func()
		want string
	}{
		{func() { MakeSlice[int](h, -1) }, "MakeSlice[int](-1): negative length"},
		{func() { MakeSlice[[1 << 20]byte](h, math.MaxInt>>19) }, "do not fit in an int"},
		{func() { MakeSlice[named](h, 1) }, "holds Go pointers (alloc.named.Name is a string)"},
		{func() { MakeSlice[*int](h, 1) }, "holds Go pointers"},
		{func() { FreeSlice(h, make([]int, 4)) }, "not allocated by this allocator"},
	} {
		if msg := mustPanic(t, tc.f); !strings.Contains(msg, tc.want) {
			t.Errorf("panic %q, want it to say %q", msg, tc.want)
		}
	}
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
}
