package alloc

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

func TestEventKindNames(t *testing.T) {
	want := map[EventKind]string{
		EventNewSlab: "new_slab", EventSlabFree: "slab_free", EventSheafRefill: "sheaf_refill",
		EventSheafFlush: "sheaf_flush", EventBarnGet: "barn_get", EventBarnPut: "barn_put",
		EventDeactivate: "cpu_slab_deactivate", EventDeferredDrain: "deferred_drain",
		EventRCUQueue: "rcu_queue", EventRCUDone: "rcu_done",
		EventKind(-1): "unknown", EventKind(99): "unknown",
	}
	for k, name := range want {
		if k.String() != name {
			t.Errorf("EventKind(%d) = %q, want %q", int(k), k.String(), name)
		}
	}
}

// Each trace point fires, with the cache, the slab address for slab events
// and the object count for sheaf and drain events. Hooks may yield: they
// never run inside a pinned section (where that would crash the runtime).
func TestTraceEvents(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		defer watchdog(t, 30*time.Second)()
		var events []Event
		var c *Cache
		cfg.Trace = func(e Event) {
			runtime.Gosched()
			if e.Cache != c {
				t.Errorf("%v event for cache %p, want %p", e.Kind, e.Cache, c)
			}
			switch e.Kind {
			case EventNewSlab, EventSlabFree, EventDeactivate:
				if e.Slab == 0 || e.Slab%pageSize != 0 {
					t.Errorf("%v event with slab address %#x", e.Kind, e.Slab)
				}
			case EventSheafRefill, EventSheafFlush, EventBarnGet, EventBarnPut, EventDeferredDrain:
				if e.Objects <= 0 {
					t.Errorf("%v event with %d objects", e.Kind, e.Objects)
				}
			}
			events = append(events, e)
		}
		c = mustCache(t, "traced", 64, cfg)
		objs := allocN(t, c, 15*c.objsPerSlab)
		if slices.Contains(sheafDesigns, cfg.Design) {
			freeAll(c, objs)
			objs = allocN(t, c, 12*c.sheafCapacity) // barn gets
		} else {
			// Frees into full slabs and past the cpu partial list.
			for i := 0; i < len(objs); i += c.objsPerSlab {
				c.Free(objs[i])
				objs[i] = nil
			}
		}
		// A deferred free: an object of a full slab with list_lock busy
		// (Sheaves), or of a slab other than the cpu slab (CPUSlab).
		victim := -1
		cc := c.cpus.Load()
		for i, o := range objs {
			if o == nil {
				continue
			}
			s := lookupSlab(uintptr(o))
			if slices.Contains(sheafDesigns, cfg.Design) && s.freelist() == 0 || slices.Contains(cpuSlabDesigns, cfg.Design) && cc.c[0].slab.Load() != s {
				victim = i
				break
			}
		}
		if victim < 0 {
			t.Fatal("no object to defer")
		}
		release := holdPerP(c)
		c.node.listLock.Lock()
		c.FreeNoLock(objs[victim])
		c.node.listLock.Unlock()
		release()
		objs[victim] = nil
		for _, o := range objs {
			c.Free(o)
		}
		c.Shrink()
		seen := map[EventKind]int{}
		for _, e := range events {
			seen[e.Kind]++
		}
		want := []EventKind{EventNewSlab, EventSlabFree, EventDeferredDrain}
		if slices.Contains(sheafDesigns, cfg.Design) {
			// Barn trades made inside the pinned fast paths are counted but
			// not traced; those of the slow paths are both.
			want = append(want, EventSheafRefill, EventSheafFlush, EventBarnPut)
			if get, put := c.Stats().Counters[BarnGet], c.Stats().Counters[BarnPut]; uint64(seen[EventBarnGet]) > get || uint64(seen[EventBarnPut]) > put {
				t.Errorf("%d barn_get and %d barn_put events for BARN_GET %d and BARN_PUT %d", seen[EventBarnGet], seen[EventBarnPut], get, put)
			}
		} else {
			want = append(want, EventDeactivate)
		}
		for _, k := range want {
			if seen[k] == 0 {
				t.Errorf("no %v event (saw %v)", k, seen)
			}
		}
		st := c.Stats()
		if seen[EventNewSlab] != int(st.Counters[AllocSlab]) || seen[EventSlabFree] != int(st.Counters[FreeSlab]) {
			t.Errorf("%d new_slab and %d slab_free events for ALLOC_SLAB %d and FREE_SLAB %d",
				seen[EventNewSlab], seen[EventSlabFree], st.Counters[AllocSlab], st.Counters[FreeSlab])
		}
		mustDestroy(t, c)
	})
}

// nolockRecord is the shadow record of the hook test: every live object,
// whoever allocated it.
type nolockRecord struct {
	live           sync.Map // address -> owner *Cache (nil for the heap)
	allocs, frees  atomic.Int64
	events         [len(eventNames)]atomic.Int64
	twice, unknown atomic.Int64
}

func (r *nolockRecord) got(p unsafe.Pointer, owner *Cache) bool {
	if p == nil {
		return false
	}
	if _, dup := r.live.LoadOrStore(uintptr(p), owner); dup {
		r.twice.Add(1)
		return false
	}
	return true
}

func (r *nolockRecord) put(p unsafe.Pointer) {
	if _, ok := r.live.LoadAndDelete(uintptr(p)); !ok {
		r.unknown.Add(1)
	}
}

// Trace hooks that call AllocNoLock and FreeNoLock of the same and other
// caches (and the heap's MallocNoLock) on every event, while goroutines
// hammer Alloc, Free, bulk and prefill on caches of both designs and others
// shrink and validate: nothing deadlocks (a watchdog fails the test with a
// goroutine dump instead), Validate stays clean, and every object a no-lock
// call handed out is freed exactly once.
func TestTraceHooksNoLock(t *testing.T) {
	withProcs(t, 4)
	defer watchdog(t, 90*time.Second)()
	var rec nolockRecord
	var caches []*Cache
	var heap *Heap
	pending := make(chan unsafe.Pointer, 4096) // no-lock objects to free in a later event
	var hookCalls atomic.Int64
	var hooksOff atomic.Bool
	hook := func(e Event) {
		rec.events[e.Kind].Add(1)
		if hooksOff.Load() {
			return
		}
		n := hookCalls.Add(1)
		for i := 0; i < 2; i++ {
			select {
			case p := <-pending:
				rec.put(p)
				rec.frees.Add(1)
				if owner := lookupSlab(uintptr(p)).cache; owner.heap != nil {
					heap.FreeNoLock(p)
				} else {
					owner.FreeNoLock(p)
				}
			default:
			}
		}
		other := caches[int(n)%len(caches)]
		for k, c := range []*Cache{e.Cache, other, nil} {
			var p unsafe.Pointer
			if c == nil {
				if heap == nil {
					continue
				}
				p = heap.MallocNoLock(1 + int(n%300))
			} else {
				p = c.AllocNoLock()
			}
			if !rec.got(p, c) {
				continue
			}
			rec.allocs.Add(1)
			if (int(n)+k)%2 == 0 {
				select {
				case pending <- p:
					continue
				default:
				}
			}
			rec.put(p)
			rec.frees.Add(1)
			if c == nil {
				heap.FreeNoLock(p)
			} else {
				c.FreeNoLock(p)
			}
		}
	}
	for i, v := range variants() {
		cfg := v.cfg
		cfg.Trace = hook
		caches = append(caches, mustCache(t, "hooked-"+v.name, 32+48*i, cfg))
	}
	hcfg := Config{Design: CPUSlab, Trace: hook}
	h := mustHeap(t, hcfg)
	heap = h

	dur := 1500 * time.Millisecond
	if testing.Short() || raceEnabled {
		dur = 500 * time.Millisecond
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var errs atomic.Int64
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			var held []unsafe.Pointer
			var owners []*Cache
			batch := make([]unsafe.Pointer, 40)
			for !stop.Load() {
				c := caches[r.IntN(len(caches))]
				switch op := r.IntN(10); {
				case op < 5:
					p := c.Alloc()
					if rec.got(p, c) {
						held = append(held, p)
						owners = append(owners, c)
					}
				case op < 7 && len(held) > 0:
					i := r.IntN(len(held))
					rec.put(held[i])
					owners[i].Free(held[i])
					held[i], owners[i] = held[len(held)-1], owners[len(owners)-1]
					held, owners = held[:len(held)-1], owners[:len(owners)-1]
				case op == 7:
					n := 1 + r.IntN(len(batch))
					if c.AllocBulk(batch[:n]) == n {
						for _, p := range batch[:n] {
							if !rec.got(p, c) {
								errs.Add(1)
							}
						}
						for _, p := range batch[:n] {
							rec.put(p)
						}
						c.FreeBulk(batch[:n])
					}
				case op == 8:
					if sh, err := c.PrefillSheaf(1 + r.IntN(20)); err == nil {
						for k := r.IntN(sh.Len() + 1); k > 0; k-- {
							p := sh.Alloc()
							if rec.got(p, c) {
								held = append(held, p)
								owners = append(owners, c)
							}
						}
						c.ReturnSheaf(sh)
					}
				default:
					p := h.Malloc(1 + r.IntN(9000))
					if p != nil {
						rec.got(p, nil)
						rec.put(p)
						h.Free(p)
					}
				}
				if len(held) > 500 {
					for i, p := range held {
						rec.put(p)
						owners[i].Free(p)
					}
					held, owners = held[:0], owners[:0]
				}
			}
			for i, p := range held {
				rec.put(p)
				owners[i].Free(p)
			}
		}(uint64(g))
	}
	// Flushes and checks run concurrently, firing events with locks held.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			c := caches[i%len(caches)]
			if i%2 == 0 {
				c.Shrink()
			} else if err := c.Validate(); err != nil {
				t.Error(err)
			}
			if i%5 == 0 {
				h.Shrink()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(dur)
	stop.Store(true)
	wg.Wait()
	// Hooks that allocate would keep objects live through Destroy.
	hooksOff.Store(true)
	for _, c := range caches {
		mustValidate(t, c)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	for len(pending) > 0 {
		p := <-pending
		rec.put(p)
		rec.frees.Add(1)
		if owner := lookupSlab(uintptr(p)).cache; owner.heap != nil {
			h.FreeNoLock(p)
		} else {
			owner.FreeNoLock(p)
		}
	}
	if n := rec.twice.Load(); n != 0 {
		t.Errorf("%d objects handed out while live", n)
	}
	if n := rec.unknown.Load() + errs.Load(); n != 0 {
		t.Errorf("%d frees of objects not on record", n)
	}
	if a, f := rec.allocs.Load(), rec.frees.Load(); a != f || a == 0 {
		t.Errorf("%d no-lock allocations by hooks, %d no-lock frees", a, f)
	}
	left := 0
	rec.live.Range(func(k, v any) bool { left++; return true })
	if left != 0 {
		t.Errorf("%d objects still on record", left)
	}
	for k := range rec.events {
		t.Logf("%v: %d events", EventKind(k), rec.events[k].Load())
	}
	for _, k := range []EventKind{EventNewSlab, EventSlabFree, EventSheafRefill, EventSheafFlush, EventDeactivate} {
		if rec.events[k].Load() == 0 {
			t.Errorf("no %v event", k)
		}
	}
	for _, c := range caches {
		mustValidate(t, c)
		if n := activeObjects(c); n != 0 {
			t.Errorf("%s: ActiveObjects %d at the end", c.Name(), n)
		}
		mustDestroy(t, c)
	}
	mustDestroyHeap(t, h)
}
