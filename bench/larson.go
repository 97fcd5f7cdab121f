package bench

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// Larson: Larson & Krishnan's "server with bleeding", as in mimalloc-bench.
// Each of P workers owns a set of slots holding blocks of random size and
// repeatedly frees a random slot and fills it again. After a number of steps
// a worker hands its slots to a fresh goroutine and exits, so the successor
// frees what its predecessor allocated (the "bleeding" between threads).

// larsonSlot is one slot: a block, its size, and the generation of the
// goroutine that allocated it (0: the warm-up on the main goroutine).
type larsonSlot struct {
	p    unsafe.Pointer
	size int32
	gen  int32
}

// larsonStats says what a Larson run did.
type larsonStats struct {
	steps     int64 // replace steps made by the workers
	handoffs  int64 // times a worker handed its slots to a successor
	inherited int64 // frees of blocks allocated by an earlier worker generation
	live      int64 // bytes held in the slots when the workers finished
}

var errAllocNil = errors.New("Alloc returned nil")

// larson runs the workload with workers workers making steps steps between
// them. started is called when the warm-up is done and the workers are about
// to start (the benchmark resets its timer there); finished when they are
// done. The slots are freed before larson returns.
func larson(a Allocator, p *Params, workers int, steps int64, seed uint64,
	started, finished func(), probe *memProbe) (larsonStats, error) {
	var st larsonStats
	minSize, span := p.LarsonMinSize, p.LarsonMaxSize-p.LarsonMinSize+1
	randSize := func(r *rand.Rand) int { return minSize + r.IntN(span) }

	// Each worker's slots and random source are on lines of their own (see
	// lineSlice); all indexes every slot for the warm-up.
	slots := make([][]larsonSlot, workers)
	var all []*larsonSlot
	for w := range slots {
		slots[w] = lineSlice[larsonSlot](p.LarsonSlots)
		for i := range slots[w] {
			all = append(all, &slots[w][i])
		}
	}
	rands := newWorkerRands(workers, seed)
	// fill allocates a block and writes its first 2 bytes, in the warm-up
	// as in the workers' steps: so the warm-up's blocks have their pages
	// faulted in before the timer starts. Otherwise a design that hands
	// out memory it never wrote (sheaves write no free pointer) pays the
	// warm-up's page faults inside the timed region, a cost fixed per run
	// that made the result depend on b.N (at N=100000 sheaves took 150 ns
	// a step, at N=1600000 50 ns).
	fill := func(s *larsonSlot, size int, gen int32) bool {
		q := a.Alloc(size)
		if q == nil {
			return false
		}
		*(*byte)(q) = 1
		*(*byte)(unsafe.Add(q, 1)) = 2
		*s = larsonSlot{p: q, size: int32(size), gen: gen}
		return true
	}
	free := func(s *larsonSlot) {
		a.Free(s.p, int(s.size))
		s.p = nil
	}
	defer func() {
		for _, s := range all {
			if s.p != nil {
				free(s)
			}
		}
	}()
	// Warm-up on the main goroutine: fill every slot, shuffle, and make four
	// random replace steps per slot.
	r := rand.New(rand.NewPCG(seed, 0))
	for _, s := range all {
		if !fill(s, randSize(r), 0) {
			return st, errAllocNil
		}
	}
	r.Shuffle(len(all), func(i, j int) { *all[i], *all[j] = *all[j], *all[i] })
	for range 4 * len(all) {
		s := all[r.IntN(len(all))]
		free(s)
		if !fill(s, randSize(r), 0) {
			return st, errAllocNil
		}
	}
	probe.sample(liveBytes(all))

	// Shared, but written once per generation, not per step.
	var (
		wg        sync.WaitGroup
		handoffs  atomic.Int64
		inherited atomic.Int64
		failed    atomic.Bool
	)
	handoff := int64(max(p.LarsonHandoff, 1))
	var gen func(own []larsonSlot, g int32, left int64, r *rand.Rand)
	gen = func(own []larsonSlot, g int32, left int64, r *rand.Rand) {
		defer wg.Done()
		k := min(left, handoff)
		var inh int64
		for range k {
			s := &own[r.IntN(len(own))]
			if s.gen != 0 && s.gen != g {
				inh++
			}
			free(s)
			if !fill(s, randSize(r), g) {
				failed.Store(true)
				break
			}
		}
		inherited.Add(inh)
		if left -= k; left > 0 && !failed.Load() {
			handoffs.Add(1)
			wg.Add(1)
			go gen(own, g+1, left, r)
		}
	}
	started()
	for w := range workers {
		share := steps / int64(workers)
		if int64(w) < steps%int64(workers) {
			share++
		}
		if share == 0 {
			continue
		}
		wg.Add(1)
		go gen(slots[w], 1, share, &rands[w].rand)
	}
	wg.Wait()
	finished()
	if failed.Load() {
		return st, errAllocNil
	}
	st.steps = steps
	st.handoffs = handoffs.Load()
	st.inherited = inherited.Load()
	st.live = liveBytes(all)
	probe.sample(st.live)
	return st, nil
}

func liveBytes(slots []*larsonSlot) int64 {
	var n int64
	for _, s := range slots {
		if s.p != nil {
			n += int64(s.size)
		}
	}
	return n
}

func runLarson(b *testing.B, d *Design, p *Params) {
	a := newAllocator(b, d, Spec{Name: "larson", MaxSize: p.LarsonMaxSize, Concurrent: true, MaxCachedObjects: p.MaxCachedObjects})
	defer closeOrFail(b, a)
	probe := newProbe(a)
	b.ReportAllocs()
	_, err := larson(a, p, runtime.GOMAXPROCS(0), int64(b.N), 1, b.ResetTimer, b.StopTimer, probe)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allocs/s")
	probe.report(b, a)
}
