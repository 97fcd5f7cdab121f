package alloc

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// naiveRun is findRun written the obvious way.
func naiveRun(bm []uint64, total, n, align, start int) int {
	i := start
	if align > 1 {
		i = (start + align - 1) &^ (align - 1)
	} else {
		align = 1
	}
	for ; i+n <= total; i += align {
		ok := true
		for k := i; k < i+n; k++ {
			if !testBit(bm, k) {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

func TestBitmapHelpers(t *testing.T) {
	bm := make([]uint64, 3)
	setBits(bm, 60, 10) // across a word boundary
	if countBits(bm, 0, 192) != 10 || !testBit(bm, 60) || !testBit(bm, 69) || testBit(bm, 59) || testBit(bm, 70) {
		t.Fatalf("setBits: %x", bm)
	}
	clearBits(bm, 62, 3)
	if countBits(bm, 0, 192) != 7 || testBit(bm, 63) {
		t.Fatalf("clearBits: %x", bm)
	}
	for _, tc := range []struct{ from, want int }{{0, 60}, {60, 60}, {62, 65}, {70, -1}, {191, -1}} {
		if got := nextSet(bm, 192, tc.from); got != tc.want {
			t.Errorf("nextSet(%d) = %d, want %d", tc.from, got, tc.want)
		}
	}
	// A bit past total is never found.
	setBits(bm, 150, 1)
	if got := nextSet(bm, 150, 100); got != -1 {
		t.Errorf("nextSet past total = %d", got)
	}

	// findRun against the obvious version, with and without alignment.
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 3000; iter++ {
		total := 1 + r.IntN(300)
		bm := make([]uint64, (total+63)/64)
		density := r.Float64()
		for i := 0; i < total; i++ {
			if r.Float64() < density {
				setBits(bm, i, 1)
			}
		}
		if r.IntN(4) == 0 { // long runs
			i := r.IntN(total)
			setBits(bm, i, min(total-i, r.IntN(130)))
		}
		n := 1 + r.IntN(70)
		align := 1 << r.IntN(6)
		start := r.IntN(total)
		want := naiveRun(bm, total, n, align, start)
		if got := findRun(bm, total, n, align, start); got != want {
			t.Fatalf("findRun(total %d, n %d, align %d, start %d) = %d, want %d; bitmap %x", total, n, align, start, got, want, bm)
		}
		from := r.IntN(total)
		wantNext := -1
		for i := from; i < total; i++ {
			if testBit(bm, i) {
				wantNext = i
				break
			}
		}
		if got := nextSet(bm, total, from); got != wantNext {
			t.Fatalf("nextSet(total %d, from %d) = %d, want %d", total, from, got, wantNext)
		}
	}
	// Alignment is honoured even when an unaligned run comes first.
	bm = make([]uint64, 1)
	setBits(bm, 3, 6) // 3..8
	if got := findRun(bm, 64, 4, 4, 0); got != 4 {
		t.Errorf("aligned run at %d, want 4", got)
	}
	if got := findRun(bm, 64, 4, 8, 0); got != -1 {
		t.Errorf("8-aligned run at %d, want none", got)
	}
	if got := findRun(bm, 64, 6, 1, 0); got != 3 {
		t.Errorf("unaligned run at %d, want 3", got)
	}
}

// lookupSlab maps addresses inside slabs and large allocations to their
// owner and everything else to nil.
func TestLookupSlab(t *testing.T) {
	c := mustCache(t, "lookup", 256, Config{})
	objs := allocN(t, c, c.objsPerSlab+1)
	for _, p := range objs {
		s := lookupSlab(uintptr(p))
		if s == nil || s.cache != c || !s.contains(uintptr(p)) {
			t.Fatalf("lookupSlab(%#x) = %+v", uintptr(p), s)
		}
		if lookupSlab(uintptr(p)+255) != s {
			t.Fatalf("last byte of %#x maps elsewhere", uintptr(p))
		}
		if s.start%(uintptr(s.npages)*pageSize) != 0 {
			t.Errorf("slab at %#x of %d pages is not aligned to its size", s.start, s.npages)
		}
	}
	s := lookupSlab(uintptr(objs[0]))
	if lookupSlab(s.start) != s || lookupSlab(s.start+uintptr(s.npages)*pageSize-1) != s {
		t.Error("first or last page of a slab maps elsewhere")
	}

	h, err := NewHeap(Config{})
	if err != nil {
		t.Fatal(err)
	}
	big := h.Malloc(3*pageSize + 1)
	ls := lookupSlab(uintptr(big))
	if ls == nil || ls.cache != nil || ls.heap != h || ls.npages != 4 || ls.large != 3*pageSize+1 {
		t.Fatalf("large allocation: %+v", ls)
	}
	if lookupSlab(uintptr(big)+4*pageSize-1) != ls {
		t.Error("last page of a large allocation maps elsewhere")
	}

	var goVar [64]byte
	for _, a := range []uintptr{0, 1, pageSize, uintptr(unsafe.Pointer(&goVar)), uintptr(unsafe.Pointer(&objs)), ^uintptr(0) >> 1, ^uintptr(0), zeroSize()} {
		if s := lookupSlab(a); s != nil {
			t.Errorf("lookupSlab(%#x) = %p, want nil", a, s)
		}
	}
	h.Free(big)
	if lookupSlab(uintptr(big)) != nil {
		t.Error("freed large allocation still maps to its owner")
	}
	freeAll(c, objs)
	mustDestroy(t, c)
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
	if lookupSlab(uintptr(objs[0])) != nil {
		t.Error("pages of a destroyed cache still map to a slab")
	}
}

// The page heap's counters: pages handed out count as InUse; freed pages are
// Resident until ReleaseFree gives them back (and read as zeros after).
func TestPageHeapAccounting(t *testing.T) {
	ReleaseFree()
	st0 := ReadPageStats()
	if st0.Resident != st0.InUse {
		t.Fatalf("after ReleaseFree: resident %d, in use %d", st0.Resident, st0.InUse)
	}
	owner := &slab{}
	a := pages.allocPages(4, 4, owner, false)
	if a == 0 {
		t.Fatal("allocPages failed")
	}
	if a%(4*pageSize) != 0 {
		t.Errorf("4-page aligned run at %#x", a)
	}
	for k := uintptr(0); k < 4; k++ {
		if lookupSlab(a+k*pageSize) != owner {
			t.Errorf("page %d does not map to its owner", k)
		}
	}
	st1 := ReadPageStats()
	if st1.InUse-st0.InUse != 4*pageSize {
		t.Errorf("InUse +%d, want %d", st1.InUse-st0.InUse, 4*pageSize)
	}
	if st1.Mapped < st1.InUse || st1.Mapped%chunkSize != 0 {
		t.Errorf("Mapped %d, InUse %d", st1.Mapped, st1.InUse)
	}
	b := unsafe.Slice((*byte)(ptr(a)), 4*pageSize)
	for i := range b {
		b[i] = 0xee
	}
	pages.freePages(a, 4)
	st2 := ReadPageStats()
	if st2.InUse != st0.InUse || st2.Resident-st0.Resident != 4*pageSize {
		t.Errorf("after free: InUse %d (was %d), Resident +%d, want +%d", st2.InUse, st0.InUse, st2.Resident-st0.Resident, 4*pageSize)
	}
	if lookupSlab(a) != nil {
		t.Error("freed page still maps to its owner")
	}
	n := ReleaseFree()
	if n != 4*pageSize {
		t.Errorf("ReleaseFree released %d bytes, want %d", n, 4*pageSize)
	}
	st3 := ReadPageStats()
	if st3.Resident != st3.InUse || st3.Released-st2.Released != n || st3.Mapped != st2.Mapped {
		t.Errorf("after ReleaseFree: %+v (before %+v)", st3, st2)
	}
	if releaseZeroes {
		for i, v := range b {
			if v != 0 {
				t.Fatalf("released page byte %d reads %#x, want 0", i, v)
			}
		}
	}
	if ReleaseFree() != 0 {
		t.Error("second ReleaseFree released more")
	}
	// Reused pages that were released come back as in use, not resident
	// twice.
	a2 := pages.allocPages(4, 4, owner, false)
	if st := ReadPageStats(); st.Resident != st.InUse || st.InUse-st0.InUse != 4*pageSize {
		t.Errorf("after reuse: %+v", st)
	}
	pages.freePages(a2, 4)
	ReleaseFree()
}

// With noblock the page heap only try-locks.
func TestPageHeapNoBlock(t *testing.T) {
	owner := &slab{}
	pages.mu.Lock()
	a := pages.allocPages(1, 1, owner, true)
	pages.mu.Unlock()
	if a != 0 {
		pages.freePages(a, 1)
		t.Fatal("allocPages(noblock) succeeded while the page heap lock was held")
	}
	if a = pages.allocPages(1, 1, owner, true); a == 0 {
		t.Fatal("allocPages(noblock) failed with the lock free")
	}
	pages.freePages(a, 1)
}

// A run larger than a chunk gets a chunk of its own.
func TestPageHeapHugeRun(t *testing.T) {
	owner := &slab{}
	np := arenaPages + 3
	mapped := ReadPageStats().Mapped
	a := pages.allocPages(np, 1, owner, false)
	if a == 0 {
		t.Fatal("allocPages failed")
	}
	if lookupSlab(a) != owner || lookupSlab(a+uintptr(np-1)*pageSize) != owner {
		t.Error("huge run does not map to its owner")
	}
	if grown := ReadPageStats().Mapped - mapped; grown != 0 && grown < int64(np)*pageSize {
		t.Errorf("mapped +%d for %d pages", grown, np)
	}
	storeWord(a+uintptr(np-1)*pageSize, 1)
	pages.freePages(a, np)
	ReleaseFree()
}
