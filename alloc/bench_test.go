package alloc

import "testing"

// The benchmarks of package alloc are those that need its internals. The
// workloads (Pair, KmallocPair, PairParallel, Batch, Bulk, NoLock and the
// rest) are package bench's: one implementation, which `go test -bench
// ./bench` and slabbench run on every design beside the floor and the
// baselines, each called the same way. For the pair:
//
//	go test -run '^$' -bench 'Pair/size=64' -count 20 ./bench > pair.txt
//	benchstat -col /design pair.txt
//
// and with GOSLUB_NODCAS=1 in front, the same without the double-word CAS.

// BenchmarkFreeCheck is the part of Free that checks the pointer (the
// address-to-slab lookup and the slot check) before anything changes.
func BenchmarkFreeCheck(b *testing.B) {
	c := mustCache(b, "bench", 64, Config{})
	p := c.Alloc()
	for b.Loop() {
		c.checkObject("Free", uintptr(p))
	}
	b.StopTimer()
	c.Free(p)
	mustDestroy(b, c)
}
