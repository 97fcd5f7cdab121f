package alloc

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// Trace hooks that use the no-lock API while Shrink, Validate and Destroy
// run (the case DESIGN allows: a hook may call AllocNoLock and FreeNoLock
// of its own cache): the three still give the right answer. Objects a
// hook frees at once are free, so Destroy succeeds and frees everything;
// objects it keeps are allocated, and Destroy names exactly those.

// hookPlan is what a test hook does at each event.
type hookPlan struct {
	name string
	// keep is how many objects the hook holds at most; swap frees the
	// object it holds before taking another (an object that crosses
	// events).
	keep int
	swap bool
}

var hookPlans = []hookPlan{
	{name: "alloc-free"},                // if p := AllocNoLock(); p != nil { FreeNoLock(p) }
	{name: "swap", keep: 1, swap: true}, // free what the last event took, take one
	{name: "keep", keep: 5},             // take up to five and keep them
}

type testHook struct {
	plan  hookPlan
	c     *Cache
	held  []unsafe.Pointer
	calls int
	depth int
	off   bool
}

func (h *testHook) run(e Event) {
	if h.off || h.depth > 2 {
		return
	}
	h.depth++
	defer func() { h.depth-- }()
	h.calls++
	if h.plan.swap && len(h.held) > 0 {
		p := h.held[len(h.held)-1]
		h.held = h.held[:len(h.held)-1]
		h.c.FreeNoLock(p)
	}
	p := h.c.AllocNoLock()
	switch {
	case p == nil:
	case len(h.held) < h.plan.keep:
		if slices.Contains(h.held, p) {
			panic(fmt.Sprintf("AllocNoLock handed out %#x, which the hook holds", uintptr(p)))
		}
		h.held = append(h.held, p)
	default:
		h.c.FreeNoLock(p)
	}
}

func TestHooksDuringMaintenance(t *testing.T) {
	withProcs(t, 1) // the case: one goroutine, one P
	eachVariantAndDebug(t, func(t *testing.T, cfg Config) {
		for _, plan := range hookPlans {
			t.Run(plan.name, func(t *testing.T) {
				h := &testHook{plan: plan}
				cfg.Trace = h.run
				c := mustCache(t, "hooked", 64, cfg)
				h.c = c
				objs := allocN(t, c, 600)
				if plan.keep == 0 && h.calls == 0 {
					t.Fatal("the hook never ran")
				}
				freeAll(c, objs)
				for round := 0; round < 2; round++ {
					if err := c.Validate(); err != nil {
						t.Fatalf("Validate: %v", err)
					}
					if got := activeObjects(c); got != int64(len(h.held)) {
						t.Fatalf("after Validate: ActiveObjects %d, the hook holds %d", got, len(h.held))
					}
					c.Shrink()
					st := c.Stats()
					if st.ActiveObjects != int64(len(h.held)) {
						t.Fatalf("after Shrink: ActiveObjects %d, the hook holds %d", st.ActiveObjects, len(h.held))
					}
					if st.CachedObjects != 0 {
						t.Errorf("after Shrink: %d objects cached per P", st.CachedObjects)
					}
				}
				err := c.Destroy()
				if len(h.held) > 0 {
					if err == nil {
						t.Fatalf("Destroy succeeded while the hook holds %d objects", len(h.held))
					}
					wantContains(t, err.Error(), fmt.Sprintf("%d objects still allocated", len(h.held)))
					for _, p := range h.held {
						wantContains(t, err.Error(), hexAddr(p))
					}
					if n := strings.Count(err.Error(), " 0x"); n != len(h.held) {
						t.Errorf("Destroy names %d objects, the hook holds %d: %v", n, len(h.held), err)
					}
					h.off = true
					freeAll(c, h.held)
					h.held = nil
					err = c.Destroy()
				}
				if err != nil {
					t.Fatalf("Destroy: %v", err)
				}
			})
		}
	})
}

// lockFree checks that no lock of c is left held: Stats, Validate and an
// Alloc/Free finish (a watchdog fails the test binary if they hang).
func lockFree(t *testing.T, c *Cache) {
	t.Helper()
	defer watchdog(t, 20*time.Second)()
	c.Stats()
	c.Validate()
	c.Free(c.Alloc())
}

// An inconsistent cache makes Validate return an error, never panic, and
// hold no lock afterwards; Shrink, which cannot flush it, panics before
// changing anything and holds no lock either. Here a write after free
// over the free pointer of an object on a cpu freelist, and over a
// deferred object's.
func TestValidateCorrupt(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		if cfg.Design == Sheaves {
			t.Skip("no cpu freelist")
		}
		c := mustCache(t, "corrupt", 64, cfg)
		objs := allocN(t, c, 3)
		if cfg.Design == Hybrid {
			// The sheaf refills took whole cpu freelists: free a few to
			// the cpu slab layer below the sheaves.
			freeAll(c, objs)
			c.Shrink()
			objs = nil
			for cpuCached(c) == 0 {
				objs = append(objs, allocN(t, c, 1)...)
				c.flushMu.Lock()
				unlock := sheavesPercpu{}.lock(c, false)
				c.Free(objs[len(objs)-1])
				unlock()
				c.flushMu.Unlock()
				objs = objs[:len(objs)-1]
			}
		}
		cc := c.cpus.Load().c[0]
		head := uintptr(cc.pair().Lo)
		if head == 0 || c.getFP(head) == 0 {
			t.Fatalf("cpu freelist too short to corrupt: head %#x", head)
		}
		word := (*uintptr)(ptr(head + c.fpOffset))
		saved := *word
		*word ^= 0x5a5a5a50 // a write after free
		err := c.Validate()
		if err == nil {
			t.Fatal("Validate of a corrupt cpu freelist returned nil")
		}
		wantContains(t, err.Error(), "corrupt", "cpu freelist", "written after free")
		msg := mustPanic(t, func() { c.Shrink() })
		wantContains(t, msg, "corrupt", "cpu freelist")
		func() {
			defer watchdog(t, 20*time.Second)()
			c.Stats()
			if c.Validate() == nil {
				t.Error("Validate after the failed Shrink returned nil")
			}
		}()
		*word = saved
		lockFree(t, c)
		mustValidate(t, c)
		freeAll(c, objs)
		mustFinish(t, c)
	})
}

func TestValidateCorruptDeferred(t *testing.T) {
	withProcs(t, 1)
	eachVariantAndDebug(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "corrupt-deferred", 64, cfg)
		objs := allocN(t, c, 2*c.objsPerSlab)
		func() {
			release := c.quiesce(false)
			defer release()
			c.FreeNoLock(objs[0])
			c.FreeNoLock(objs[1])
		}()
		if c.deferred.n.Load() != 2 {
			t.Fatalf("%d deferred", c.deferred.n.Load())
		}
		// objs[1] is the head; its free pointer leads to objs[0].
		*(*uintptr)(ptr(uintptr(objs[1]) + c.fpOffset)) ^= 0x5a5a5a50
		err := c.Validate()
		if err == nil {
			t.Fatal("Validate of a corrupt deferred list returned nil")
		}
		wantContains(t, err.Error(), "deferred list corrupt")
		lockFree(t, c)
	})
}

// A trace hook that panics at an event that runs without list_lock
// (sheaf_flush, deferred_drain) during Shrink, Validate or Destroy: the
// panic reaches the caller, and the cache is left consistent, losing
// nothing, with no lock held.
func TestHookPanicDuringMaintenance(t *testing.T) {
	withProcs(t, 1)
	eachVariantAndDebug(t, func(t *testing.T, cfg Config) {
		for _, op := range []string{"Shrink", "Validate", "Destroy"} {
			var armed bool
			cfg.Trace = func(e Event) {
				if armed && (e.Kind == EventSheafFlush || e.Kind == EventDeferredDrain) {
					armed = false
					panic("hook panic")
				}
			}
			c := mustCache(t, "hook-panics", 64, cfg)
			objs := allocN(t, c, 300)
			keep := objs[:10]
			freeAll(c, objs[10:])
			func() { // something to drain
				release := c.quiesce(false)
				defer release()
				c.FreeNoLock(keep[0])
			}()
			keep = keep[1:]
			armed = true
			var r any
			func() {
				defer func() { r = recover() }()
				switch op {
				case "Shrink":
					c.Shrink()
				case "Validate":
					c.Validate()
				case "Destroy":
					c.Destroy()
				}
			}()
			if r != "hook panic" {
				t.Fatalf("%s: panic %v, want the hook's", op, r)
			}
			armed = false
			lockFree(t, c)
			mustValidate(t, c)
			if got := activeObjects(c); got != int64(len(keep)) {
				t.Errorf("%s: ActiveObjects %d after the hook's panic, want %d", op, got, len(keep))
			}
			freeAll(c, keep)
			mustFinish(t, c)
		}
	})
}

// A trace hook that panics at the slab events (new_slab, slab_free,
// cpu_slab_deactivate), in whatever call fires them: the panic reaches the
// caller, no lock stays held, nothing is handed out twice, and nothing is
// lost: once the caller frees what it got, the cache holds no object and
// Shrink gives every slab back.
func TestHookPanicAtSlabEvents(t *testing.T) {
	withProcs(t, 1)
	eachVariantAndDebug(t, func(t *testing.T, cfg Config) {
		kinds := []EventKind{EventNewSlab, EventSlabFree}
		if cfg.Debug == 0 && (cfg.Design == CPUSlab || cfg.Design == CPUSlabLocked || cfg.Design == Hybrid) {
			kinds = append(kinds, EventDeactivate)
		}
		defer watchdog(t, 60*time.Second)()
		for _, kind := range kinds {
			armed := false
			fired := 0
			cfg.Trace = func(e Event) {
				if armed && e.Kind == kind {
					armed = false
					fired++
					panic("hook panic")
				}
			}
			c := mustCache(t, "hook-slab-panics", 64, cfg)
			live := map[unsafe.Pointer]bool{}
			try := func(f func()) {
				defer func() {
					if r := recover(); r != nil && r != "hook panic" {
						t.Fatalf("%v: panic %v, want the hook's", kind, r)
					}
				}()
				f()
			}
			n := 3 * c.objsPerSlab
			for round := 0; round < 4; round++ {
				armed = true
				var got []unsafe.Pointer
				for range n {
					try(func() {
						if p := c.Alloc(); p != nil {
							if live[p] {
								t.Fatalf("%v: %p handed out twice", kind, p)
							}
							live[p] = true
							got = append(got, p)
						}
					})
				}
				armed = true
				for _, p := range got {
					try(func() { delete(live, p); c.Free(p) })
				}
				armed = true
				try(c.Shrink)
				armed = true
				bulk := make([]unsafe.Pointer, n)
				try(func() {
					k := c.AllocBulk(bulk)
					for _, p := range bulk[:k] {
						if live[p] {
							t.Fatalf("%v: %p handed out twice", kind, p)
						}
					}
					armed = true
					c.FreeBulk(bulk[:k])
				})
				armed = true
				try(c.Shrink)
				armed = false
				lockFree(t, c)
			}
			if fired == 0 {
				t.Fatalf("%v never fired", kind)
			}
			mustValidate(t, c)
			c.Shrink()
			if st := c.Stats(); st.ActiveObjects != 0 || st.Slabs != 0 {
				t.Errorf("%v: after %d hook panics and every free: %d objects active, %d slabs", kind, fired, st.ActiveObjects, st.Slabs)
			}
			mustFinish(t, c)
		}
	})
}
