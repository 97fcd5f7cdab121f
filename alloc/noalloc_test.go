package alloc

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// In steady state the allocator allocates nothing on the Go heap: slab
// metadata and sheaves are recycled, as the kernel keeps struct slab in
// its page array. Pair, Batch (n=1000, shuffled: refills, flushes, slabs
// emptied and made again) and Bulk, after a warm-up, on every design.
func TestNoGoAllocationsInSteadyState(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "noalloc", 64, cfg)
		objs := make([]unsafe.Pointer, 1000)
		order := rand.New(rand.NewPCG(1, 2)).Perm(len(objs))
		bulk := make([]unsafe.Pointer, 64)
		for _, tc := range []struct {
			name string
			op   func()
		}{
			{"Pair", func() { c.Free(c.Alloc()) }},
			{"Batch", func() {
				for i := range objs {
					objs[i] = c.Alloc()
				}
				for _, i := range order {
					c.Free(objs[i])
				}
			}},
			{"Bulk", func() {
				if c.AllocBulk(bulk) != len(bulk) {
					t.Fatal("AllocBulk failed")
				}
				c.FreeBulk(bulk)
			}},
		} {
			for range 20 {
				tc.op() // warm up: slabs, sheaves and per-P data exist
			}
			if n := testing.AllocsPerRun(50, tc.op); n != 0 {
				t.Errorf("%s: %.2f Go allocations per op", tc.name, n)
			}
		}
		mustFinish(t, c)
	})
}
