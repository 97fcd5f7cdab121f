package alloc

import (
	"math/bits"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func TestNewCacheErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		cfg  Config
		want string // in the error
	}{
		{"", 64, Config{}, "empty cache name"},
		{"zero", 0, Config{}, "object size 0 must be positive"},
		{"negative", -8, Config{}, "object size -8 must be positive"},
		{"huge", MaxObjectSize + 1, Config{}, "is larger than"},
		{"align3", 64, Config{Align: 3}, "alignment 3 is not a power of two"},
		{"alignneg", 64, Config{Align: -8}, "is not a power of two"},
		{"alignbig", 64, Config{Align: 2 * pageSize}, "larger than a page"},
		{"capneg", 64, Config{SheafCapacity: -1}, "sheaf capacity -1 out of range"},
		{"capbig", 64, Config{SheafCapacity: 1<<16 + 1}, "out of range"},
		{"limitneg", 64, Config{MemoryLimit: -1}, "negative memory limit"},
		{"design", 64, Config{Design: Design(7)}, "unknown design 7"},
		{"debugbits", 64, Config{Debug: 1 << 20}, "unknown debug flags"},
		{"ctorhuge", MaxObjectSize, Config{Ctor: func(unsafe.Pointer) {}}, "does not fit a slab"},
	} {
		c, err := NewCache(tc.name, tc.size, tc.cfg)
		if err == nil {
			t.Errorf("NewCache(%q, %d, %+v): no error", tc.name, tc.size, tc.cfg)
			c.Destroy()
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewCache(%q, %d): error %q, want it to contain %q", tc.name, tc.size, err, tc.want)
		}
		if tc.name != "" && !strings.Contains(err.Error(), tc.name) {
			t.Errorf("NewCache(%q): error %q does not name the cache", tc.name, err)
		}
	}
	// The limits themselves are fine.
	for _, tc := range []struct {
		size int
		cfg  Config
	}{
		{1, Config{SheafCapacity: 1 << 16}},
		{MaxObjectSize, Config{Align: pageSize}},
	} {
		c := mustCache(t, "edge", tc.size, tc.cfg)
		p := c.Alloc()
		if p == nil {
			t.Fatalf("size %d: Alloc returned nil", tc.size)
		}
		c.Free(p)
		mustDestroy(t, c)
	}
}

func TestParseDesign(t *testing.T) {
	want := []string{"sheaves", "cpuslab", "cpuslab-locked", "hybrid"}
	for d := range numDesigns {
		if d.String() != want[d] {
			t.Errorf("Design(%d).String() = %q, want %q", int(d), d.String(), want[d])
		}
		for _, s := range []string{want[d], strings.ToUpper(want[d]), " " + want[d] + "\t"} {
			if got, err := ParseDesign(s); err != nil || got != d {
				t.Errorf("ParseDesign(%q) = %v, %v; want %v", s, got, err, d)
			}
		}
	}
	for _, s := range []string{"slab", "cpu-slab", "cpuslab-", ""} {
		if _, err := ParseDesign(s); err == nil || !strings.Contains(err.Error(), strconv.Quote(s)) || !strings.Contains(err.Error(), "cpuslab-locked") {
			t.Errorf("ParseDesign(%q): error %v", s, err)
		}
	}
	if Design(9).String() != "Design(9)" || Design(-1).String() != "Design(-1)" {
		t.Error("Design.String of an unknown design")
	}
	c := mustCache(t, "named", 40, Config{Design: CPUSlab})
	if c.Name() != "named" || c.ObjectSize() != 40 || c.Design() != CPUSlab {
		t.Errorf("Name %q ObjectSize %d Design %v", c.Name(), c.ObjectSize(), c.Design())
	}
	mustDestroy(t, c)
}

// Without a constructor the free pointer sits in the middle of the object
// (word aligned); with one it sits after the object, so that what the
// constructor set survives free and reuse.
func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		size, align      int
		ctor             bool
		wantFP, wantSlot int
	}{
		{1, 0, false, 0, 8},
		{8, 0, false, 0, 8},
		{16, 0, false, 8, 16},
		{24, 0, false, 8, 24},
		{64, 0, false, 32, 64},
		{100, 0, false, 48, 104},
		{24, 64, false, 8, 64},
		{8, 0, true, 8, 16},
		{64, 0, true, 64, 72},
		{100, 0, true, 104, 112},
		{64, 64, true, 64, 128},
	} {
		cfg := Config{Align: tc.align}
		if tc.ctor {
			cfg.Ctor = func(unsafe.Pointer) {}
		}
		c := mustCache(t, "layout", tc.size, cfg)
		if int(c.fpOffset) != tc.wantFP || c.size != tc.wantSlot {
			t.Errorf("size %d align %d ctor %v: free pointer at %d, slot %d; want %d, %d",
				tc.size, tc.align, tc.ctor, c.fpOffset, c.size, tc.wantFP, tc.wantSlot)
		}
		if tc.ctor && int(c.fpOffset) < tc.size {
			t.Errorf("size %d with a ctor: free pointer at %d inside the object", tc.size, c.fpOffset)
		}
		if c.Stats().Size != c.size {
			t.Errorf("Stats.Size %d, want %d", c.Stats().Size, c.size)
		}
		mustDestroy(t, c)
	}
}

// The free pointer of a fresh slab's free objects is where the layout says:
// the word at fpOffset of the first free object links to the next slot.
func TestFreePointerPlacement(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		for _, ctor := range []bool{false, true} {
			if ctor {
				cfg.Ctor = func(unsafe.Pointer) {}
			}
			c := mustCache(t, "fp", 64, cfg)
			p := uintptr(c.Alloc())
			s := lookupSlab(p)
			head := s.freelist()
			if head == 0 && c.cpus.Load() != nil {
				// The cpu slab's free objects are on its P's cpu freelist.
				for _, cc := range c.cpus.Load().c {
					if cc.slab.Load() == s {
						head = loadCPUFreelist(cc)
					}
				}
			}
			if head == 0 {
				t.Fatalf("ctor %v: no free object in a fresh slab", ctor)
			}
			if head+uintptr(c.size) < s.end {
				if got := c.getFP(head); got != head+uintptr(c.size) {
					t.Errorf("ctor %v: word at offset %d of free object %#x is %#x, want the next slot %#x", ctor, c.fpOffset, head, got, head+uintptr(c.size))
				}
			}
			c.Free(ptr(p))
			mustDestroy(t, c)
		}
	})
}

// A constructor runs once per slot when its slab is set up, and the state it
// writes survives free and reuse in every design.
// A hardened free pointer is stored as ptr ^ random ^ swab(where): swab
// reverses the bytes, and decoding undoes the encoding.
func TestHardenedFreePointer(t *testing.T) {
	if ptrBits == 64 {
		if got := swab(uintptr(0x0102030405060708 & uint64(^uintptr(0)))); uint64(got) != 0x0807060504030201 {
			t.Fatalf("swab = %#x", got)
		}
	} else if got := swab(uintptr(0x01020304)); got != 0x04030201 {
		t.Fatalf("swab = %#x", got)
	}
	c := mustCache(t, "harden", 64, Config{})
	p := uintptr(c.Alloc())
	q := uintptr(c.Alloc())
	c.setFP(p, q)
	if raw := loadWord(p + c.fpOffset); raw != q^c.random^swab(p+c.fpOffset) || raw == q {
		t.Fatalf("stored %#x for %#x", raw, q)
	}
	if got := c.getFP(p); got != q {
		t.Fatalf("getFP = %#x, want %#x", got, q)
	}
	c.Free(ptr(q))
	c.Free(ptr(p))
	mustDestroy(t, c)
}

func TestCtorStateKept(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		const size = 56
		calls := 0
		cfg.Ctor = func(p unsafe.Pointer) {
			calls++
			fillPattern(p, size, 0x5c)
		}
		c := mustCache(t, "ctor", size, cfg)
		n := 3*c.objsPerSlab + 7
		objs := allocN(t, c, n)
		for _, p := range objs {
			if err := checkPattern(p, size, 0x5c); err != nil {
				t.Fatalf("fresh object: %v", err)
			}
		}
		freeAll(c, objs)
		c.Shrink() // objects go back to slab freelists: linked through the free pointer
		objs = allocN(t, c, n)
		for _, p := range objs {
			if err := checkPattern(p, size, 0x5c); err != nil {
				t.Fatalf("reused object: %v", err)
			}
		}
		if st := c.Stats(); calls != int(st.Counters[AllocSlab])*c.objsPerSlab {
			t.Errorf("ctor ran %d times for %d slabs of %d", calls, st.Counters[AllocSlab], c.objsPerSlab)
		}
		freeAll(c, objs)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// Objects are aligned to Config.Align (8 at least) and never overlap.
func TestAlignment(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		for _, tc := range []struct{ size, align int }{{1, 0}, {12, 0}, {24, 16}, {24, 64}, {100, 128}, {3000, pageSize}} {
			cfg.Align = tc.align
			c := mustCache(t, "align", tc.size, cfg)
			want := max(tc.align, 8)
			objs := allocN(t, c, 200)
			seen := map[uintptr]bool{}
			for _, p := range objs {
				a := uintptr(p)
				if a%uintptr(want) != 0 {
					t.Errorf("size %d align %d: object %#x misaligned", tc.size, tc.align, a)
				}
				for o := a; o < a+uintptr(tc.size); o += 8 {
					if seen[o&^7] {
						t.Fatalf("object %#x overlaps another", a)
					}
					seen[o&^7] = true
				}
			}
			freeAll(c, objs)
			mustDestroy(t, c)
		}
	})
}

// calculate_sheaf_capacity: 60, 28, 12 or 4 objects by slot size, with
// Config.SheafCapacity as a minimum. The old design has no sheaves.
func TestSheafCapacityRule(t *testing.T) {
	for _, tc := range []struct{ size, min, want int }{
		{8, 0, 60}, {64, 0, 60}, {248, 0, 60},
		{256, 0, 28}, {255, 0, 28}, {1000, 0, 28},
		{1024, 0, 12}, {4000, 0, 12},
		{4096, 0, 4}, {4095, 0, 4}, {8192, 0, 4}, {MaxObjectSize, 0, 4},
		{64, 10, 60}, {64, 100, 100}, {4096, 5, 5}, {1024, 12, 12},
	} {
		c := mustCache(t, "cap", tc.size, Config{SheafCapacity: tc.min})
		if c.sheafCapacity != tc.want || c.Stats().SheafCapacity != tc.want {
			t.Errorf("size %d (slot %d) min %d: capacity %d, want %d", tc.size, c.size, tc.min, c.sheafCapacity, tc.want)
		}
		mustDestroy(t, c)
		c = mustCache(t, "cap", tc.size, Config{Design: CPUSlab, SheafCapacity: tc.min})
		if c.Stats().SheafCapacity != 0 {
			t.Errorf("CPUSlab cache reports sheaf capacity %d", c.Stats().SheafCapacity)
		}
		mustDestroy(t, c)
	}
	// A sheaf with its 32-byte header fills a power-of-two bucket.
	for size := 8; size <= 2*pageSize; size += 8 {
		capacity := sheafCapacityFor(size)
		if b := 32 + 8*capacity; b&(b-1) != 0 {
			t.Errorf("size %d: capacity %d makes a %d-byte sheaf", size, capacity, b)
		}
	}
}

// min_partial = clamp(ilog2(size)/2, 5, 10).
func TestMinPartial(t *testing.T) {
	for _, tc := range []struct{ size, want int }{
		{8, 5}, {64, 5}, {1024, 5}, {2048, 5}, {4096, 6}, {8192, 6}, {16384, 7}, {65536, 8}, {MaxObjectSize, 9},
	} {
		c := mustCache(t, "minpartial", tc.size, Config{})
		if c.node.minPartial != tc.want {
			t.Errorf("size %d: min_partial %d, want %d", tc.size, c.node.minPartial, tc.want)
		}
		mustDestroy(t, c)
	}
}

// The slab order: a power-of-two number of pages that holds the objects,
// wastes at most 1/16 of the slab where that is possible, and holds enough
// objects for per-P caching; objIndex is exact for every slot.
func TestSlabOrder(t *testing.T) {
	minObjects := 4 * (bits.Len(uint(gomaxprocs())) + 1)
	for size := 8; size <= MaxObjectSize; size += size/16 + 8 {
		size := size &^ 7
		c := mustCache(t, "order", size, Config{})
		pages, objs := c.slabPages, c.objsPerSlab
		bytes := pages * pageSize
		switch {
		case pages&(pages-1) != 0 || pages > 1<<maxSlabOrder:
			t.Errorf("size %d: %d pages", size, pages)
		case objs < 1 || objs*c.size > bytes:
			t.Errorf("size %d: %d objects of %d in %d bytes", size, objs, c.size, bytes)
		case objs != min(bytes/c.size, maxObjsPerSlab):
			t.Errorf("size %d: %d objects, %d fit", size, objs, bytes/c.size)
		case c.size <= pageSize<<maxSlabOrder/16 && bytes-objs*c.size > bytes/16:
			t.Errorf("size %d: wastes %d of %d bytes", size, bytes-objs*c.size, bytes)
		case objs < min(minObjects, pageSize*8/c.size):
			t.Errorf("size %d: %d objects per slab, want %d", size, objs, min(minObjects, pageSize*8/c.size))
		}
		for k := 0; k < objs; k++ {
			if got := c.objIndex(uintptr(k * c.size)); got != uintptr(k) {
				t.Fatalf("size %d: objIndex(%d) = %d, want %d", size, k*c.size, got, k)
			}
		}
		if st := c.Stats(); st.SlabSize != bytes || st.ObjectsPerSlab != objs {
			t.Errorf("size %d: Stats slab %d/%d, want %d/%d", size, st.SlabSize, st.ObjectsPerSlab, bytes, objs)
		}
		mustDestroy(t, c)
	}
}

// set_cpu_partial: 120, 52, 24 or 6 objects by size; the slab count assumes
// half-full slabs.
func TestCPUPartialSizes(t *testing.T) {
	for _, tc := range []struct{ size, want int }{
		{8, 120}, {200, 120}, {256, 52}, {1000, 52}, {1024, 24}, {4000, 24}, {4096, 6}, {20000, 6},
	} {
		c := mustCache(t, "cpupartial", tc.size, Config{Design: CPUSlab})
		wantSlabs := (2*tc.want + c.objsPerSlab - 1) / c.objsPerSlab
		if c.cpuPartial != tc.want || c.cpuPartialSlabs != wantSlabs || c.Stats().CPUPartial != tc.want {
			t.Errorf("size %d: cpu_partial %d (%d slabs), want %d (%d slabs)", tc.size, c.cpuPartial, c.cpuPartialSlabs, tc.want, wantSlabs)
		}
		mustDestroy(t, c)
		c = mustCache(t, "cpupartial", tc.size, Config{})
		if c.Stats().CPUPartial != 0 {
			t.Errorf("Sheaves cache reports cpu_partial %d", c.Stats().CPUPartial)
		}
		mustDestroy(t, c)
	}
}

// Alloc hands out distinct, writable objects; Free(nil) is a no-op; the
// counts in Stats follow.
func TestAllocFree(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		for _, size := range []int{8, 24, 64, 200, 1000, 4096, 10000} {
			c := mustCache(t, "allocfree", size, cfg)
			n := 2*c.objsPerSlab + 3
			objs := allocN(t, c, n)
			seen := map[uintptr]bool{}
			for i, p := range objs {
				if seen[uintptr(p)] {
					t.Fatalf("size %d: %#x handed out twice", size, uintptr(p))
				}
				seen[uintptr(p)] = true
				fillPattern(p, size, byte(i))
			}
			if got := activeObjects(c); got != int64(n) {
				t.Errorf("size %d: ActiveObjects %d, want %d", size, got, n)
			}
			c.Free(nil)
			mustValidate(t, c)
			for i, p := range objs {
				if err := checkPattern(p, size, byte(i)); err != nil {
					t.Fatal(err)
				}
				c.Free(p)
			}
			st := c.Stats()
			if st.ActiveObjects != 0 || st.Slabs == 0 || st.Objects != st.Slabs*int64(c.objsPerSlab) || st.SlabBytes != st.Slabs*int64(st.SlabSize) {
				t.Errorf("size %d: stats after freeing: %+v", size, st)
			}
			mustValidate(t, c)
			c.Shrink()
			if st := c.Stats(); st.Slabs != 0 || st.Objects != 0 || st.CachedObjects != 0 {
				t.Errorf("size %d: after Shrink %d slabs, %d objects, %d cached", size, st.Slabs, st.Objects, st.CachedObjects)
			}
			mustDestroy(t, c)
		}
	})
}

// Stats.Counter finds counters by their kernel names.
func TestStatNames(t *testing.T) {
	seen := map[string]bool{}
	for i := StatItem(0); i < NumStatItems; i++ {
		name := i.String()
		if name == "" || strings.ToUpper(name) != name || seen[name] {
			t.Errorf("stat %d: name %q", i, name)
		}
		seen[name] = true
	}
	if StatItem(-1).String() != "STAT_UNKNOWN" || NumStatItems.String() != "STAT_UNKNOWN" {
		t.Error("out of range StatItem names")
	}
	c := mustCache(t, "names", 64, Config{})
	c.Free(c.Alloc())
	st := c.Stats()
	if st.Counter("ALLOC_SLAB") != 1 || st.Counter("ALLOC_SLAB") != st.Counters[AllocSlab] || st.Counter("NO_SUCH") != 0 {
		t.Errorf("Counter: ALLOC_SLAB %d", st.Counter("ALLOC_SLAB"))
	}
	mustDestroy(t, c)
}

// A destroyed cache refuses further use with a panic naming it.
func TestUseAfterDestroy(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "gone", 64, cfg)
		c.Free(c.Alloc())
		mustDestroy(t, c)
		msg := mustPanic(t, func() { c.Alloc() })
		wantContains(t, msg, "gone", "after Destroy")
		mustPanic(t, func() { c.Shrink() })
		mustPanic(t, func() { c.Validate() })
	})
}

// Free checks a pointer with the cache's geometry alone (isSlot, a mask for
// power-of-two sizes): it must agree with the slab's own bounds and slot
// size at every offset of a slab, red zones and the tail included.
func TestIsSlotMatchesSlab(t *testing.T) {
	for _, tc := range []struct {
		size int
		cfg  Config
	}{
		{64, Config{}}, {96, Config{}}, {8, Config{}}, {4096, Config{}}, {3000, Config{}},
		{64, Config{Debug: DebugRedZone}}, {100, Config{Debug: DebugAll}}, {64, Config{Ctor: func(unsafe.Pointer) {}}},
	} {
		c := mustCache(t, "isslot", tc.size, tc.cfg)
		p := c.Alloc()
		s := lookupSlab(uintptr(p))
		for a := s.start - 8; a < s.start+uintptr(s.npages*pageSize)+8; a += 8 {
			want := a >= s.base && a < s.end && (a-s.base)%uintptr(c.size) == 0
			if got := c.validSlot(s, a); got != want {
				t.Fatalf("size %d %v: validSlot(%#x) = %v, want %v (slab %#x..%#x, slot %d)", tc.size, tc.cfg.Debug, a, got, want, s.base, s.end, c.size)
			}
			if e := lookupOwner(a); e != nil && e.cache.Load() == c && c.isSlot(a) != want {
				t.Fatalf("size %d %v: isSlot(%#x) = %v, want %v", tc.size, tc.cfg.Debug, a, !want, want)
			}
		}
		c.Free(p)
		mustDestroy(t, c)
	}
}
