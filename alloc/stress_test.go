package alloc

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// The stress test is a correctness test, not a benchmark: many goroutines
// allocate and free through every API at once, handing objects to each
// other, while others validate and shrink, and a shadow record checks that
// no object is ever handed out twice and that nobody else writes into an
// object while it is held. Run it longer with -slub.soak=1m.
var soak = flag.Duration("slub.soak", 0, "run TestStress this long per variant (0: a few seconds in all)")

func stressDuration() time.Duration {
	switch {
	case *soak > 0:
		return *soak
	case testing.Short():
		return 150 * time.Millisecond
	case raceEnabled:
		return 300 * time.Millisecond
	}
	return 700 * time.Millisecond
}

// held is one live object in the shadow record.
type held struct {
	p     unsafe.Pointer
	owner int // index into stressRig.caches; -1 for the heap
	size  int // bytes stamped (the object size, or the heap size asked for)
	tag   byte
}

// stamp writes a pattern that depends only on the tag (heap objects move
// under Realloc); verify checks it.
func stamp(p unsafe.Pointer, n int, tag byte) {
	b := unsafe.Slice((*byte)(p), n)
	for i := range b {
		b[i] = tag ^ byte(i*7)
	}
}

func verify(p unsafe.Pointer, n int, tag byte) error {
	b := unsafe.Slice((*byte)(p), n)
	for i := range b {
		if b[i] != tag^byte(i*7) {
			return fmt.Errorf("object %#x (%d bytes, tag %#x): byte %d is %#x, want %#x: written by someone else",
				uintptr(p), n, tag, i, b[i], tag^byte(i*7))
		}
	}
	return nil
}

const shadowShards = 64

// shadow records every live object by address, in shards to keep the test's
// own locking out of the way.
type shadow struct {
	shards [shadowShards]struct {
		sync.Mutex
		m map[uintptr]bool
		_ [40]byte
	}
	failures atomic.Int64
	first    atomic.Pointer[string]
}

func newShadow() *shadow {
	s := new(shadow)
	for i := range s.shards {
		s.shards[i].m = make(map[uintptr]bool)
	}
	return s
}

func (s *shadow) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.first.CompareAndSwap(nil, &msg)
	s.failures.Add(1)
}

func (s *shadow) shard(a uintptr) int { return int((a >> 3) % shadowShards) }

// add records a newly allocated object; an address already live is the bug
// this test exists to catch.
func (s *shadow) add(p unsafe.Pointer, who string) {
	a := uintptr(p)
	sh := &s.shards[s.shard(a)]
	sh.Lock()
	dup := sh.m[a]
	sh.m[a] = true
	sh.Unlock()
	if dup {
		s.fail("%s handed out %#x while it was live", who, a)
	}
}

func (s *shadow) remove(p unsafe.Pointer) {
	a := uintptr(p)
	sh := &s.shards[s.shard(a)]
	sh.Lock()
	ok := sh.m[a]
	delete(sh.m, a)
	sh.Unlock()
	if !ok {
		s.fail("freeing %#x, which is not live", a)
	}
}

func (s *shadow) live() int {
	n := 0
	for i := range s.shards {
		s.shards[i].Lock()
		n += len(s.shards[i].m)
		s.shards[i].Unlock()
	}
	return n
}

type stressRig struct {
	caches []*Cache
	heap   *Heap
	rec    *shadow
	inbox  []chan held
}

// got takes a new object into the record and stamps it.
func (r *stressRig) got(h held, who string) held {
	r.rec.add(h.p, who)
	stamp(h.p, h.size, h.tag)
	return h
}

// release checks an object and takes it out of the record; the caller then
// frees it.
func (r *stressRig) release(h held) {
	if err := verify(h.p, h.size, h.tag); err != nil {
		r.rec.fail("%v", err)
	}
	r.rec.remove(h.p)
}

func (r *stressRig) free(h held, rnd *rand.Rand) {
	r.release(h)
	switch {
	case h.owner < 0 && rnd.IntN(4) == 0 && lookupSlab(uintptr(h.p)).cache != nil:
		r.heap.FreeNoLock(h.p) // not for large runs, which MallocNoLock never returns
	case h.owner < 0:
		r.heap.Free(h.p)
	case rnd.IntN(4) == 0:
		r.caches[h.owner].FreeNoLock(h.p)
	default:
		r.caches[h.owner].Free(h.p)
	}
}

func (r *stressRig) worker(id int, seed uint64, stop *atomic.Bool) {
	rnd := rand.New(rand.NewPCG(seed, uint64(id)))
	var mine []held
	batch := make([]unsafe.Pointer, 48)
	take := func(h held) { mine = append(mine, h) }
	pick := func() (held, bool) {
		if len(mine) == 0 {
			return held{}, false
		}
		i := rnd.IntN(len(mine))
		h := mine[i]
		mine[i] = mine[len(mine)-1]
		mine = mine[:len(mine)-1]
		return h, true
	}
	for n := 0; !stop.Load(); n++ {
		// Objects other goroutines handed over.
		for k := 0; k < 4; k++ {
			select {
			case h := <-r.inbox[id]:
				if rnd.IntN(3) == 0 {
					take(h)
				} else {
					r.free(h, rnd)
				}
				continue
			default:
			}
			break
		}
		ci := rnd.IntN(len(r.caches))
		c := r.caches[ci]
		size := c.ObjectSize()
		tag := byte(rnd.Uint32())
		switch op := rnd.IntN(100); {
		case op < 30:
			if p := c.Alloc(); p != nil {
				take(r.got(held{p, ci, size, tag}, c.Name()+".Alloc"))
			}
		case op < 36:
			if p := c.AllocNoLock(); p != nil {
				take(r.got(held{p, ci, size, tag}, c.Name()+".AllocNoLock"))
			}
		case op < 62:
			if h, ok := pick(); ok {
				r.free(h, rnd)
			}
		case op < 70:
			// Hand an object to another goroutine, which frees it or keeps it.
			if h, ok := pick(); ok {
				select {
				case r.inbox[rnd.IntN(len(r.inbox))] <- h:
				default:
					r.free(h, rnd)
				}
			}
		case op < 76:
			k := 1 + rnd.IntN(len(batch))
			if c.AllocBulk(batch[:k]) == k {
				for i, p := range batch[:k] {
					take(r.got(held{p, ci, size, tag + byte(i)}, c.Name()+".AllocBulk"))
				}
			}
		case op < 82:
			// Bulk-free a run of this goroutine's objects of one cache.
			k := 0
			for i := 0; i < len(mine) && k < len(batch); {
				if mine[i].owner == ci {
					r.release(mine[i])
					batch[k] = mine[i].p
					k++
					mine[i] = mine[len(mine)-1]
					mine = mine[:len(mine)-1]
					continue
				}
				i++
			}
			c.FreeBulk(batch[:k])
		case op < 86:
			sh, err := c.PrefillSheaf(1 + rnd.IntN(80))
			if err != nil {
				break
			}
			for k := rnd.IntN(sh.Len() + 1); k > 0; k-- {
				p := sh.Alloc()
				if p == nil {
					r.rec.fail("Sheaf.Alloc returned nil with objects left")
					break
				}
				take(r.got(held{p, ci, size, tag + byte(k)}, c.Name()+".Sheaf.Alloc"))
			}
			if rnd.IntN(3) == 0 {
				if err := c.RefillSheaf(sh, sh.Capacity()); err == nil && sh.Len() < sh.Capacity() {
					r.rec.fail("RefillSheaf left %d of %d", sh.Len(), sh.Capacity())
				}
			}
			c.ReturnSheaf(sh)
		case op < 94:
			n := 1 + rnd.IntN(2000)
			if rnd.IntN(10) == 0 {
				n = KmallocMaxCacheSize + rnd.IntN(3*pageSize)
			}
			var p unsafe.Pointer
			if rnd.IntN(4) == 0 && n <= KmallocMaxCacheSize {
				p = r.heap.MallocNoLock(n)
			} else {
				p = r.heap.Malloc(n)
			}
			if p != nil {
				take(r.got(held{p, -1, n, tag}, "Heap.Malloc"))
			}
		default:
			// Realloc a heap object: the contents move with it.
			for i, h := range mine {
				if h.owner >= 0 {
					continue
				}
				if err := verify(h.p, h.size, h.tag); err != nil {
					r.rec.fail("before Realloc: %v", err)
				}
				n := 1 + rnd.IntN(3*h.size+16)
				r.rec.remove(h.p)
				q := r.heap.Realloc(h.p, n)
				if q == nil {
					r.rec.add(h.p, "failed Realloc")
					break
				}
				r.rec.add(q, "Heap.Realloc")
				if err := verify(q, min(n, h.size), h.tag); err != nil {
					r.rec.fail("after Realloc %d -> %d: %v", h.size, n, err)
				}
				stamp(q, n, h.tag)
				mine[i] = held{q, -1, n, h.tag}
				break
			}
		}
		if len(mine) > 400 {
			for len(mine) > 100 {
				h, _ := pick()
				r.free(h, rnd)
			}
		}
	}
	for _, h := range mine {
		r.free(h, rnd)
	}
}

func TestStress(t *testing.T) {
	withProcs(t, 4)
	eachVariant(t, func(t *testing.T, cfg Config) {
		defer watchdog(t, stressDuration()+2*time.Minute)()
		r := &stressRig{rec: newShadow()}
		for _, size := range []int{24, 200, 1500} {
			r.caches = append(r.caches, mustCache(t, fmt.Sprintf("stress-%d", size), size, cfg))
		}
		r.heap = mustHeap(t, cfg)
		const workers = 8
		r.inbox = make([]chan held, workers)
		for i := range r.inbox {
			r.inbox[i] = make(chan held, 64)
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.worker(i, seed, &stop)
			}()
		}
		// Validate, Stats, WriteSlabInfo and Shrink while they run.
		var checks atomic.Int64
		var cwg sync.WaitGroup
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for i := 0; !stop.Load(); i++ {
				c := r.caches[i%len(r.caches)]
				switch i % 4 {
				case 0, 2:
					if err := c.Validate(); err != nil {
						r.rec.fail("concurrent Validate: %v", err)
					}
				case 1:
					if err := WriteSlabInfo(io.Discard, r.caches...); err != nil {
						r.rec.fail("WriteSlabInfo: %v", err)
					}
					if st := c.Stats(); st.ActiveObjects < 0 || st.Objects < st.ActiveObjects {
						r.rec.fail("Stats: %d active of %d", st.ActiveObjects, st.Objects)
					}
				case 3:
					if i%12 == 3 {
						r.heap.Shrink()
					} else {
						c.Shrink()
					}
				}
				checks.Add(1)
				time.Sleep(200 * time.Microsecond)
			}
		}()
		time.Sleep(stressDuration())
		stop.Store(true)
		wg.Wait()
		cwg.Wait()
		// Objects still in inboxes.
		rnd := rand.New(rand.NewPCG(seed, 99))
		for _, in := range r.inbox {
			for len(in) > 0 {
				r.free(<-in, rnd)
			}
		}
		if n := r.rec.failures.Load(); n > 0 {
			t.Fatalf("%d failures; the first: %s", n, *r.rec.first.Load())
		}
		if n := r.rec.live(); n != 0 {
			t.Errorf("%d objects still on record", n)
		}
		if checks.Load() == 0 {
			t.Error("no concurrent checks ran")
		}
		for _, c := range r.caches {
			mustValidate(t, c)
			st := c.Stats()
			if st.ActiveObjects != 0 {
				t.Errorf("%s: ActiveObjects %d after freeing everything", c.Name(), st.ActiveObjects)
			}
			c.Shrink()
			if st := c.Stats(); st.Slabs != 0 {
				t.Errorf("%s: %d slabs after freeing everything and Shrink", c.Name(), st.Slabs)
				for s := c.node.all; s != nil; s = s.allNext {
					cnt := s.counters()
					t.Logf("left: slab %#x inuse %d objects %d frozen %v onPartial %v onCPUPartial %v fl %#x nrPartial %d minPartial %d", s.base, cnt.inuse(), cnt.objects(), cnt.frozen(), s.onPartial, s.onCPUPartial, s.freelist(), c.node.nrPartial, c.node.minPartial)
				}
				for i, cc := range c.cpus.Load().c {
					t.Logf("left: P%d slab %p partial %p", i, cc.slab.Load(), cc.partial)
				}
			}
			mustDestroy(t, c)
		}
		mustDestroyHeap(t, r.heap)
	})
}
