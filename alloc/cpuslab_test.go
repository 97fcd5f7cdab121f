package alloc

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// eachDesign runs f for the variants of one design (with and without the
// double-word CAS): the tests of paths only that design has.
func eachDesign(t *testing.T, ds []Design, f func(t *testing.T, cfg Config)) {
	for _, v := range variants() {
		if slices.Contains(ds, v.cfg.Design) {
			t.Run(v.name, func(t *testing.T) { f(t, v.cfg) })
		}
	}
}

// Goroutines that are moved between Ps in the middle of an allocation (many
// more goroutines than Ps, yielding all the time) never get the same object:
// each writes its id into what it got, yields, and checks that the id is
// still there before freeing.
func TestCPUSlabMigratingGoroutines(t *testing.T) {
	withProcs(t, 4)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "migrate", 32, cfg)
		const workers = 32
		rounds := 400
		if testing.Short() || raceEnabled {
			rounds = 100
		}
		var live sync.Map
		var failed atomic.Bool
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(id uint64) {
				defer wg.Done()
				var held [8]unsafe.Pointer
				for r := 0; r < rounds && !failed.Load(); r++ {
					for i := range held {
						p := c.Alloc()
						if p == nil {
							t.Error("Alloc returned nil")
							failed.Store(true)
							return
						}
						if _, dup := live.LoadOrStore(uintptr(p), id); dup {
							t.Errorf("object %#x handed out while live", uintptr(p))
							failed.Store(true)
							return
						}
						*(*uint64)(p) = id
						(*[4]uint64)(p)[3] = ^id
						held[i] = p
						runtime.Gosched()
					}
					for i, p := range held {
						runtime.Gosched()
						if v := *(*uint64)(p); v != id || (*[4]uint64)(p)[3] != ^id {
							t.Errorf("object %#x: goroutine %d finds %d: shared with another goroutine", uintptr(p), id, v)
							failed.Store(true)
							return
						}
						live.Delete(uintptr(p))
						c.Free(p)
						held[i] = nil
					}
				}
			}(uint64(w + 1))
		}
		wg.Wait()
		if failed.Load() {
			return
		}
		mustFinish(t, c)
	})
}

// The tid defeats ABA: a goroutine that read (head, tid) and the next
// pointer, then lost the CPU while others took head and gave it back, finds
// the same head but a later tid, and its CAS fails.
func TestCPUSlabTidDefeatsABA(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "aba", 64, cfg)
		keep := allocN(t, c, 2) // P 0 now has a cpu slab with free objects
		cc, step := c.thisCPU()
		if cc.slab.Load() == nil {
			t.Fatal("no cpu slab after Alloc")
		}
		tid := loadTid(cc)
		head := loadCPUFreelist(cc)
		next := c.getFP(head)
		// Meanwhile: take head and the next object, give head back.
		a, b := c.Alloc(), c.Alloc()
		if uintptr(a) != head || uintptr(b) != next {
			t.Fatalf("allocations %#x %#x, want head %#x and next %#x", uintptr(a), uintptr(b), head, next)
		}
		c.Free(a)
		if loadCPUFreelist(cc) != head {
			t.Fatalf("cpu freelist head %#x, want %#x again", loadCPUFreelist(cc), head)
		}
		if loadTid(cc) == tid {
			t.Fatal("tid did not advance")
		}
		if (loadTid(cc)-tid)%step != 0 {
			t.Fatalf("tid advanced by %d, not a multiple of the step %d", loadTid(cc)-tid, step)
		}
		// The stale CAS would install next, which is allocated (b).
		cc.mu.Lock()
		ok := c.cpuCAS(cc, uint64(head), tid, uint64(next), tid+step)
		cc.mu.Unlock()
		if ok {
			t.Fatal("CAS with a stale tid succeeded: ABA")
		}
		c.Free(b)
		freeAll(c, keep)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// A bulk allocation takes the cpu slab off the P while it puts back the
// objects it did not use, as every change of the cpu freelist under the
// per-P lock does. A fast free racing with it then goes to the slab, so the
// freelist put back cannot be joined to objects a fast allocation takes
// meanwhile (which once handed an object out twice).
func TestCPUSlabBulkTakesSlabOff(t *testing.T) {
	withProcs(t, 1)
	c := mustCache(t, "bulk-slab-off", 64, Config{Design: CPUSlabLocked})
	if !c.lockless {
		// Without the double-word CAS a fast free takes the per-P lock, so
		// it cannot race with the bulk allocation at all.
		t.Skip("no lockless fast path here: nothing can race")
	}
	keep := allocN(t, c, 4) // P 0 has a cpu slab with free objects
	x := keep[3]
	cc, _ := c.thisCPU()
	s := cc.slab.Load()
	var slabOff bool
	testHookCPUInstall = func() {
		testHookCPUInstall = nil
		slabOff = cc.slab.Load() == nil
		c.Free(x) // a racing fast free
	}
	objs := make([]unsafe.Pointer, 2)
	n := c.AllocBulk(objs)
	testHookCPUInstall = nil
	if n != 2 || !slabOff {
		t.Fatalf("AllocBulk: %d objects; cpu slab off the P while the rest went back: %v", n, slabOff)
	}
	if cc.slab.Load() != s {
		t.Fatal("the cpu slab did not come back to the P")
	}
	for o := loadCPUFreelist(cc); o != 0; o = c.getFP(o) {
		if o == uintptr(x) {
			t.Fatalf("%p, freed while the slab was off the P, is on the cpu freelist", x)
		}
	}
	if fl := s.freelist(); fl != uintptr(x) {
		t.Fatalf("slab freelist head %#x, want the freed %p", fl, x)
	}
	freeAll(c, keep[:3])
	freeAll(c, objs)
	mustFinish(t, c)
}

// The tid of P i starts at i and steps by a power of two at least the number
// of Ps, so tid % step names the P.
func TestCPUSlabTidPerP(t *testing.T) {
	withProcs(t, 4)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "tid", 64, cfg)
		a := c.cpus.Load()
		if a.tidStep&(a.tidStep-1) != 0 || a.tidStep < uint64(runtime.GOMAXPROCS(0)) {
			t.Fatalf("tid step %d: want a power of two >= %d", a.tidStep, runtime.GOMAXPROCS(0))
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < 200; r++ {
					p := c.Alloc()
					runtime.Gosched()
					c.Free(p)
				}
			}()
		}
		wg.Wait()
		a = c.cpus.Load()
		moved := 0
		for i, cc := range a.c {
			tid := loadTid(cc)
			if tid%a.tidStep != uint64(i) {
				t.Errorf("P%d: tid %d is not P%d's (step %d)", i, tid, i, a.tidStep)
			}
			if tid != uint64(i) {
				moved++
			}
		}
		if moved == 0 {
			t.Error("no tid advanced")
		}
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// A free of an object of another P's cpu slab goes to the slab's own
// freelist (the slab stays frozen: FREE_FROZEN); the owner takes it back
// when its cpu freelist runs out (ALLOC_REFILL), or deactivating the cpu
// slab splices both freelists (DEACTIVATE_REMOTE_FREES).
func TestCPUSlabRemoteFree(t *testing.T) {
	withProcs(t, 2)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "remote", 64, cfg)
		// Both goroutines spin instead of blocking on channels (a channel
		// hand-off tends to keep them on one P), so with two Ps they run on
		// different Ps. The freer frees what it finds in slot unless it
		// runs on the P whose cpu slab the object belongs to.
		const (
			sameP = iota + 1
			freedHere
			freedRemote
		)
		var slot atomic.Uintptr
		var result atomic.Int32
		var quit atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !quit.Load(); i++ {
				a := slot.Load()
				if a == 0 {
					if i%(1<<16) == 0 {
						runtime.Gosched()
					}
					continue
				}
				cc, _ := c.thisCPU()
				r := int32(sameP)
				if cc.slab.Load() != lookupSlab(a) {
					before := counter(c, FreeFrozen)
					c.Free(ptr(a))
					r = freedHere
					if counter(c, FreeFrozen) > before {
						r = freedRemote
					}
				}
				slot.Store(0)
				result.Store(r)
			}
		}()
		var keep []unsafe.Pointer
		remote := 0
		for try := 0; try < 200 && remote < 3; try++ {
			p := c.Alloc()
			keep = append(keep, c.Alloc()) // keeps the slab from going empty
			s := lookupSlab(uintptr(p))
			result.Store(0)
			slot.Store(uintptr(p))
			r := int32(0)
			for i := 0; r == 0; i++ {
				if i%(1<<16) == 0 {
					runtime.Gosched()
				}
				r = result.Load()
			}
			switch r {
			case freedRemote:
				remote++
				if !s.counters().frozen() {
					t.Fatal("slab of a remotely freed cpu-slab object is not frozen")
				}
				found := false
				for o := s.freelist(); o != 0; o = c.getFP(o) {
					if o == uintptr(p) {
						found = true
						break
					}
				}
				if !found {
					t.Fatalf("remotely freed %#x is not on its slab's freelist", uintptr(p))
				}
			case sameP:
				c.Free(p)
			}
		}
		quit.Store(true)
		wg.Wait()
		if remote == 0 {
			t.Skip("could not get a free to run on another P")
		}
		if n := counter(c, FreeFrozen); n < uint64(remote) {
			t.Errorf("FREE_FROZEN %d, want >= %d", n, remote)
		}
		// The owner P took the remote frees back (get_freelist:
		// ALLOC_REFILL) or Validate's flush splices them in
		// (DEACTIVATE_REMOTE_FREES).
		mustValidate(t, c)
		if counter(c, DeactivateRemoteFree)+counter(c, AllocRefill) == 0 {
			t.Error("neither ALLOC_REFILL nor DEACTIVATE_REMOTE_FREES counted")
		}
		if n := activeObjects(c); n != int64(len(keep)) {
			t.Errorf("ActiveObjects %d, want %d", n, len(keep))
		}
		freeAll(c, keep)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

// Frees into full slabs put them on the cpu partial list (CPU_PARTIAL_FREE);
// when it holds cpu_partial_slabs it drains to the node (CPU_PARTIAL_DRAIN).
// Allocation then uses the cpu partial slabs (CPU_PARTIAL_ALLOC) and node
// partial slabs (ALLOC_FROM_PARTIAL, CPU_PARTIAL_NODE).
func TestCPUSlabCPUPartial(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "cpupartial", 256, cfg)
		per := c.objsPerSlab
		nslabs := 2*c.cpuPartialSlabs + 3
		objs := allocN(t, c, nslabs*per)
		if n := counter(c, DeactivateBypass); n < uint64(nslabs-1) {
			t.Fatalf("DEACTIVATE_BYPASS %d, want >= %d", n, nslabs-1)
		}
		bySlab := map[*slab][]unsafe.Pointer{}
		var order []*slab
		for _, p := range objs {
			s := lookupSlab(uintptr(p))
			if bySlab[s] == nil {
				order = append(order, s)
			}
			bySlab[s] = append(bySlab[s], p)
		}
		if len(order) != nslabs {
			t.Fatalf("%d slabs, want %d", len(order), nslabs)
		}
		cc, _ := c.thisCPU()
		cur := cc.slab.Load()
		// One free into each full slab.
		frees := 0
		for _, s := range order {
			if s == cur {
				continue
			}
			p := bySlab[s][0]
			bySlab[s] = bySlab[s][1:]
			c.Free(p)
			frees++
		}
		if n := counter(c, CPUPartialFree); n != uint64(frees) {
			t.Errorf("CPU_PARTIAL_FREE %d, want %d", n, frees)
		}
		if n := counter(c, CPUPartialDrain); n == 0 {
			t.Errorf("CPU_PARTIAL_DRAIN not counted after %d frees into full slabs (cpu_partial_slabs %d)", frees, c.cpuPartialSlabs)
		}
		if cc.partial == nil || cc.partial.cpuSlabs > c.cpuPartialSlabs {
			t.Errorf("cpu partial list: %v", cc.partial)
		}
		mustValidate(t, c)
		// Validate flushed the cpu partial list to the node; allocation
		// takes a node partial slab as cpu slab and more for cpu partial.
		again := allocN(t, c, 2*frees)
		if counter(c, AllocFromPartial) == 0 {
			t.Error("ALLOC_FROM_PARTIAL not counted")
		}
		if counter(c, CPUPartialNode) == 0 {
			t.Error("CPU_PARTIAL_NODE not counted")
		}
		if counter(c, CPUPartialAlloc) == 0 {
			t.Error("CPU_PARTIAL_ALLOC not counted")
		}
		freeAll(c, again)
		for _, s := range order {
			freeAll(c, bySlab[s])
		}
		mustValidate(t, c)
		c.Shrink()
		if st := c.Stats(); st.Slabs != 0 || st.ActiveObjects != 0 {
			t.Errorf("after free-all and Shrink: %d slabs, %d active", st.Slabs, st.ActiveObjects)
		}
		mustDestroy(t, c)
	})
}

// Shrink deactivates every P's cpu slab (CPUSLAB_FLUSH) and leaves no cpu
// slab or cpu partial list behind.
func TestCPUSlabDeactivateOnShrink(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "deactivate", 128, cfg)
		objs := allocN(t, c, 10)
		c.Free(objs[9]) // back onto the cpu freelist
		objs = objs[:9]
		c.Shrink()
		if counter(c, CPUSlabFlush) == 0 {
			t.Error("CPUSLAB_FLUSH not counted")
		}
		if counter(c, DeactivateToHead)+counter(c, DeactivateToTail) == 0 {
			t.Error("the partly used cpu slab did not go to the partial list")
		}
		for i, cc := range c.cpus.Load().c {
			if cc.slab.Load() != nil || loadCPUFreelist(cc) != 0 || cc.partial != nil {
				t.Errorf("P%d keeps a cpu slab or cpu partial list after Shrink", i)
			}
		}
		st := c.Stats()
		if st.Slabs != 1 || st.PartialSlabs != 1 || st.ActiveObjects != 9 {
			t.Errorf("after Shrink: %d slabs, %d partial, %d active; want 1, 1, 9", st.Slabs, st.PartialSlabs, st.ActiveObjects)
		}
		mustValidate(t, c)
		freeAll(c, objs)
		c.Shrink()
		if st := c.Stats(); st.Slabs != 0 {
			t.Errorf("%d slabs after freeing everything and Shrink", st.Slabs)
		}
		mustDestroy(t, c)
	})
}

// Objects on the cpu freelists are cached, not active: ActiveObjects counts
// what callers hold.
func TestCPUSlabStatsCached(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "cpucached", 64, cfg)
		objs := allocN(t, c, 5)
		st := c.Stats()
		if st.ActiveObjects != 5 {
			t.Errorf("ActiveObjects %d, want 5", st.ActiveObjects)
		}
		if want := int64(c.objsPerSlab - 5); st.CachedObjects != want {
			t.Errorf("CachedObjects %d, want %d", st.CachedObjects, want)
		}
		freeAll(c, objs)
		if n := activeObjects(c); n != 0 {
			t.Errorf("ActiveObjects %d after freeing everything", n)
		}
		mustDestroy(t, c)
	})
}

// Validate may run while other goroutines allocate: it must not find a cpu
// slab that an allocation installed after its flush.
func TestCPUSlabValidateWhileAllocating(t *testing.T) {
	withProcs(t, 4)
	eachDesign(t, cpuSlabDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "validate-busy", 64, cfg)
		var stop atomic.Bool
		var wg sync.WaitGroup
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var held []unsafe.Pointer
				for i := 0; !stop.Load(); i++ {
					held = append(held, c.Alloc())
					if len(held) == 50 {
						freeAll(c, held)
						held = held[:0]
					}
				}
				freeAll(c, held)
			}()
		}
		for i := 0; i < 200; i++ {
			if err := c.Validate(); err != nil {
				t.Error(err)
				break
			}
		}
		stop.Store(true)
		wg.Wait()
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}
