package bench

import "testing"

// The benchmarks of the suite, as `go test -bench` runs them; slabbench runs
// the same code. `go test -bench . -benchtime 1x` runs each once, quickly.

var params = DefaultParams()

func BenchmarkPair(b *testing.B)         { RunWorkload(b, "Pair", &params) }
func BenchmarkKmallocPair(b *testing.B)  { RunWorkload(b, "KmallocPair", &params) }
func BenchmarkPairParallel(b *testing.B) { RunWorkload(b, "PairParallel", &params) }
func BenchmarkBatch(b *testing.B)        { RunWorkload(b, "Batch", &params) }
func BenchmarkBulk(b *testing.B)         { RunWorkload(b, "Bulk", &params) }
func BenchmarkNoLock(b *testing.B)       { RunWorkload(b, "NoLock", &params) }
func BenchmarkNoLockHook(b *testing.B)   { RunWorkload(b, "NoLockHook", &params) }
func BenchmarkLarson(b *testing.B)       { RunWorkload(b, "Larson", &params) }
func BenchmarkXmalloc(b *testing.B)      { RunWorkload(b, "Xmalloc", &params) }
func BenchmarkCacheScratch(b *testing.B) { RunWorkload(b, "CacheScratch", &params) }
func BenchmarkCacheThrash(b *testing.B)  { RunWorkload(b, "CacheThrash", &params) }
func BenchmarkRCURead(b *testing.B)      { RunWorkload(b, "RCURead", &params) }
func BenchmarkFreeRCU(b *testing.B)      { RunWorkload(b, "FreeRCU", &params) }

// TestEveryWorkloadHasABenchmark keeps the Benchmark functions above in step
// with the workload list.
func TestEveryWorkloadHasABenchmark(t *testing.T) {
	have := map[string]bool{
		"Pair": true, "KmallocPair": true, "PairParallel": true, "Batch": true, "Bulk": true, "NoLock": true,
		"NoLockHook": true, "Larson": true, "Xmalloc": true, "CacheScratch": true, "CacheThrash": true,
		"RCURead": true, "FreeRCU": true,
	}
	for _, w := range Workloads() {
		if !have[w.Name] {
			t.Errorf("workload %s has no Benchmark%s in bench_test.go", w.Name, w.Name)
		}
		delete(have, w.Name)
	}
	for n := range have {
		t.Errorf("Benchmark%s runs no workload", n)
	}
}
