package alloc

import (
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestTypesafeByRCU: objects are reused at once and keep their bytes across
// a free (the free pointer lives outside them), and the pages of a slab the
// cache gives up stay with it while a reader that began before is inside,
// in every design.
func TestTypesafeByRCU(t *testing.T) {
	withProcs(t, 1) // the reuse check wants the same P for Free and Alloc
	eachVariant(t, func(t *testing.T, cfg Config) {
		r := newTestRCU(t)
		cfg.RCU, cfg.TypesafeByRCU = r, true
		c := mustCache(t, "typesafe", 64, cfg)
		if c.fpOffset < 64 {
			t.Fatalf("free pointer at offset %d, inside the 64-byte object", c.fpOffset)
		}
		objs := allocN(t, c, 4*c.objsPerSlab)
		for _, o := range objs {
			fillPattern(o, 64, 7)
		}
		tok := r.ReadLock()
		freeAll(c, objs)
		for _, o := range objs {
			if err := checkPattern(o, 64, 7); err != nil {
				t.Fatalf("a free wrote into the object: %v", err)
			}
		}
		inUse := ReadPageStats().InUse
		// Shrink would wait for the reader: flush and discard by hand.
		c.flushAll()
		c.discardEmpty()
		st := c.Stats()
		if st.Slabs != 0 || st.RCUSlabs == 0 {
			t.Fatalf("%d slabs held, %d waiting: the slabs were not given up", st.Slabs, st.RCUSlabs)
		}
		time.Sleep(5 * time.Millisecond)
		if lookupSlab(uintptr(objs[0])) != nil {
			t.Error("the slab still owns its pages once given up")
		}
		if got := ReadPageStats().InUse; got < inUse {
			t.Errorf("pages went back to the page heap (in use %d -> %d) while a reader was inside", inUse, got)
		}
		for _, o := range objs {
			if err := checkPattern(o, 64, 7); err != nil {
				t.Fatalf("a reader's stale object changed during the grace period: %v", err)
			}
		}
		wantContains(t, mustPanic(t, func() { c.Free(objs[0]) }), "typesafe", hexAddr(objs[0]), "the object's slab has been freed")
		r.ReadUnlock(tok)
		r.Barrier()
		if st := c.Stats(); st.RCUSlabs != 0 || st.Counters[FreeSlab] == 0 {
			t.Errorf("after the grace period: %d slabs waiting, FREE_SLAB %d", st.RCUSlabs, st.Counters[FreeSlab])
		}
		// Reused at once: a freed object is handed out again without a
		// grace period.
		p := c.Alloc()
		c.Free(p)
		q := c.Alloc()
		if q != p {
			t.Errorf("Alloc after Free returned %p, not the object just freed %p", q, p)
		}
		c.Free(q)
		mustFinish(t, c)
	})
}

// TestTypesafeByRCUDebug: a debug cache with TypesafeByRCU keeps its
// objects' bytes (no poison), as the kernel does; its red zones stay.
func TestTypesafeByRCUDebug(t *testing.T) {
	r := newTestRCU(t)
	var reports []Report
	c := mustCache(t, "typesafe-debug", 48, Config{Debug: DebugAll, TypesafeByRCU: true, RCU: r, OnReport: func(rep Report) { reports = append(reports, rep) }})
	if c.dbg.poison {
		t.Fatal("poisoning is on for a TypesafeByRCU cache")
	}
	p := c.Alloc()
	fillPattern(p, 48, 3)
	c.Free(p)
	if err := checkPattern(p, 48, 3); err != nil {
		t.Fatalf("free wrote into a typesafe object: %v", err)
	}
	q := c.Alloc()
	*(*byte)(unsafe.Add(q, 48)) = 1 // a red zone
	c.Free(q)
	if len(reports) != 1 || !strings.Contains(reports[0].Kind, "Redzone") {
		t.Fatalf("reports %v, want one red zone report", reports)
	}
	c.Shrink()
	mustFinish(t, c)
}

func TestTypedFreeRCU(t *testing.T) {
	r := newTestRCU(t)
	ty, err := NewTyped[struct{ a, b int64 }]("typed-rcu", Config{RCU: r})
	if err != nil {
		t.Fatal(err)
	}
	p := ty.New()
	ty.FreeRCU(p)
	if st := ty.Cache().Stats(); st.RCUPending != 1 || st.ActiveObjects != 0 {
		t.Errorf("pending %d, active %d after FreeRCU", st.RCUPending, st.ActiveObjects)
	}
	ty.Cache().Shrink()
	if st := ty.Cache().Stats(); st.RCUPending != 0 || st.Counters[RCUFree] != 1 {
		t.Errorf("after Shrink: pending %d, RCU_FREE %d", st.RCUPending, st.Counters[RCUFree])
	}
	mustFinish(t, ty.Cache())
}
