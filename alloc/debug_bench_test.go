package alloc

import (
	"testing"
	"unsafe"
)

// What debugging and hardening cost: a plain cache, a hardened one and debug
// caches with each letter and all of them, on every design (with the
// double-word CAS where the machine has it). Compare with
//
//	go test -run '^$' -bench 'Debug(Pair|Batch)' -count 10 ./alloc > debug.txt
//	benchstat -col /kind debug.txt

// Debug caches are hardened, as caches are by default.
type debugBenchKind struct {
	name  string
	plain bool // PlainFreelist
	flags DebugFlags
}

var debugBenchKinds = []debugBenchKind{
	{"plain", true, 0},
	{"hardened", false, 0},
	{"debug-F", false, DebugConsistency},
	{"debug-Z", false, DebugRedZone},
	{"debug-P", false, DebugPoison},
	{"debug-U", false, DebugStoreUser},
	{"debug-FZPU", false, DebugAll},
}

func benchDebugKinds(b *testing.B, debug bool, f func(b *testing.B, c *Cache)) {
	for _, k := range debugBenchKinds {
		if !debug && k.flags != 0 {
			continue
		}
		for _, v := range variants() {
			if v.cfg.noDCAS {
				continue
			}
			b.Run("kind="+k.name+"/design="+v.cfg.Design.String(), func(b *testing.B) {
				cfg := v.cfg
				cfg.PlainFreelist, cfg.Debug = k.plain, k.flags
				c := mustCache(b, "bench", 64, cfg)
				f(b, c)
				b.StopTimer()
				mustDestroy(b, c)
			})
		}
	}
}

// BenchmarkDebugPair is one Alloc and one Free of a 64-byte object. The
// sheaves fast path never reads a free pointer, so hardening costs it
// nothing here; the cpu slab fast path decodes one per Alloc and encodes
// one per Free.
func BenchmarkDebugPair(b *testing.B) {
	benchDebugKinds(b, true, func(b *testing.B, c *Cache) {
		for b.Loop() {
			c.Free(c.Alloc())
		}
	})
}

// BenchmarkDebugBatch allocates 512 objects and frees them, so that sheaves
// are refilled from and flushed to slab freelists (where hardened pointers
// are decoded and checked) and cpu slabs change; plain and hardened caches
// only. ns/obj is per Alloc+Free.
func BenchmarkDebugBatch(b *testing.B) {
	const n = 512
	benchDebugKinds(b, false, func(b *testing.B, c *Cache) {
		objs := make([]unsafe.Pointer, n)
		for b.Loop() {
			for i := range objs {
				objs[i] = c.Alloc()
			}
			for _, o := range objs {
				c.Free(o)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/obj")
	})
}
