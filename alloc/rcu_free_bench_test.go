package alloc

import "testing"

// BenchmarkFreeRCU is an Alloc and a FreeRCU of 64 bytes on one goroutine,
// beside an Alloc and a Free, for each design: what deferring a free costs
// the caller (the grace periods run on the domain's goroutine, and the
// objects come back from it).
func BenchmarkFreeRCU(b *testing.B) {
	for _, d := range []Design{Sheaves, CPUSlab, CPUSlabLocked, Hybrid} {
		for _, op := range []string{"free", "freercu"} {
			b.Run("op="+op+"/design="+d.String(), func(b *testing.B) {
				r := NewRCU()
				defer r.Close()
				c := mustCache(b, "bench-freercu", 64, Config{Design: d, RCU: r})
				free := c.Free
				if op == "freercu" {
					free = c.FreeRCU
				}
				b.ReportAllocs()
				for b.Loop() {
					free(c.Alloc())
				}
				b.StopTimer()
				c.Shrink()
				mustDestroy(b, c)
			})
		}
	}
}
