package bench

import (
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

// CacheScratch and CacheThrash: Berger's false-sharing tests from Hoard. T
// workers, each on its own OS thread, allocate a tiny object, write and read
// it many times, and free it. In CacheScratch (passive false sharing) the
// main goroutine first allocates T objects back to back, so that they share
// a cache line, and hands object i to worker i, which frees it before its
// loop: an allocator that gives the freed foreign object back to the worker
// keeps the workers on one cache line. CacheThrash (active false sharing)
// has no handed-over objects: do workers that allocate at the same time get
// objects on the same line?

// cacheFalse runs one round. It returns errAllocNil if the allocator ran
// out.
func cacheFalse(a Allocator, size, threads, iters, reps int, handOver bool) error {
	objs := make([]unsafe.Pointer, threads)
	if handOver {
		for i := range objs {
			if objs[i] = a.Alloc(size); objs[i] == nil {
				for _, q := range objs[:i] {
					a.Free(q, size)
				}
				return errAllocNil
			}
		}
	}
	per := max(reps/threads, 1)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed bool
	)
	start := make(chan struct{})
	for w := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-start
			if handOver {
				a.Free(objs[w], size)
			}
			for range iters {
				p := (*byte)(a.Alloc(size))
				if p == nil {
					mu.Lock()
					failed = true
					mu.Unlock()
					return
				}
				// A load and a store of the object per repetition: the
				// compiler keeps neither in a register across iterations.
				for range per {
					*p++
				}
				a.Free(unsafe.Pointer(p), size)
			}
		}()
	}
	close(start)
	wg.Wait()
	if failed {
		return errAllocNil
	}
	return nil
}

func runCacheFalse(b *testing.B, d *Design, p *Params, threads int, handOver bool) {
	size := p.ScratchSize
	a := newAllocator(b, d, Spec{Name: "cachefalse", Size: size, Concurrent: threads > 1})
	defer closeOrFail(b, a)
	probe := newProbe(a)
	b.ReportAllocs()
	for b.Loop() {
		if err := cacheFalse(a, size, threads, p.ScratchIters, p.ScratchReps, handOver); err != nil {
			b.Fatal(err)
		}
	}
	objs := make([]unsafe.Pointer, threads)
	allocAll(b, a, size, objs)
	probe.sample(int64(threads * size))
	for _, q := range objs {
		a.Free(q, size)
	}
	probe.report(b, a)
}
