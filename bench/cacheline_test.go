package bench

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// The padded types fill whole lines on every architecture: an index out of
// range of a constant array does not compile, so go vet with any GOARCH
// checks these.
var (
	_ = [1]struct{}{}[unsafe.Sizeof(workerRand{})%cacheLine]
	_ = [1]struct{}{}[unsafe.Sizeof(floorStack{})%cacheLine]
	_ = [1]struct{}{}[unsafe.Sizeof(lineCounter{})%cacheLine]
)

// TestPerWorkerStateIsPadded checks that every type a worker writes alone
// fills whole cache lines.
func TestPerWorkerStateIsPadded(t *testing.T) {
	for _, c := range []struct {
		name string
		size uintptr
	}{
		{"workerRand", unsafe.Sizeof(workerRand{})},
		{"floorStack", unsafe.Sizeof(floorStack{})},
		{"lineCounter", unsafe.Sizeof(lineCounter{})},
	} {
		if c.size == 0 || c.size%cacheLine != 0 {
			t.Errorf("%s is %d bytes: not whole %d-byte lines", c.name, c.size, cacheLine)
		}
	}
}

// onOwnLines fails t unless s starts on a cache line and its capacity ends
// on one.
func onOwnLines[T any](t *testing.T, what string, s []T, n int) {
	t.Helper()
	if len(s) != n {
		t.Errorf("%s: len %d, want %d", what, len(s), n)
	}
	size := unsafe.Sizeof(*new(T))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	end := start + uintptr(cap(s))*size
	if start%cacheLine != 0 || end%cacheLine != 0 {
		t.Errorf("%s: [%#x, %#x) is not whole %d-byte lines", what, start, end, cacheLine)
	}
	if uintptr(n)*size > end-start {
		t.Errorf("%s: %d bytes of room for %d", what, end-start, uintptr(n)*size)
	}
}

func TestLineSlice(t *testing.T) {
	// With and without pointers: a block with pointers may start with a
	// malloc header.
	type (
		t1    byte
		t12   [3]uint32
		t24p  struct{ p, q, r *int }
		t8    struct{ a uint64 }
		t16   struct{ a, b uint64 }
		t16p  struct{ p, q *int }
		t128  [16]uint64
		t384  [48]uint64
		t384p [48]*int
		t640  [80]uint64
	)
	for _, n := range []int{0, 1, 2, 3, 5, 8, 17, 31, 32, 33, 100, 1000, 5000} {
		onOwnLines(t, fmt.Sprint("t1 ", n), lineSlice[t1](n), n)
		onOwnLines(t, fmt.Sprint("t12 ", n), lineSlice[t12](n), n)
		onOwnLines(t, fmt.Sprint("t24p ", n), lineSlice[t24p](n), n)
		onOwnLines(t, fmt.Sprint("t8 ", n), lineSlice[t8](n), n)
		onOwnLines(t, fmt.Sprint("t16 ", n), lineSlice[t16](n), n)
		onOwnLines(t, fmt.Sprint("t16p ", n), lineSlice[t16p](n), n)
		onOwnLines(t, fmt.Sprint("t128 ", n), lineSlice[t128](n), n)
		onOwnLines(t, fmt.Sprint("t384 ", n), lineSlice[t384](n), n)
		onOwnLines(t, fmt.Sprint("t384p ", n), lineSlice[t384p](n), n)
		onOwnLines(t, fmt.Sprint("t640 ", n), lineSlice[t640](n), n)
		onOwnLines(t, fmt.Sprint("larsonSlot ", n), lineSlice[larsonSlot](n), n)
		onOwnLines(t, fmt.Sprint("floorStack ", n), lineSlice[floorStack](n), n)
		onOwnLines(t, fmt.Sprint("workerRand ", n), newWorkerRands(n, 1), n)
		onOwnLines(t, fmt.Sprint("lineCounter ", n), lineSlice[lineCounter](n), n)
	}
	defer func() {
		if r := fmt.Sprint(recover()); !strings.Contains(r, "lineSlice of struct {}, a type of no size") {
			t.Errorf("lineSlice of an empty type: panic %q", r)
		}
	}()
	lineSlice[struct{}](1)
}

// TestWorkerRandsDiffer checks that the padded sources are seeded per worker
// and draw from their own state.
func TestWorkerRandsDiffer(t *testing.T) {
	ws := newWorkerRands(2, 7)
	a, b := ws[0].rand.Uint64(), ws[1].rand.Uint64()
	if a == b {
		t.Errorf("workers 0 and 1 drew the same %d", a)
	}
	again := newWorkerRands(2, 7)
	if got := again[0].rand.Uint64(); got != a {
		t.Errorf("same seed, worker 0 drew %d then %d", a, got)
	}
}
