package alloc

import (
	"testing"
	"unsafe"

	"github.com/goslub/slub/asm"
)

// The double-word pairs are 16-byte aligned and the counters used with
// 64-bit atomics 8-byte aligned by construction, wherever their structs
// lie, on every platform: not by the size class the Go heap happens to
// pick (on 32-bit platforms a uint64 is only 4-byte aligned).
func TestPairAlignedWherever(t *testing.T) {
	check := func(where string, p *asm.Pair, start, size uintptr) {
		t.Helper()
		at := uintptr(unsafe.Pointer(p))
		if !asm.Aligned(p) || at < start || at+16 > start+size {
			t.Fatalf("%s: pair at %#x, struct [%#x, %#x)", where, at, start, start+size)
		}
		if !asm.CompareAndSwap(p, 0, 0, 1, 2) {
			t.Fatalf("%s: CompareAndSwap on a zero pair failed", where)
		}
		if lo, hi := asm.Load(p); lo != 1 || hi != 2 {
			t.Fatalf("%s: Load = (%d, %d), want (1, 2)", where, lo, hi)
		}
	}
	type slabAfterWord struct {
		_ uint32
		s slab
	}
	type slabAfterDword struct {
		_ uint64
		s slab
	}
	type cpuAfterWord struct {
		_  uint32
		cc kmemCacheCPU
	}
	type cpuAfterDword struct {
		_  uint64
		cc kmemCacheCPU
	}
	// The structs escape, as the allocator's do: a pair's place depends on
	// its slot's address, which only the Go heap keeps still.
	for i := 0; i < 8; i++ {
		s := new(slab)
		check("new(slab)", s.pair(), uintptr(unsafe.Pointer(s)), unsafe.Sizeof(*s))
		sw := &new(slabAfterWord).s
		check("slab after a uint32", sw.pair(), uintptr(unsafe.Pointer(sw)), unsafe.Sizeof(*sw))
		sd := &new(slabAfterDword).s
		check("slab after a uint64", sd.pair(), uintptr(unsafe.Pointer(sd)), unsafe.Sizeof(*sd))
		cc := new(kmemCacheCPU)
		check("new(kmemCacheCPU)", cc.pair(), uintptr(unsafe.Pointer(cc)), unsafe.Sizeof(*cc))
		cw := &new(cpuAfterWord).cc
		check("kmemCacheCPU after a uint32", cw.pair(), uintptr(unsafe.Pointer(cw)), unsafe.Sizeof(*cw))
		cd := &new(cpuAfterDword).cc
		check("kmemCacheCPU after a uint64", cd.pair(), uintptr(unsafe.Pointer(cd)), unsafe.Sizeof(*cd))
		alignSink = append(alignSink, s, sw, sd, cc, cw, cd)
	}
	slabs := make([]slab, 5)
	alignSink = append(alignSink, slabs)
	for i := range slabs {
		check("slab array element", slabs[i].pair(), uintptr(unsafe.Pointer(&slabs[i])), unsafe.Sizeof(slabs[i]))
	}
}

var alignSink []any

func aligned8(p *uint64) bool { return uintptr(unsafe.Pointer(p))&7 == 0 }

// Every pair and every counter array of live caches of every design, and
// the layout rules that keep them so.
func TestAtomicsAligned(t *testing.T) {
	if unsafe.Offsetof(pcpuSheaves{}.stat)%8 != 0 || unsafe.Alignof(pcpuSheaves{}) < 8 {
		t.Errorf("pcpuSheaves.stat at offset %d, struct %d-byte aligned", unsafe.Offsetof(pcpuSheaves{}.stat), unsafe.Alignof(pcpuSheaves{}))
	}
	if unsafe.Offsetof(kmemCacheCPU{}.stat)%8 != 0 || unsafe.Alignof(kmemCacheCPU{}) < 8 {
		t.Errorf("kmemCacheCPU.stat at offset %d, struct %d-byte aligned", unsafe.Offsetof(kmemCacheCPU{}.stat), unsafe.Alignof(kmemCacheCPU{}))
	}
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "aligned", 64, cfg)
		objs := allocN(t, c, 3*c.objsPerSlab)
		for i := range c.stats {
			if p := &c.stats[i]; uintptr(unsafe.Pointer(p))&7 != 0 {
				t.Fatalf("Cache.stats[%d] at %p", i, p)
			}
		}
		if pcs := c.pcs.Load(); pcs != nil {
			for i := range pcs.p {
				if !aligned8(&pcs.p[i].stat[0]) {
					t.Fatalf("P%d sheaves counters at %p", i, &pcs.p[i].stat[0])
				}
			}
		}
		if cpus := c.cpus.Load(); cpus != nil {
			for i, cc := range cpus.c {
				if !aligned8(&cc.stat[0]) || !asm.Aligned(cc.pair()) {
					t.Fatalf("P%d kmemCacheCPU: counters at %p, pair at %p", i, &cc.stat[0], cc.pair())
				}
			}
		}
		n := 0
		for s := c.node.all; s != nil; s = s.allNext {
			if !asm.Aligned(s.pair()) {
				t.Fatalf("slab %#x: pair at %p", s.base, s.pair())
			}
			n++
		}
		if n < 3 {
			t.Fatalf("%d slabs", n)
		}
		freeAll(c, objs)
		mustFinish(t, c)
	})
}
