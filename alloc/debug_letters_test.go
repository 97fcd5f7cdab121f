package alloc

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"unsafe"
)

// The letters beyond F, Z, P and U: T (trace), A (failslab) and O (no
// higher order).

// T: every allocation and free reaches the hook with the object and the
// slab's inuse just after it, from every path into the cache.
func TestDebugTraceEvents(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		var events []Event
		cfg.Debug = DebugTrace
		cfg.Trace = func(e Event) {
			if e.Kind == EventAlloc || e.Kind == EventFree {
				events = append(events, e)
			}
		}
		c := mustCache(t, "trace", 64, cfg)
		if !c.isDebug() {
			t.Fatal("T alone: not a debug cache")
		}
		want := func(kind EventKind, p unsafe.Pointer, inuse int) {
			t.Helper()
			if len(events) != 1 {
				t.Fatalf("%d events, want one %v of %p", len(events), kind, p)
			}
			e := events[0]
			events = events[:0]
			if e.Kind != kind || e.Object != uintptr(p) || e.Inuse != inuse || e.Cache != c ||
				e.Slab != lookupSlab(uintptr(p)).start {
				t.Fatalf("event %+v, want %v of %p with inuse %d", e, kind, p, inuse)
			}
		}
		a := c.Alloc()
		want(EventAlloc, a, 1)
		b := c.AllocNoLock()
		want(EventAlloc, b, 2)
		c.Free(a)
		want(EventFree, a, 1)
		c.FreeNoLock(b)
		want(EventFree, b, 0)
		objs := make([]unsafe.Pointer, 3)
		if c.AllocBulk(objs) != 3 || len(events) != 3 {
			t.Fatalf("AllocBulk: %d events, want 3", len(events))
		}
		for i, e := range events {
			if e.Kind != EventAlloc || e.Object != uintptr(objs[i]) || e.Inuse != i+1 {
				t.Fatalf("bulk event %d: %+v", i, e)
			}
		}
		events = events[:0]
		c.FreeBulk(objs)
		if len(events) != 3 || events[2].Kind != EventFree || events[2].Inuse != 0 {
			t.Fatalf("FreeBulk events %+v", events)
		}
		events = events[:0]
		mustFinish(t, c)
	})
}

// T without a hook prints the kernel's trace line and the caller's stack.
func TestDebugTraceStderr(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	c, err := NewCache("trace-stderr", 32, Config{Debug: DebugTrace})
	var p unsafe.Pointer
	if err == nil {
		p = c.Alloc()
		c.Free(p)
	}
	os.Stderr = old
	w.Close()
	got := <-out
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		fmt.Sprintf(`(?m)^TRACE trace-stderr alloc %#x inuse=1 fp=0x[0-9a-f]+$`, uintptr(p)),
		fmt.Sprintf(`(?m)^TRACE trace-stderr free %#x inuse=0 fp=%#x$`, uintptr(p), uintptr(p)),
		`alloc\.TestDebugTraceStderr\n\s+\S+debug_letters_test\.go:\d+`,
	} {
		if !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("stderr does not match %s:\n%s", re, got)
		}
	}
	mustFinish(t, c)
}

// withFailSlab sets the failslab attributes for the test.
func withFailSlab(t *testing.T, a FaultAttr) {
	t.Helper()
	old := SetFailSlab(a)
	t.Cleanup(func() { SetFailSlab(old) })
}

// A: failslab fails Alloc, AllocBulk and Heap.Malloc of the caches with the
// letter, as many times as asked, and nothing else.
func TestFailSlab(t *testing.T) {
	for _, flags := range []DebugFlags{DebugFailSlab, DebugFailSlab | DebugAll} {
		t.Run(flags.String(), func(t *testing.T) {
			eachVariant(t, func(t *testing.T, cfg Config) {
				c := mustCache(t, "failslab", 48, Config{Design: cfg.Design, noDCAS: cfg.noDCAS, Debug: flags})
				plain := mustCache(t, "plain", 48, cfg)
				if wantDebug := flags&DebugAll != 0; c.isDebug() != wantDebug {
					t.Fatalf("debug cache %v with %v", c.isDebug(), flags)
				}
				withFailSlab(t, FaultAttr{Probability: 100, Times: 3})
				before := FailSlabInjected()
				if p := plain.Alloc(); p == nil {
					t.Fatal("a cache without A failed")
				} else {
					plain.Free(p)
				}
				if p := c.AllocNoLock(); p == nil {
					t.Fatal("AllocNoLock failed: the kernel's kmalloc_nolock skips failslab")
				} else {
					c.FreeNoLock(p)
				}
				objs := make([]unsafe.Pointer, 5)
				if c.Alloc() != nil || c.Alloc() != nil {
					t.Fatal("Alloc succeeded with failslab at 100%")
				}
				if n := c.AllocBulk(objs); n != 0 || objs[0] != nil {
					t.Fatalf("AllocBulk: %d, want a failure", n)
				}
				if got := FailSlabInjected() - before; got != 3 {
					t.Fatalf("%d failures injected, want 3", got)
				}
				// Times used up: everything succeeds again.
				if n := c.AllocBulk(objs); n != len(objs) {
					t.Fatalf("AllocBulk after Times ran out: %d", n)
				}
				c.FreeBulk(objs)
				// Every third call fails, without limit.
				SetFailSlab(FaultAttr{Probability: 100, Interval: 3, Times: -1})
				var pattern strings.Builder
				for i := 0; i < 9; i++ {
					if p := c.Alloc(); p == nil {
						pattern.WriteByte('x')
					} else {
						pattern.WriteByte('.')
						c.Free(p)
					}
				}
				if pattern.String() != "..x..x..x" {
					t.Fatalf("Interval 3: %s, want ..x..x..x", pattern.String())
				}
				SetFailSlab(FaultAttr{})
				mustFinish(t, c)
				mustFinish(t, plain)
			})
		})
	}
}

func TestFailSlabHeap(t *testing.T) {
	h, err := NewHeap(Config{Debug: DebugFailSlab})
	if err != nil {
		t.Fatal(err)
	}
	withFailSlab(t, FaultAttr{Probability: 100, Times: 1})
	if h.Malloc(100) != nil {
		t.Fatal("Malloc succeeded with failslab at 100%")
	}
	p := h.Malloc(100)
	if p == nil {
		t.Fatal("Malloc failed after Times ran out")
	}
	h.Free(p)
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// GOSLUB_FAILSLAB, read when the package starts, in failslab= syntax.
func TestFailSlabEnv(t *testing.T) {
	withFailSlab(t, FaultAttr{})
	c := mustCache(t, "failslab-env", 32, Config{Debug: DebugFailSlab})
	t.Setenv(EnvFailSlab, "2,100,0,1") // every second call, once
	failSlabFromEnv()
	var got strings.Builder
	for i := 0; i < 4; i++ {
		if p := c.Alloc(); p == nil {
			got.WriteByte('x')
		} else {
			got.WriteByte('.')
			c.Free(p)
		}
	}
	if got.String() != ".x.." {
		t.Errorf("with %s=2,100,0,1: %s, want .x..", EnvFailSlab, got.String())
	}
	t.Setenv(EnvFailSlab, "1,100,4096,1") // space is not supported: ignored
	failSlabFromEnv()
	if p := c.Alloc(); p == nil {
		t.Error("a bad GOSLUB_FAILSLAB was applied")
	} else {
		c.Free(p)
	}
	mustFinish(t, c)
}

func TestParseFailSlab(t *testing.T) {
	a, err := ParseFailSlab("10, 50, 0, -1")
	if err != nil || a != (FaultAttr{Interval: 10, Probability: 50, Times: -1}) {
		t.Fatalf("ParseFailSlab: %+v, %v", a, err)
	}
	for _, bad := range []string{"", "1,2,3", "1,100,4096,1", "1,101,0,1", "-1,5,0,1", "1,5,0,-2", "a,5,0,1"} {
		if _, err := ParseFailSlab(bad); err == nil {
			t.Errorf("ParseFailSlab(%q) accepted", bad)
		}
	}
	if msg := mustPanic(t, func() { SetFailSlab(FaultAttr{Probability: 200}) }); !strings.Contains(msg, "probability 200") {
		t.Errorf("SetFailSlab with probability 200: panic %q", msg)
	}
}

// O: the metadata letters go when they would raise the page order, and
// stay otherwise; F and T stay unless their own slot raises it too.
func TestDebugNoHigherOrder(t *testing.T) {
	for _, tc := range []struct {
		size  int
		flags DebugFlags
		want  DebugFlags
		debug bool // a debug cache
	}{
		{4096, DebugRedZone | DebugNoHigherOrder, DebugNoHigherOrder, false},
		{4096, DebugAll | DebugNoHigherOrder, DebugNoHigherOrder, false},
		{4070, DebugAll | DebugNoHigherOrder, DebugConsistency | DebugNoHigherOrder, true},
		{4070, DebugAll | DebugTrace | DebugNoHigherOrder, DebugConsistency | DebugTrace | DebugNoHigherOrder, true},
		{4096, DebugRedZone, DebugRedZone, true},
		{100, DebugAll | DebugNoHigherOrder, DebugAll | DebugNoHigherOrder, true},
		{4000, DebugPoison | DebugNoHigherOrder, DebugPoison | DebugNoHigherOrder, true},
	} {
		c := mustCache(t, "order", tc.size, Config{Debug: tc.flags, Trace: func(Event) {}})
		if c.debug != tc.want || c.isDebug() != tc.debug {
			t.Errorf("size %d %v: flags %v debug cache %v, want %v and %v", tc.size, tc.flags, c.debug, c.isDebug(), tc.want, tc.debug)
		}
		if c.debug&debugMetadataFlags == 0 && c.size != alignUp(tc.size, 8)+8*btoi(c.isDebug()) {
			t.Errorf("size %d %v: slot %d bytes", tc.size, tc.flags, c.size)
		}
		if tc.flags&DebugNoHigherOrder != 0 && pageOrder(c.size) > pageOrder(tc.size) {
			t.Errorf("size %d %v: slot %d raises the order", tc.size, tc.flags, c.size)
		}
		c.Free(c.Alloc())
		mustFinish(t, c)
	}
	for n, want := range map[int]int{1: 0, 4096: 0, 4097: 1, 8192: 1, 8193: 2, 16385: 3} {
		if got := pageOrder(n); got != want {
			t.Errorf("pageOrder(%d) = %d, want %d", n, got, want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
