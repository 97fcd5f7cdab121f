package alloc

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// Stats taken while other goroutines allocate and free in every way the
// API offers (fast paths, bulk, no-lock, frees from another goroutine) may
// count an object freed meanwhile as active, never the other way: the
// objects each goroutine holds for the whole run are always counted.
func TestStatsUnderChurn(t *testing.T) {
	withProcs(t, 4)
	const (
		workers = 4
		keep    = 64 // held from start to end by each worker
		batch   = 48
	)
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "stats-churn", 64, cfg)
		var stop atomic.Bool
		var ops atomic.Int64
		var wg sync.WaitGroup
		handoff := make(chan unsafe.Pointer, 256)
		kept := make([][]unsafe.Pointer, workers)
		for w := 0; w < workers; w++ {
			kept[w] = make([]unsafe.Pointer, keep)
			if n := c.AllocBulk(kept[w]); n != keep {
				t.Fatalf("AllocBulk: %d of %d", n, keep)
			}
		}
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				objs := make([]unsafe.Pointer, batch)
				for i := 0; !stop.Load(); i++ {
					switch i % 4 {
					case 0: // one by one, freed here
						for j := range objs {
							objs[j] = c.Alloc()
						}
						freeAll(c, objs)
					case 1: // bulk both ways
						n := c.AllocBulk(objs)
						c.FreeBulk(objs[:n])
					case 2: // no-lock both ways
						n := 0
						for range objs {
							if p := c.AllocNoLock(); p != nil {
								objs[n] = p
								n++
							}
						}
						for _, p := range objs[:n] {
							c.FreeNoLock(p)
						}
					case 3: // freed by whichever worker drains the channel
						for range objs {
							// The send's operand is evaluated whichever
							// case runs: take it back if it did not go.
							p := c.Alloc()
							select {
							case handoff <- p:
							case q := <-handoff:
								c.Free(q)
								c.Free(p)
							}
						}
					}
					ops.Add(1)
				}
			}(w)
		}
		floor := int64(workers * keep)
		deadline := time.Now().Add(5 * time.Second)
		for i := 0; i < 300 || ops.Load() < 1000 && time.Now().Before(deadline); i++ {
			st := c.Stats()
			if st.ActiveObjects < floor || st.ActiveObjects > st.Objects ||
				st.CachedObjects < 0 || st.DeferredFrees < 0 {
				t.Errorf("Stats: %d active (at least %d held), %d cached, %d deferred, %d objects",
					st.ActiveObjects, floor, st.CachedObjects, st.DeferredFrees, st.Objects)
				break
			}
			if i%50 == 49 {
				c.Shrink()
			}
		}
		stop.Store(true)
		wg.Wait()
		close(handoff)
		for p := range handoff {
			c.Free(p)
		}
		if ops.Load() == 0 {
			t.Error("the workers did not run")
		}
		if st := c.Stats(); st.ActiveObjects != floor {
			t.Errorf("at rest: %d active, want the %d held", st.ActiveObjects, floor)
		}
		for _, k := range kept {
			c.FreeBulk(k)
		}
		mustFinish(t, c)
	})
}
