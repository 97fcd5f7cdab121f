package alloc

import (
	"fmt"
	"math"
	"reflect"
	"sync"
	"unsafe"
)

// Typed slices: n values of a pointer-free type T from a Heap, the slice
// counterpart of Typed.

// MakeSlice returns n zeroed values of T from h, with len and cap n and the
// first element aligned for T, or nil when memory is exhausted or h's
// MemoryLimit is reached. MakeSlice(h, 0) returns an empty slice that is not
// nil. It panics if T holds Go pointers (the garbage collector does not see
// this memory; NewTyped makes the same check), if n is negative, or if n
// values of T do not fit in an int.
//
// The slice must be freed with FreeSlice; append past its capacity makes an
// ordinary Go slice and leaves the off-heap one to be freed.
func MakeSlice[T any](h *Heap, n int) []T {
	var zero T
	size, align := int(unsafe.Sizeof(zero)), int(unsafe.Alignof(zero))
	if err := checkPointerFree(reflect.TypeFor[T]()); err != nil {
		panic(err)
	}
	switch {
	case n < 0:
		panic(fmt.Sprintf("alloc: MakeSlice[%T](%d): negative length", zero, n))
	case size > 0 && n > math.MaxInt/size:
		panic(fmt.Sprintf("alloc: MakeSlice[%T](%d): %d bytes each do not fit in an int", zero, n, size))
	case n == 0 || size == 0:
		return unsafe.Slice((*T)(ptr(zeroSize())), n)
	}
	p, _ := h.mallocAligned(n*size, align)
	if p == nil {
		return nil
	}
	clear(unsafe.Slice((*byte)(p), n*size))
	return unsafe.Slice((*T)(p), n)
}

// FreeSlice frees s, which MakeSlice(h, ...) returned; s must start where it
// started (its length does not matter). A nil or empty slice is a no-op.
// Freeing anything else panics as Heap.Free does, before anything changes.
func FreeSlice[T any](h *Heap, s []T) {
	h.Free(unsafe.Pointer(unsafe.SliceData(s)))
}

// pointerFree caches checkPointerFree's answer per type.
var pointerFree sync.Map // reflect.Type -> error (nil: pointer-free)

// checkPointerFree returns an error naming the part of t that holds Go
// pointers, or nil.
func checkPointerFree(t reflect.Type) error {
	if v, ok := pointerFree.Load(t); ok {
		err, _ := v.(error)
		return err
	}
	var err error
	if path, ok := pointerPath(t, t.String()); ok {
		err = fmt.Errorf("alloc: %s holds Go pointers (%s); the garbage collector cannot see them off-heap", t, path)
	}
	pointerFree.Store(t, err)
	return err
}
