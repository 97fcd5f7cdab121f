package alloc

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

//go:noinline
func liveAllocSite(c *Cache) unsafe.Pointer { return c.Alloc() }

//go:noinline
func liveMallocSite(h *Heap, n int) unsafe.Pointer { return h.Malloc(n) }

//go:noinline
func liveBytesSite(a *ByteAllocator, n int) []byte { return a.Allocate(n) }

//go:noinline
func liveSliceSite(h *Heap, n int) []uint32 { return MakeSlice[uint32](h, n) }

//go:noinline
func liveSheafSite(s *Sheaf) unsafe.Pointer { return s.Alloc() }

// liveStacks returns, from the profile's text form, the count and the
// innermost function of every stack whose frames mention want.
func liveStacks(t *testing.T, want string) map[string]int {
	t.Helper()
	var buf bytes.Buffer
	if err := LiveProfile().WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	head := regexp.MustCompile(`^(\d+) @`)
	frame := regexp.MustCompile(`^#\s+0x[0-9a-f]+\s+(\S+)\+0x`)
	var n int
	var top string
	var hit bool
	flush := func() {
		if hit {
			out[top] += n
		}
		n, top, hit = 0, "", false
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if m := head.FindStringSubmatch(line); m != nil {
			flush()
			for _, d := range m[1] {
				n = n*10 + int(d-'0')
			}
			continue
		}
		if m := frame.FindStringSubmatch(line); m != nil {
			if top == "" {
				top = m[1][strings.LastIndex(m[1], "/")+1:]
			}
			if strings.Contains(m[1], want) {
				hit = true
			}
		}
	}
	flush()
	return out
}

// Objects of caches with U are in the profile from allocation to free, by
// the stack of the program's call into the allocator; other caches' are not.
func TestLiveProfile(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		base := LiveProfile().Count()
		cfg.Debug = DebugStoreUser
		c := mustCache(t, "live", 48, cfg)
		plain := mustCache(t, "notlive", 48, Config{Design: cfg.Design})
		var objs []unsafe.Pointer
		for range 5 {
			objs = append(objs, liveAllocSite(c))
		}
		q := liveAllocSite(plain)
		if got := LiveProfile().Count() - base; got != 5 {
			t.Fatalf("%d objects in the profile, want 5", got)
		}
		if got := liveStacks(t, "liveAllocSite"); got["alloc.liveAllocSite"] != 5 || len(got) != 1 {
			t.Errorf("stacks through liveAllocSite by innermost frame: %v, want 5 at alloc.liveAllocSite", got)
		}
		c.Free(objs[0])
		c.FreeBulk(objs[1:3])
		if got := LiveProfile().Count() - base; got != 2 {
			t.Errorf("after freeing 3: %d in the profile, want 2", got)
		}
		p := c.AllocNoLock()
		if got := LiveProfile().Count() - base; p == nil || got != 3 {
			t.Errorf("AllocNoLock on an idle cache: %p, %d in the profile, want 3", p, got)
		}
		c.FreeNoLock(p)
		c.FreeBulk(objs[3:])
		plain.Free(q)
		if got := LiveProfile().Count() - base; got != 0 {
			t.Errorf("after freeing everything: %d in the profile, want 0", got)
		}
		mustFinish(t, c)
		mustFinish(t, plain)
	})
}

// A heap with U: Malloc, ByteAllocator and MakeSlice are profiled at their
// callers; a prefilled sheaf's objects move to the caller of Sheaf.Alloc.
func TestLiveProfileHeapAndSheaf(t *testing.T) {
	base := LiveProfile().Count()
	h, err := NewHeap(Config{Debug: DebugStoreUser | DebugRedZone})
	if err != nil {
		t.Fatal(err)
	}
	p := liveMallocSite(h, 100)
	b := liveBytesSite(h.ByteAllocator(64), 500)
	s := liveSliceSite(h, 30)
	got := liveStacks(t, "TestLiveProfileHeapAndSheaf")
	want := map[string]int{"alloc.liveMallocSite": 1, "alloc.liveBytesSite": 1, "alloc.liveSliceSite": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("innermost frames %v, want %v", got, want)
			break
		}
	}
	h.Free(p)
	h.ByteAllocator(64).Free(b)
	FreeSlice(h, s)

	c := mustCache(t, "live-sheaf", 64, Config{Debug: DebugStoreUser})
	sh, err := c.PrefillSheaf(4)
	if err != nil {
		t.Fatal(err)
	}
	if got := LiveProfile().Count() - base; got != sh.Len() {
		t.Errorf("prefilled sheaf of %d: %d in the profile", sh.Len(), got)
	}
	o := liveSheafSite(sh)
	if got := liveStacks(t, "liveSheafSite"); got["alloc.liveSheafSite"] != 1 {
		t.Errorf("after Sheaf.Alloc: innermost frames %v, want alloc.liveSheafSite", got)
	}
	c.ReturnSheaf(sh)
	c.Free(o)
	if got := LiveProfile().Count() - base; got != 0 {
		t.Errorf("after freeing everything: %d in the profile", got)
	}
	mustFinish(t, c)
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// Goroutines allocating and freeing at once, the same addresses coming back
// again and again, leave the profile exact.
func TestLiveProfileConcurrent(t *testing.T) {
	base := LiveProfile().Count()
	c := mustCache(t, "live-churn", 32, Config{Debug: DebugStoreUser})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []unsafe.Pointer
			for i := range 2000 {
				if i%2 == g%2 {
					if p := c.AllocNoLock(); p != nil {
						held = append(held, p)
					}
				} else {
					held = append(held, c.Alloc())
				}
				if len(held) > 8 {
					if i%3 == 0 {
						c.FreeNoLock(held[0])
					} else {
						c.Free(held[0])
					}
					held = held[1:]
				}
			}
			for _, p := range held {
				c.Free(p)
			}
		}()
	}
	wg.Wait()
	if got := LiveProfile().Count() - base; got != 0 {
		t.Errorf("%d objects left in the profile after freeing everything", got)
	}
	mustFinish(t, c)
}
