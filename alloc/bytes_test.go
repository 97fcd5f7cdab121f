package alloc

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// byteHeaps runs f on heaps of every design, plain and with debugging that
// moves objects (red zones, the whole set), collecting debug reports.
func byteHeaps(t *testing.T, f func(t *testing.T, h *Heap, reports *[]Report)) {
	for _, debug := range []DebugFlags{0, DebugRedZone, DebugAll} {
		eachVariant(t, func(t *testing.T, cfg Config) {
			t.Run("debug="+debug.String(), func(t *testing.T) {
				var mu sync.Mutex
				var reports []Report
				cfg.Debug = debug
				cfg.OnReport = func(r Report) {
					mu.Lock()
					reports = append(reports, r)
					mu.Unlock()
				}
				h, err := NewHeap(cfg)
				if err != nil {
					t.Fatal(err)
				}
				f(t, h, &reports)
				if len(reports) > 0 {
					t.Errorf("%d debug reports, the first: %v", len(reports), reports[0])
				}
				if err := h.Validate(); err != nil {
					t.Fatal(err)
				}
				if err := h.Destroy(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// checkBytes fails unless b has length and capacity n, starts at a multiple
// of align and reads as zeros.
func checkBytes(t *testing.T, b []byte, n, align int) {
	t.Helper()
	if len(b) != n || cap(b) != n {
		t.Fatalf("len %d cap %d, want %d", len(b), cap(b), n)
	}
	if a := uintptr(unsafe.Pointer(unsafe.SliceData(b))); a&uintptr(align-1) != 0 {
		t.Fatalf("%d bytes at %#x: not %d-byte aligned", n, a, align)
	}
	for i, v := range b {
		if v != 0 {
			t.Fatalf("%d bytes: byte %d is %#x, want 0", n, i, v)
		}
	}
}

// Every slice is aligned, of the size asked for and zeroed, whatever the
// heap: in particular every Arrow buffer size (multiples of 64) on a debug
// heap, whose red zones shift the objects of kmalloc-96 and kmalloc-192.
func TestByteAllocatorAlign(t *testing.T) {
	sizes := []int{1, 7, 8, 9, 63, 65, 95, 97, 100, 191, 193, 1000, 4095, 4097, 8191, 8193, 20000}
	for n := 64; n <= 64*136; n += 64 {
		sizes = append(sizes, n)
	}
	byteHeaps(t, func(t *testing.T, h *Heap, _ *[]Report) {
		for _, align := range []int{1, 8, 16, 64, 256, pageSize} {
			a := h.ByteAllocator(align)
			if a.Align() != align {
				t.Fatalf("Align() = %d, want %d", a.Align(), align)
			}
			var held [][]byte
			for _, n := range sizes {
				b := a.Allocate(n)
				checkBytes(t, b, n, align)
				for i := range b {
					b[i] = 0xa7 // dirty, so that reuse must zero again
				}
				held = append(held, b)
			}
			for _, b := range held {
				a.Free(b)
			}
		}
	})
}

// objectAlign is a true divisor of every object's address.
func TestObjectAlign(t *testing.T) {
	byteHeaps(t, func(t *testing.T, h *Heap, _ *[]Report) {
		for _, c := range h.Caches() {
			al := c.objectAlign()
			if al < 8 || al&(al-1) != 0 {
				t.Fatalf("%s: objectAlign %d", c.Name(), al)
			}
			var objs []unsafe.Pointer
			for range 2*c.objsPerSlab + 1 {
				p := h.Malloc(c.ObjectSize())
				if uintptr(p)%uintptr(al) != 0 {
					t.Fatalf("%s: object %#x is not %d-aligned", c.Name(), uintptr(p), al)
				}
				objs = append(objs, p)
			}
			for _, p := range objs {
				h.Free(p)
			}
		}
	})
}

// Reallocate keeps the prefix, zeroes the growth (also in place, where the
// slot held old bytes), stays aligned, and treats nil and zero sizes as
// Allocate and Free.
func TestByteAllocatorReallocate(t *testing.T) {
	byteHeaps(t, func(t *testing.T, h *Heap, _ *[]Report) {
		a := h.ByteAllocator(64)
		steps := []int{10, 40, 64, 100, 200, 1000, 5000, 9000, 30000, 12000, 300, 50, 1}
		var b []byte
		for _, n := range steps {
			old := len(b)
			was := unsafe.SliceData(b)
			b = a.Reallocate(n, b)
			if len(b) != n || cap(b) != n {
				t.Fatalf("Reallocate(%d): len %d cap %d", n, len(b), cap(b))
			}
			if p := uintptr(unsafe.Pointer(unsafe.SliceData(b))); p%64 != 0 {
				t.Fatalf("Reallocate(%d) from %d: %#x is not 64-aligned", n, old, p)
			}
			for i := range b {
				want := byte(0)
				if i < old {
					want = byte(i*7 + old)
				}
				if b[i] != want {
					t.Fatalf("Reallocate %d -> %d (moved %v): byte %d is %#x, want %#x", old, n, was != unsafe.SliceData(b), i, b[i], want)
				}
			}
			for i := range b {
				b[i] = byte(i*7 + n)
			}
		}
		// Grow in place over bytes that were written and then cut off.
		b = a.Reallocate(100, b)
		for i := range b {
			b[i] = 0xee
		}
		b = a.Reallocate(10, b)
		was := unsafe.SliceData(b)
		b = a.Reallocate(100, b)
		if unsafe.SliceData(b) != was {
			t.Errorf("growing 10 -> 100 bytes within kmalloc-128 moved the slice")
		}
		for i, v := range b[10:] {
			if v != 0 {
				t.Fatalf("in-place growth: byte %d is %#x, want 0", 10+i, v)
			}
		}
		z := a.Reallocate(0, b)
		if z == nil || len(z) != 0 {
			t.Fatalf("Reallocate(0) = %v (nil %v), want an empty slice", z, z == nil)
		}
		a.Free(z)
		b = a.Reallocate(300, nil)
		checkBytes(t, b, 300, 64)
		a.Free(a.Reallocate(0, b))
	})
}

// Allocate(0) is an empty slice that is not nil and that Free and
// Reallocate accept; nil is a no-op for Free.
func TestByteAllocatorZeroSize(t *testing.T) {
	h, err := NewHeap(Config{})
	if err != nil {
		t.Fatal(err)
	}
	a := h.ByteAllocator(64)
	z := a.Allocate(0)
	if z == nil || len(z) != 0 || cap(z) != 0 {
		t.Fatalf("Allocate(0) = len %d cap %d nil %v", len(z), cap(z), z == nil)
	}
	a.Free(z)
	a.Free(nil)
	b := a.Reallocate(64, a.Allocate(0))
	checkBytes(t, b, 64, 64)
	a.Free(b)
	for _, f := range []func(){func() { a.Allocate(-1) }, func() { a.Reallocate(-1, nil) }} {
		if msg := mustPanic(t, f); !strings.Contains(msg, "negative size") {
			t.Errorf("negative size: panic %q", msg)
		}
	}
	for _, al := range []int{0, 3, 2 * pageSize} {
		if msg := mustPanic(t, func() { h.ByteAllocator(al) }); !strings.Contains(msg, fmt.Sprintf("ByteAllocator(%d)", al)) {
			t.Errorf("ByteAllocator(%d): panic %q", al, msg)
		}
	}
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// Out of memory panics, as Arrow's allocators do, with an error that names
// the size and the limit and that errors.Is classifies; the heap stays
// usable, and a failed Reallocate leaves its slice valid.
func TestByteAllocatorOutOfMemory(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		cfg.MemoryLimit = 256 << 10
		h, err := NewHeap(cfg)
		if err != nil {
			t.Fatal(err)
		}
		a := h.ByteAllocator(64)
		small := a.Allocate(100)
		small[0] = 42
		v := func() (v any) {
			defer func() { v = recover() }()
			a.Allocate(1 << 20)
			return nil
		}()
		err, ok := v.(error)
		if !ok || !errors.Is(err, ErrMemoryLimit) {
			t.Fatalf("Allocate past the limit panicked with %v (%T), want an error that is ErrMemoryLimit", v, v)
		}
		for _, s := range []string{"ByteAllocator.Allocate(1048576)", "MemoryLimit is 262144 bytes"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("panic %q does not say %q", err, s)
			}
		}
		msg := mustPanic(t, func() { a.Reallocate(1<<20, small) })
		if !strings.Contains(msg, "ByteAllocator.Reallocate(1048576)") {
			t.Errorf("Reallocate past the limit: panic %q", msg)
		}
		if small[0] != 42 {
			t.Error("a failed Reallocate changed its slice")
		}
		a.Free(small)
		b := a.Allocate(100 << 10)
		checkBytes(t, b, 100<<10, 64)
		a.Free(b)
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
	})

	// Failslab: ErrOutOfMemory, not the limit.
	withFailSlab(t, FaultAttr{Probability: 100, Times: 1})
	h, err := NewHeap(Config{Debug: DebugFailSlab})
	if err != nil {
		t.Fatal(err)
	}
	a := h.ByteAllocator(8)
	v := func() (v any) {
		defer func() { v = recover() }()
		a.Allocate(64)
		return nil
	}()
	if err, ok := v.(error); !ok || !errors.Is(err, ErrOutOfMemory) || errors.Is(err, ErrMemoryLimit) {
		t.Fatalf("injected failure panicked with %v, want an error that is ErrOutOfMemory", v)
	}
	a.Free(a.Allocate(64))
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// Bad frees panic as Heap.Free does, naming the address, and change
// nothing.
func TestByteAllocatorBadFree(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h, err := NewHeap(cfg)
		if err != nil {
			t.Fatal(err)
		}
		a := h.ByteAllocator(64)
		b := a.Allocate(256)
		goSlice := make([]byte, 64)
		for name, bad := range map[string][]byte{"a Go slice": goSlice, "an interior slice": b[8:]} {
			addr := fmt.Sprintf("%#x", uintptr(unsafe.Pointer(unsafe.SliceData(bad))))
			if msg := mustPanic(t, func() { a.Free(bad) }); !strings.Contains(msg, addr) || !strings.Contains(msg, "alloc:") {
				t.Errorf("Free of %s: panic %q does not name %s", name, msg, addr)
			}
			if msg := mustPanic(t, func() { a.Reallocate(512, bad) }); !strings.Contains(msg, addr) {
				t.Errorf("Reallocate of %s: panic %q does not name %s", name, msg, addr)
			}
		}
		a.Free(b[:0]) // the length does not matter
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
	})
}

// Goroutines allocating, growing and freeing at once never share a byte.
func TestByteAllocatorConcurrent(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h, err := NewHeap(cfg)
		if err != nil {
			t.Fatal(err)
		}
		a := h.ByteAllocator(64)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tag := byte(g + 1)
				var held [][]byte
				for i := range 300 {
					b := a.Allocate(64 * (1 + i%40))
					for j := range b {
						b[j] = tag
					}
					if i%3 == 0 {
						b = a.Reallocate(len(b)+500, b)
						for j := range b {
							b[j] = tag
						}
					}
					held = append(held, b)
					if len(held) > 20 {
						x := held[0]
						for j, v := range x {
							if v != tag {
								t.Errorf("goroutine %d: byte %d of its slice is %d", g, j, v)
								return
							}
						}
						a.Free(x)
						held = held[1:]
					}
				}
				for _, b := range held {
					a.Free(b)
				}
			}()
		}
		wg.Wait()
		if err := h.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkByteAllocator is an Allocate+Free pair of a size Arrow asks for
// (multiples of 64), on a plain heap of each design: what the byte-slice
// view adds to a Malloc+Free pair is the zeroing and the class choice.
func BenchmarkByteAllocator(b *testing.B) {
	for _, v := range variants() {
		for _, size := range []int{64, 192, 4096} {
			b.Run(fmt.Sprintf("size=%d/design=%s", size, v.benchName()), func(b *testing.B) {
				h, err := NewHeap(v.cfg)
				if err != nil {
					b.Fatal(err)
				}
				a := h.ByteAllocator(64)
				for b.Loop() {
					a.Free(a.Allocate(size))
				}
				b.StopTimer()
				if err := h.Destroy(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
