package alloc

import (
	"fmt"
	"slices"
	"strings"
	"testing"
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
