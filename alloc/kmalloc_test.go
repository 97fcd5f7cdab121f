package alloc

import (
	"math"
	"strings"
	"testing"
	"unsafe"
)

func mustHeap(t testing.TB, cfg Config) *Heap {
	t.Helper()
	h, err := NewHeap(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustDestroyHeap(t testing.TB, h *Heap) {
	t.Helper()
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// classFor is the smallest size class that holds size bytes.
func classFor(size int) int {
	for _, c := range kmallocSizes {
		if c >= size {
			return c
		}
	}
	return 0
}

func TestHeapCaches(t *testing.T) {
	h := mustHeap(t, Config{})
	caches := h.Caches()
	want := []string{"kmalloc-8", "kmalloc-16", "kmalloc-32", "kmalloc-64", "kmalloc-96", "kmalloc-128",
		"kmalloc-192", "kmalloc-256", "kmalloc-512", "kmalloc-1k", "kmalloc-2k", "kmalloc-4k", "kmalloc-8k"}
	if len(caches) != len(want) {
		t.Fatalf("%d caches, want %d", len(caches), len(want))
	}
	for i, c := range caches {
		if c.Name() != want[i] || c.ObjectSize() != kmallocSizes[i] {
			t.Errorf("cache %d: %s of %d bytes, want %s of %d", i, c.Name(), c.ObjectSize(), want[i], kmallocSizes[i])
		}
		if err := c.Destroy(); err == nil || !strings.Contains(err.Error(), "belongs to a heap") {
			t.Errorf("%s: Destroy of a heap cache: %v", c.Name(), err)
		}
	}
	caches[0] = nil // a copy: the heap is unaffected
	if h.Caches()[0] == nil {
		t.Error("Caches returned the heap's own array")
	}
	mustDestroyHeap(t, h)
	if _, err := NewHeap(Config{Ctor: func(unsafe.Pointer) {}}); err == nil {
		t.Error("NewHeap with a constructor succeeded")
	}
	if _, err := NewHeap(Config{Align: 3}); err == nil {
		t.Error("NewHeap with a bad alignment succeeded")
	}
}

// Every size from 1 to past the largest class: the right class, at least
// 8-byte alignment, natural alignment for power-of-two sizes up to a page,
// the whole usable size writable.
func TestHeapSizeClasses(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h := mustHeap(t, cfg)
		for size := 1; size <= KmallocMaxCacheSize+2*pageSize+1; size++ {
			if size > KmallocMaxCacheSize+8 && size%509 != 0 && size != KmallocMaxCacheSize+2*pageSize+1 {
				continue // a sample of the large sizes
			}
			p := h.Malloc(size)
			if p == nil {
				t.Fatalf("Malloc(%d) returned nil", size)
			}
			a := uintptr(p)
			if a%8 != 0 {
				t.Fatalf("Malloc(%d) = %#x: not 8-byte aligned", size, a)
			}
			if size&(size-1) == 0 && size <= pageSize && a%uintptr(size) != 0 {
				t.Fatalf("Malloc(%d) = %#x: not naturally aligned", size, a)
			}
			us := h.UsableSize(p)
			if size <= KmallocMaxCacheSize {
				class := classFor(size)
				if us != class {
					t.Fatalf("Malloc(%d): usable size %d, want class %d", size, us, class)
				}
				if class&(class-1) == 0 && a%uintptr(min(class, pageSize)) != 0 {
					t.Fatalf("Malloc(%d) from kmalloc-%d at %#x: not aligned to %d", size, class, a, min(class, pageSize))
				}
			} else {
				if want := (size + pageSize - 1) &^ (pageSize - 1); us != want {
					t.Fatalf("Malloc(%d): usable size %d, want %d", size, us, want)
				}
				if a%pageSize != 0 {
					t.Fatalf("large Malloc(%d) = %#x: not page aligned", size, a)
				}
			}
			b := unsafe.Slice((*byte)(p), us)
			b[0], b[us-1] = 1, 2
			h.Free(p)
		}
		mustDestroyHeap(t, h)
	})
}

func TestHeapZeroAndNegative(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h := mustHeap(t, cfg)
		z := h.Malloc(0)
		if z == nil {
			t.Fatal("Malloc(0) returned nil")
		}
		if h.Malloc(0) != z || h.Zalloc(0) != z || h.MallocNoLock(0) != z {
			t.Error("zero-size allocations differ")
		}
		if h.UsableSize(z) != 0 || h.UsableSize(nil) != 0 {
			t.Error("UsableSize of the zero-size pointer or nil is not 0")
		}
		if lookupSlab(uintptr(z)) != nil {
			t.Error("the zero-size pointer is in slab memory")
		}
		h.Free(z)
		h.FreeNoLock(z)
		h.Free(nil)
		h.FreeNoLock(nil)
		for _, n := range []int{-1, -8192, math.MinInt} {
			if h.Malloc(n) != nil || h.Zalloc(n) != nil || h.MallocNoLock(n) != nil {
				t.Errorf("size %d: not nil", n)
			}
		}
		// Sizes whose page count would overflow when rounded up. On 64-bit
		// platforms no such allocation can succeed; on 32-bit ones (where
		// the largest int is 2 GiB) Malloc may succeed, and must then give
		// all of it (Zalloc, which would touch it all, is not tried there).
		inUse := ReadPageStats().InUse
		for _, n := range []int{math.MaxInt, math.MaxInt - pageSize + 2, math.MaxInt / 2} {
			p := h.Malloc(n)
			switch {
			case p == nil:
			case ptrBits == 64:
				t.Errorf("Malloc(%d) is not nil", n)
			case h.UsableSize(p) < n:
				t.Errorf("Malloc(%d): %d usable bytes", n, h.UsableSize(p))
			default:
				h.Free(p)
			}
			if ptrBits == 64 && h.Zalloc(n) != nil {
				t.Errorf("Zalloc(%d) is not nil", n)
			}
		}
		if ReadPageStats().InUse != inUse {
			t.Errorf("huge failed allocations changed InUse from %d to %d", inUse, ReadPageStats().InUse)
		}
		p := h.Malloc(40)
		if h.Realloc(p, -1) != nil || h.Realloc(p, math.MaxInt) != nil {
			t.Error("Realloc(p, -1) or Realloc(p, MaxInt) is not nil")
		}
		h.Free(p) // still valid
		mustDestroyHeap(t, h)
	})
}

// Zalloc returns zeroed memory even where the class was used before.
func TestHeapZalloc(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h := mustHeap(t, cfg)
		for _, size := range []int{1, 24, 100, 1000, 4096, 8000, 20000} {
			var ps []unsafe.Pointer
			for i := 0; i < 50; i++ {
				p := h.Malloc(size)
				b := unsafe.Slice((*byte)(p), h.UsableSize(p))
				for k := range b {
					b[k] = 0xff
				}
				ps = append(ps, p)
			}
			for _, p := range ps {
				h.Free(p)
			}
			for i := 0; i < 50; i++ {
				p := h.Zalloc(size)
				for k, v := range unsafe.Slice((*byte)(p), size) {
					if v != 0 {
						t.Fatalf("Zalloc(%d) byte %d is %#x", size, k, v)
					}
				}
				ps[i] = p
			}
			for _, p := range ps {
				h.Free(p)
			}
		}
		mustDestroyHeap(t, h)
	})
}

// Realloc keeps the contents (up to the smaller size) wherever the object
// ends up; it stays in place while the new size fits.
func TestHeapRealloc(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h := mustHeap(t, cfg)
		p := h.Realloc(nil, 10)
		if p == nil || h.UsableSize(p) != 16 {
			t.Fatalf("Realloc(nil, 10): %p usable %d", p, h.UsableSize(p))
		}
		fillPattern(p, 10, 1)
		if q := h.Realloc(p, 16); q != p {
			t.Error("Realloc within the class moved the object")
		}
		if q := h.Realloc(p, 3); q != p {
			t.Error("shrinking Realloc moved the object")
		}
		if err := checkPattern(p, 3, 1); err != nil {
			t.Error(err)
		}
		fillPattern(p, 16, 2)
		sizes := []int{17, 100, 300, 5000, 9000, 3*pageSize + 5, 100000, 2*pageSize + 1, 7000, 50, 8}
		prev := 16
		for _, size := range sizes {
			q := h.Realloc(p, size)
			if q == nil {
				t.Fatalf("Realloc to %d returned nil", size)
			}
			keep := min(prev, size)
			b := unsafe.Slice((*byte)(q), keep)
			seed := byte(uintptr(p)>>3) ^ 2
			for i := range b {
				if b[i] != seed+byte(i) {
					t.Fatalf("Realloc %d -> %d: byte %d lost", prev, size, i)
				}
			}
			if h.UsableSize(q) < size {
				t.Fatalf("Realloc to %d: usable %d", size, h.UsableSize(q))
			}
			// Re-stamp with q's pattern seed for the next round.
			p = q
			fillPattern(p, size, 2)
			prev = size
		}
		z := h.Realloc(p, 0)
		if z != h.Malloc(0) {
			t.Error("Realloc(p, 0) did not return the zero-size pointer")
		}
		q := h.Realloc(z, 33)
		if q == nil || h.UsableSize(q) != 64 {
			t.Error("Realloc of the zero-size pointer is not Malloc")
		}
		h.Free(q)
		mustDestroyHeap(t, h)
	})
}

// Large allocations (past kmalloc-8k) are page runs with their own
// accounting; freeing a pointer inside one panics.
func TestHeapLarge(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h := mustHeap(t, cfg)
		inUse := ReadPageStats().InUse
		var ps []unsafe.Pointer
		for _, size := range []int{KmallocMaxCacheSize + 1, 3 * pageSize, 1 << 20, 5<<20 + 17} {
			p := h.Malloc(size)
			if p == nil {
				t.Fatalf("Malloc(%d) returned nil", size)
			}
			b := unsafe.Slice((*byte)(p), size)
			b[0], b[size-1] = 1, 1
			ps = append(ps, p)
		}
		if grown := ReadPageStats().InUse - inUse; grown < 1<<20+5<<20 {
			t.Errorf("InUse grew by %d", grown)
		}
		msg := mustPanic(t, func() { h.Free(ptr(uintptr(ps[2]) + pageSize)) })
		wantContains(t, msg, "inside a large allocation", hexAddr(ps[2]))
		msg = mustPanic(t, func() { h.FreeNoLock(ps[0]) })
		wantContains(t, msg, "large allocation", hexAddr(ps[0]))
		if h.MallocNoLock(KmallocMaxCacheSize+1) != nil {
			t.Error("MallocNoLock of a large size is not nil")
		}
		for _, p := range ps {
			h.Free(p)
		}
		msg = mustPanic(t, func() { h.Free(ps[1]) })
		wantContains(t, msg, hexAddr(ps[1]))
		if ReadPageStats().InUse != inUse {
			t.Errorf("InUse %d after freeing, want %d", ReadPageStats().InUse, inUse)
		}
		mustDestroyHeap(t, h)
	})
}

// The package-level Malloc and Free use one default Sheaves heap.
func TestDefaultHeap(t *testing.T) {
	p := Malloc(100)
	if p == nil {
		t.Fatal("Malloc returned nil")
	}
	if DefaultHeap().UsableSize(p) != 128 {
		t.Errorf("UsableSize %d", DefaultHeap().UsableSize(p))
	}
	if DefaultHeap() != DefaultHeap() || DefaultHeap().Caches()[0].Design() != Sheaves {
		t.Error("default heap")
	}
	big := Malloc(100000)
	Free(p)
	Free(big)
	Free(nil)
	Free(Malloc(0))
	if err := DefaultHeap().Validate(); err != nil {
		t.Fatal(err)
	}
}

// Destroy names what is still allocated, frees the rest, and can be
// repeated once the leaks are freed.
func TestHeapDestroyLeaks(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h := mustHeap(t, cfg)
		small := h.Malloc(50)
		large := h.Malloc(20000)
		h.Free(h.Malloc(500))
		err := h.Destroy()
		if err == nil {
			t.Fatal("Destroy with live objects succeeded")
		}
		wantContains(t, err.Error(), "kmalloc-64", hexAddr(small), "large allocation of 20000 bytes", hexAddr(large))
		if strings.Contains(err.Error(), "kmalloc-512") {
			t.Errorf("error names a cache without leaks: %v", err)
		}
		h.Free(small)
		h.Free(large)
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
	})
}

// A heap only frees what it handed out.
func TestHeapForeignPointers(t *testing.T) {
	h1 := mustHeap(t, Config{})
	h2 := mustHeap(t, Config{Design: CPUSlab})
	c := mustCache(t, "not-a-heap", 64, Config{})
	p1, p2, pc := h1.Malloc(64), h2.Malloc(64), c.Alloc()
	big := h1.Malloc(20000)
	var local [16]byte
	for _, tc := range []struct {
		p    unsafe.Pointer
		want string
	}{
		{p2, "another heap"},
		{pc, "another heap"},
		{unsafe.Pointer(&local), "not allocated by this allocator"},
		{ptr(uintptr(p1) + 8), "kmalloc-64"},
		{ptr(uintptr(p1) + 3), "kmalloc-64"},
	} {
		for _, op := range []struct {
			name string
			f    func(unsafe.Pointer)
		}{{"Free", h1.Free}, {"FreeNoLock", h1.FreeNoLock}, {"UsableSize", func(p unsafe.Pointer) { h1.UsableSize(p) }}, {"Realloc", func(p unsafe.Pointer) { h1.Realloc(p, 200) }}} {
			msg := mustPanic(t, func() { op.f(tc.p) })
			wantContains(t, msg, tc.want, hexAddr(tc.p))
		}
	}
	mustPanic(t, func() { h2.Free(big) })
	h1.Free(p1)
	h1.Free(big)
	h2.Free(p2)
	c.Free(pc)
	mustDestroyHeap(t, h1)
	mustDestroyHeap(t, h2)
	mustDestroy(t, c)
}

// MallocNoLock serves the same classes as Malloc; FreeNoLock and Free accept
// each other's objects.
func TestHeapNoLock(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h := mustHeap(t, cfg)
		for _, size := range []int{1, 8, 9, 64, 65, 96, 97, 1000, 4096, 8192} {
			p := h.MallocNoLock(size)
			if p == nil {
				t.Fatalf("MallocNoLock(%d) on an idle heap returned nil", size)
			}
			if us := h.UsableSize(p); us < classFor(size) {
				t.Fatalf("MallocNoLock(%d): usable %d", size, us)
			}
			fillPattern(p, size, 3)
			q := h.Malloc(size)
			h.FreeNoLock(q)
			if err := checkPattern(p, size, 3); err != nil {
				t.Fatal(err)
			}
			h.Free(p)
		}
		mustDestroyHeap(t, h)
	})
}
