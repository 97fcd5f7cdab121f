package alloc

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// Ports of the kernel's slub_kunit cases, and the rest of the debug cache
// behaviour. The kernel counts a report and its fix as two errors; here a
// Report carries its fix, so each corruption counts once.

// debugReportLog collects the reports a cache delivers.
type debugReportLog struct {
	mu   sync.Mutex
	reps []Report
}

func (l *debugReportLog) add(r Report) {
	l.mu.Lock()
	l.reps = append(l.reps, r)
	l.mu.Unlock()
}

// take returns the reports since the last take.
func (l *debugReportLog) take() []Report {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.reps
	l.reps = nil
	return r
}

// expect takes the reports since the last take and checks their kinds.
func (l *debugReportLog) expect(t testing.TB, kinds ...string) []Report {
	t.Helper()
	reps := l.take()
	var got []string
	for _, r := range reps {
		got = append(got, r.Kind)
	}
	if strings.Join(got, "|") != strings.Join(kinds, "|") {
		for _, r := range reps {
			t.Log(r.String())
		}
		t.Fatalf("reports %q, want %q", got, kinds)
	}
	return reps
}

// mustDebugCache makes a debug cache whose reports go to a log.
func mustDebugCache(t testing.TB, name string, size int, cfg Config, flags DebugFlags) (*Cache, *debugReportLog) {
	t.Helper()
	log := &debugReportLog{}
	cfg.Debug = flags
	cfg.OnReport = log.add
	return mustCache(t, name, size, cfg), log
}

func mustDebugHeap(t testing.TB, cfg Config, flags DebugFlags) (*Heap, *debugReportLog) {
	t.Helper()
	log := &debugReportLog{}
	cfg.Debug = flags
	cfg.OnReport = log.add
	h, err := NewHeap(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, log
}

func debugBytes(p unsafe.Pointer, n int) []byte { return unsafe.Slice((*byte)(p), n) }

// debugValidateOnce runs Validate, which must find exactly the given kinds (and
// fail with them), then again, which must be clean.
func debugValidateOnce(t testing.TB, c *Cache, log *debugReportLog, kinds ...string) []Report {
	t.Helper()
	err := c.Validate()
	reps := log.expect(t, kinds...)
	if (err != nil) != (len(kinds) > 0) {
		t.Fatalf("Validate: %v with %d reports", err, len(kinds))
	}
	for _, k := range kinds {
		if !strings.Contains(err.Error(), k) {
			t.Fatalf("Validate error %q does not name %q", err, k)
		}
	}
	mustValidate(t, c)
	log.expect(t)
	return reps
}

// test_clobber_zone: a write one byte past a 64-byte object in a red-zoned
// cache.
func TestDebugClobberZone(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c, log := mustDebugCache(t, "TestSlub_RZ_alloc", 64, cfg, DebugRedZone)
		p := c.Alloc()
		debugBytes(p, 65)[64] = 0x12
		reps := debugValidateOnce(t, c, log, ReportRightRedzone)
		r := reps[0]
		if r.Object != uintptr(p) || r.Offset != 64 || string(r.Found) != "\x12" || string(r.Expected) != "\xcc" || r.Cache != c.Name() {
			t.Fatalf("report %+v", r)
		}
		// Caught by Free as well, without Validate.
		debugBytes(p, 65)[64] = 0x34
		c.Free(p)
		log.expect(t, ReportRightRedzone)
		mustValidate(t, c)
		log.expect(t)
		mustDestroy(t, c)
	})
}

// Validate delivers its reports after dropping its locks: a hook that calls
// into the cache (Stats, Alloc, Free) runs instead of deadlocking.
func TestDebugReportHookCallsCache(t *testing.T) {
	defer watchdog(t, 20*time.Second)()
	var c *Cache
	var seen []Report
	var during Stats
	cfg := Config{Debug: DebugRedZone, OnReport: func(r Report) {
		seen = append(seen, r)
		during = c.Stats()
		c.Free(c.Alloc())
	}}
	c = mustCache(t, "report-hook", 64, cfg)
	p := c.Alloc()
	debugBytes(p, 65)[64] = 0x12
	if err := c.Validate(); err == nil || len(seen) != 1 || seen[0].Kind != ReportRightRedzone {
		t.Fatalf("Validate: %v, reports %v", err, seen)
	}
	if during.ActiveObjects != 1 {
		t.Errorf("Stats from the hook: %d active, want 1", during.ActiveObjects)
	}
	c.Free(p)
	mustFinish(t, c)
}

// test_next_pointer: corrupt the free pointer of a free object. It is
// detected, the freelist rebuilt, and the cache is clean afterwards; no
// object is handed out twice.
func TestDebugNextPointer(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		for _, harden := range []bool{false, true} {
			cfg := cfg
			cfg.PlainFreelist = !harden
			c, log := mustDebugCache(t, "TestSlub_next_ptr_free", 64, cfg, DebugPoison)
			p := c.Alloc()
			c.Free(p)
			fp := (*byte)(unsafe.Add(p, c.fpOffset))
			saved := *fp
			*fp ^= 0x31
			reps := debugValidateOnce(t, c, log, ReportFreepointer)
			if reps[0].Object != uintptr(p) || reps[0].Offset != int(c.fpOffset) {
				t.Fatalf("report %+v", reps[0])
			}
			// The kernel test puts the byte back; the rebuilt freelist
			// wrote the same pointer, so this changes nothing.
			*fp = saved
			mustValidate(t, c)
			log.expect(t)

			// Corrupt again and let Alloc find it.
			c.Free(c.Alloc())
			*fp ^= 0x31
			seen := map[unsafe.Pointer]bool{}
			var objs []unsafe.Pointer
			for i := 0; i < 2*c.objsPerSlab; i++ {
				o := c.Alloc()
				if seen[o] {
					t.Fatalf("object %p handed out twice", o)
				}
				seen[o] = true
				objs = append(objs, o)
			}
			log.expect(t, ReportFreepointer)
			for _, o := range objs {
				c.Free(o)
			}
			mustValidate(t, c)
			log.expect(t)
			mustDestroy(t, c)
		}
	})
}

// test_first_word and test_clobber_50th_byte: writes to a freed, poisoned
// object.
func TestDebugWriteAfterFree(t *testing.T) {
	for _, off := range []int{0, 50} {
		t.Run(fmt.Sprintf("offset=%d", off), func(t *testing.T) {
			eachVariant(t, func(t *testing.T, cfg Config) {
				c, log := mustDebugCache(t, "TestSlub_1th_word_free", 64, cfg, DebugPoison)
				p := c.Alloc()
				c.Free(p)
				debugBytes(p, 64)[off] = 0x78
				reps := debugValidateOnce(t, c, log, ReportPoison)
				if reps[0].Offset != off || string(reps[0].Found) != "\x78" || string(reps[0].Expected) != "\x6b" {
					t.Fatalf("report %+v", reps[0])
				}
				// And caught when the object is allocated again.
				debugBytes(p, 64)[off] = 0x78
				if q := c.Alloc(); q != p {
					t.Fatalf("Alloc %p, want the freed %p", q, p)
				}
				log.expect(t, ReportPoison)
				c.Free(p)
				mustValidate(t, c)
				log.expect(t)
				mustDestroy(t, c)
			})
		})
	}
}

// test_clobber_redzone_free: a write into the red zone of a freed object.
func TestDebugClobberRedzoneFree(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c, log := mustDebugCache(t, "TestSlub_RZ_free", 64, cfg, DebugRedZone)
		p := c.Alloc()
		c.Free(p)
		debugBytes(p, 65)[64] = 0xab
		reps := debugValidateOnce(t, c, log, ReportRightRedzone)
		if reps[0].Offset != 64 || string(reps[0].Expected) != "\xbb" {
			t.Fatalf("report %+v", reps[0])
		}
		// The left red zone too.
		*(*byte)(unsafe.Add(p, -1)) = 0xab
		debugValidateOnce(t, c, log, ReportLeftRedzone)
		mustDestroy(t, c)
	})
}

// test_kmalloc_redzone_access: kmalloc 18 bytes from the 32-byte class and
// write bytes 18 and 19.
func TestDebugKmallocRedzoneAccess(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h, log := mustDebugHeap(t, cfg, DebugRedZone|DebugStoreUser)
		p := h.Malloc(18)
		c := lookupSlab(uintptr(p)).cache
		if c.Name() != "kmalloc-32" || h.UsableSize(p) != 18 {
			t.Fatalf("Malloc(18) from %s, usable %d", c.Name(), h.UsableSize(p))
		}
		b := debugBytes(p, 20)
		b[18], b[19] = 0xab, 0xab
		reps := debugValidateOnce(t, c, log, ReportKmallocRedzone)
		r := reps[0]
		if r.Offset != 18 || string(r.Found) != "\xab\xab" || r.Alloc == nil {
			t.Fatalf("report %+v", r)
		}
		if fr := r.Alloc.Frames(); len(fr) == 0 || !strings.Contains(fr[0].Function, "TestDebugKmallocRedzoneAccess") {
			t.Fatalf("alloc track starts at %v", fr)
		}
		h.Free(p)
		log.expect(t)
		if err := h.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
	})
}

// test_leak_destroy: destroying a cache with a live object reports it.
func TestDebugLeakDestroy(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c, log := mustDebugCache(t, "TestSlub_leak_destroy", 64, cfg, DebugAll)
		p := c.Alloc()
		err := c.Destroy()
		if err == nil || !strings.Contains(err.Error(), c.Name()) || !strings.Contains(err.Error(), fmt.Sprintf("%#x", uintptr(p))) {
			t.Fatalf("Destroy: %v", err)
		}
		r := log.expect(t, ReportLeak)[0]
		if r.Object != uintptr(p) || r.Alloc == nil || r.Free != nil {
			t.Fatalf("report %+v", r)
		}
		if fr := r.Alloc.Frames(); len(fr) == 0 || !strings.Contains(fr[0].Function, "TestDebugLeakDestroy") {
			t.Fatalf("alloc track starts at %v", fr)
		}
		c.Free(p)
		mustDestroy(t, c)
		log.expect(t)
	})
}

// test_krealloc_redzone_zeroing: shrinking and growing in place keeps the
// red zone exactly past the new size; growing into a new class keeps the
// contents.
func TestDebugKreallocRedzoneZeroing(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		h, log := mustDebugHeap(t, cfg, DebugRedZone|DebugStoreUser)
		p := h.Malloc(48)
		b := debugBytes(p, 64)
		for i := range 48 {
			b[i] = 0xff
		}
		if q := h.Realloc(p, 40); q != p {
			t.Fatalf("shrink moved %p to %p", p, q)
		}
		for i := 40; i < 64; i++ {
			if b[i] != redActive {
				t.Fatalf("after shrink byte %d = %#x, want 0xcc", i, b[i])
			}
		}
		if q := h.Realloc(p, 56); q != p {
			t.Fatalf("grow within the class moved %p to %p", p, q)
		}
		for i := 40; i < 56; i++ {
			if b[i] != 0 {
				t.Fatalf("after grow byte %d = %#x, want 0", i, b[i])
			}
		}
		for i := 56; i < 64; i++ {
			if b[i] != redActive {
				t.Fatalf("after grow byte %d = %#x, want 0xcc", i, b[i])
			}
		}
		if h.UsableSize(p) != 56 {
			t.Fatalf("UsableSize %d", h.UsableSize(p))
		}
		if err := h.Validate(); err != nil {
			t.Fatal(err)
		}
		log.expect(t)
		for i := range 56 {
			b[i] = 0xff
		}
		q := h.Realloc(p, 112)
		qb := debugBytes(q, 128)
		for i := range 56 {
			if qb[i] != 0xff {
				t.Fatalf("after moving grow byte %d = %#x", i, qb[i])
			}
		}
		for i := 112; i < 128; i++ {
			if qb[i] != redActive {
				t.Fatalf("after moving grow byte %d = %#x, want 0xcc", i, qb[i])
			}
		}
		h.Free(q)
		if err := h.Validate(); err != nil {
			t.Fatal(err)
		}
		log.expect(t)
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
	})
}

// A double free on a debug cache is reported and ignored; the cache stays
// consistent.
func TestDebugDoubleFree(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c, log := mustDebugCache(t, "double_free", 48, cfg, DebugAll)
		p, q := c.Alloc(), c.Alloc()
		c.Free(p)
		c.Free(p)
		r := log.expect(t, ReportDoubleFree)[0]
		if r.Object != uintptr(p) || r.Free == nil || r.Alloc == nil {
			t.Fatalf("report %+v", r)
		}
		c.FreeNoLock(p)
		log.expect(t, ReportDoubleFree)
		mustValidate(t, c)
		// Both objects come back once each.
		a, b := c.Alloc(), c.Alloc()
		if a == b || (a != p && b != p) {
			t.Fatalf("got %p %p after freeing %p", a, b, p)
		}
		c.Free(a)
		c.Free(b)
		c.Free(q)
		mustValidate(t, c)
		log.expect(t)
		mustDestroy(t, c)
	})
}

// FreeNoLock with list_lock busy defers the object; a second free while it
// waits is still a double free.
func TestDebugDeferredDoubleFree(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c, log := mustDebugCache(t, "deferred_double_free", 64, cfg, DebugAll)
		p := c.Alloc()
		c.node.lock(false)
		if c.AllocNoLock() != nil {
			t.Fatal("AllocNoLock returned an object with list_lock held")
		}
		c.FreeNoLock(p)
		c.FreeNoLock(p)
		c.node.unlock()
		r := log.expect(t, ReportDoubleFree)[0]
		if !strings.Contains(r.Message, "deferred") {
			t.Fatalf("message %q", r.Message)
		}
		c.Free(p)
		log.expect(t, ReportDoubleFree)
		if st := c.Stats(); st.ActiveObjects != 0 || st.DeferredFrees != 1 {
			t.Fatalf("active %d, deferred %d before the drain", st.ActiveObjects, st.DeferredFrees)
		}
		mustValidate(t, c)
		log.expect(t)
		if st := c.Stats(); st.ActiveObjects != 0 || st.DeferredFrees != 0 || st.Counter("DEFERRED_DRAIN") != 1 {
			t.Fatalf("stats after the drain %+v", st)
		}
		mustDestroy(t, c)
	})
}

// A double free on a non-debug cache panics, naming the cache and the
// address, for the cheap cases: the object on top of the sheaf or freelist.
func TestDoubleFreePanics(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "plain_double_free", 64, cfg)
		p := c.Alloc()
		c.Free(p)
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			c.Free(p)
			return ""
		}()
		want := fmt.Sprintf("%#x", uintptr(p))
		if !strings.Contains(msg, "plain_double_free") || !strings.Contains(msg, want) || !strings.Contains(msg, "double free") {
			t.Fatalf("panic %q, want the cache name, %s and double free", msg, want)
		}
		mustValidate(t, c)
		mustDestroy(t, c)
	})
}

func TestDebugReportFormat(t *testing.T) {
	// 60 bytes aligned to 16: a right red zone of 4 bytes, 8 bytes of
	// padding at the end.
	c, log := mustDebugCache(t, "kmalloc-test", 60, Config{Align: 16}, DebugAll)
	p := c.Alloc()
	debugBytes(p, 61)[60] = 0x78
	c.Free(p)
	r := log.expect(t, ReportRightRedzone)[0]
	s := r.String()
	for _, want := range []string{
		"BUG kmalloc-test: Right Redzone overwritten\n",
		fmt.Sprintf("%#x-%#x @offset=60. First byte 0x78 instead of 0xcc", uintptr(p)+60, uintptr(p)+60),
		"Allocated in ",
		"TestDebugReportFormat",
		"debug_test.go:",
		"Slab 0x",
		fmt.Sprintf("Object %#x @offset=", uintptr(p)),
		"Redzone  0x",
		"Object   0x",
		" 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b kkkkkkkkkkkkkkkk\n",
		" 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b a5             kkkkkkkkkkk.\n",
		" 78 cc cc cc ",
		": 5a 5a 5a 5a 5a 5a 5a 5a                         ZZZZZZZZ\n",
		fmt.Sprintf("FIX kmalloc-test: Restoring Right Redzone %#x-%#x=0xcc\n", uintptr(p)+60, uintptr(p)+60),
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "(*Cache)") {
		t.Errorf("alloc track shows allocator frames:\n%s", s)
	}
	if r.Goroutine == 0 || r.Time.IsZero() {
		t.Errorf("goroutine %d time %v", r.Goroutine, r.Time)
	}
	mustDestroy(t, c)
}

// Each letter works alone, and objects keep their contents while
// allocated.
func TestDebugFlagsAlone(t *testing.T) {
	for _, f := range []DebugFlags{DebugConsistency, DebugRedZone, DebugPoison, DebugStoreUser, DebugAll} {
		t.Run(f.String(), func(t *testing.T) {
			eachVariant(t, func(t *testing.T, cfg Config) {
				for _, size := range []int{1, 8, 24, 100, 4096} {
					c, log := mustDebugCache(t, "flags", size, cfg, f)
					var objs []unsafe.Pointer
					for i := 0; i < 3*c.objsPerSlab; i++ {
						p := c.Alloc()
						b := debugBytes(p, size)
						for j := range b {
							b[j] = byte(i + j)
						}
						objs = append(objs, p)
						if i%3 == 0 {
							c.Free(objs[i/3])
							objs[i/3] = nil
						}
					}
					mustValidate(t, c)
					for i, p := range objs {
						if p == nil {
							continue
						}
						b := debugBytes(p, size)
						for j := range b {
							if b[j] != byte(i+j) {
								t.Fatalf("size %d object %d byte %d changed", size, i, j)
							}
						}
						c.Free(p)
					}
					mustValidate(t, c)
					log.expect(t)
					if st := c.Stats(); st.ActiveObjects != 0 {
						t.Fatalf("active %d", st.ActiveObjects)
					}
					c.Shrink()
					mustDestroy(t, c)
				}
			})
		})
	}
}

// Every path into a debug cache: bulk, no-lock, prefilled sheaves, typed.
func TestDebugPaths(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c, log := mustDebugCache(t, "paths", 40, cfg, DebugAll)
		objs := make([]unsafe.Pointer, 100)
		if c.AllocBulk(objs) != len(objs) {
			t.Fatal("AllocBulk")
		}
		sh, err := c.PrefillSheaf(10)
		if err != nil {
			t.Fatal(err)
		}
		q := sh.Alloc()
		if tr := c.readTrack(uintptr(q), trackAlloc); tr == nil || !strings.Contains(tr.Frames()[0].Function, "TestDebugPaths") {
			t.Fatalf("sheaf object's alloc track %v", tr)
		}
		c.ReturnSheaf(sh)
		n := c.AllocNoLock()
		if n == nil {
			t.Fatal("AllocNoLock on an idle cache")
		}
		seen := map[unsafe.Pointer]bool{q: true, n: true}
		for _, o := range objs {
			if seen[o] {
				t.Fatalf("%p twice", o)
			}
			seen[o] = true
		}
		c.FreeNoLock(n)
		c.Free(q)
		c.FreeBulk(objs)
		mustValidate(t, c)
		log.expect(t)
		st := c.Stats()
		if st.ActiveObjects != 0 || st.Slabs == 0 || st.Counter("ALLOC_SLOWPATH") == 0 {
			t.Fatalf("stats %+v", st)
		}
		var b strings.Builder
		if err := WriteSlabInfo(&b, c); err != nil || !strings.Contains(b.String(), "paths ") {
			t.Fatalf("slabinfo %v:\n%s", err, b.String())
		}
		mustDestroy(t, c)

		tc, err := NewTyped[[3]uint64]("typed_debug", Config{Design: cfg.Design, Debug: DebugAll, OnReport: log.add})
		if err != nil {
			t.Fatal(err)
		}
		x := tc.New()
		x[2] = 7
		tc.Free(x)
		tc.Free(x)
		log.expect(t, ReportDoubleFree)
	})
}

func TestParseDebugSpec(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want map[string]DebugFlags
	}{
		{"", map[string]DebugFlags{"a": DebugAll}},
		{"-", map[string]DebugFlags{"a": 0}},
		{"FZ", map[string]DebugFlags{"a": DebugConsistency | DebugRedZone}},
		{"fz-p", map[string]DebugFlags{"a": DebugPoison}},
		{"FZ,kmalloc-64,foo", map[string]DebugFlags{"kmalloc-64": DebugConsistency | DebugRedZone, "foo": DebugConsistency | DebugRedZone, "bar": 0}},
		{",foo", map[string]DebugFlags{"foo": DebugAll, "bar": 0}},
		{"U;-,foo", map[string]DebugFlags{"foo": 0, "bar": DebugStoreUser}},
		{"P,kmalloc-*;Z,kmalloc-8k", map[string]DebugFlags{"kmalloc-64": DebugPoison, "kmalloc-8k": DebugRedZone, "foo": 0}},
		{"F;", map[string]DebugFlags{"a": DebugConsistency}},
		{"tAo", map[string]DebugFlags{"a": DebugTrace | DebugFailSlab | DebugNoHigherOrder}},
		{"FZPUTAO", map[string]DebugFlags{"a": DebugAll | DebugTrace | DebugFailSlab | DebugNoHigherOrder}},
	} {
		s, err := ParseDebugSpec(tc.spec)
		if err != nil {
			t.Fatalf("%q: %v", tc.spec, err)
		}
		for name, want := range tc.want {
			if got := s.Flags(name); got != want {
				t.Errorf("%q: %s gets %v, want %v", tc.spec, name, got, want)
			}
		}
	}
	for _, bad := range []string{"FX", "B", "F,", "F, ,"} {
		if _, err := ParseDebugSpec(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	for f := DebugFlags(0); f <= debugKnownFlags; f++ {
		g, err := ParseDebug(f.String())
		if err != nil || g != f {
			t.Errorf("ParseDebug(%q) = %v, %v", f.String(), g, err)
		}
	}
}

func TestDebugEnv(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		t.Setenv(EnvSlabDebug, "FZ,env-a;P,kmalloc-64")
		a := mustCache(t, "env-a", 32, cfg)
		b := mustCache(t, "env-b", 32, cfg)
		if a.debug != DebugConsistency|DebugRedZone || !a.isDebug() || b.debug != 0 || b.isDebug() {
			t.Fatalf("env-a %v, env-b %v", a.debug, b.debug)
		}
		h, err := NewHeap(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range h.Caches() {
			want := DebugFlags(0)
			if c.Name() == "kmalloc-64" {
				want = DebugPoison
			}
			if c.debug != want {
				t.Fatalf("%s has %v", c.Name(), c.debug)
			}
		}
		t.Setenv(EnvSlabDebug, "")
		if c := mustCache(t, "env-c", 32, cfg); c.debug != DebugAll {
			t.Fatalf("empty %s gives %v", EnvSlabDebug, c.debug)
		}
		mustDestroy(t, a)
		mustDestroy(t, b)
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
	})
}

// A hardened cache that is not a debug cache catches a corrupted free
// pointer when a refill walks the freelist, instead of handing out the
// address it decodes to.
func TestHardenedFreelistCorrupt(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		if cfg.Design != Sheaves {
			t.Skip("the check is on the refill path of the Sheaves design")
		}
		c := mustCache(t, "hardened", 64, cfg) // hardened by default
		// Fill a slab, then free all but one so they sit on its freelist.
		objs := make([]unsafe.Pointer, c.objsPerSlab)
		for i := range objs {
			objs[i] = c.Alloc()
		}
		for _, o := range objs[1:] {
			c.Free(o)
		}
		c.flushAll()
		s := lookupSlab(uintptr(objs[1]))
		victim := s.freelist()
		// Off by one byte: not an object. (A flip that lands on another
		// object of the slab passes the check; hardening makes such a
		// write unlikely to hit a useful address, not impossible.)
		*(*byte)(ptr(victim + c.fpOffset)) ^= 0x01
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			for range objs {
				c.Alloc()
			}
			return ""
		}()
		if !strings.Contains(msg, "freelist corrupt") || !strings.Contains(msg, fmt.Sprintf("%#x", victim)) {
			t.Fatalf("panic %q", msg)
		}
	})
}

// Debug caches under concurrent Alloc, Free, FreeNoLock, bulk calls and
// Validate: no object handed out twice, no report, a clean cache after.
// Not a benchmark.
func TestDebugConcurrent(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c, log := mustDebugCache(t, "debug_concurrent", 72, cfg, DebugAll)
		var owned sync.Map
		take := func(p unsafe.Pointer) {
			if _, dup := owned.LoadOrStore(p, true); dup {
				t.Errorf("%p handed out twice", p)
			}
			debugBytes(p, 72)[71] = 1
		}
		give := func(p unsafe.Pointer) { owned.Delete(p) }
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []unsafe.Pointer
				bulk := make([]unsafe.Pointer, 8)
				for i := 0; i < 2000; i++ {
					switch i % 5 {
					case 0, 1:
						p := c.Alloc()
						take(p)
						mine = append(mine, p)
					case 2:
						if c.AllocBulk(bulk) == len(bulk) {
							for _, p := range bulk {
								take(p)
							}
							for _, p := range bulk {
								give(p)
							}
							c.FreeBulk(bulk)
						}
					case 3, 4:
						if len(mine) > 0 {
							p := mine[len(mine)-1]
							mine = mine[:len(mine)-1]
							give(p)
							if i%2 == 0 {
								c.FreeNoLock(p)
							} else {
								c.Free(p)
							}
						}
					}
					if i%500 == 0 {
						if err := c.Validate(); err != nil {
							t.Error(err)
						}
					}
				}
				for _, p := range mine {
					give(p)
					c.Free(p)
				}
			}()
		}
		wg.Wait()
		mustValidate(t, c)
		log.expect(t)
		if st := c.Stats(); st.ActiveObjects != 0 {
			t.Fatalf("active %d", st.ActiveObjects)
		}
		mustDestroy(t, c)
	})
}

// A new_slab trace hook may call AllocNoLock and FreeNoLock of the same
// debug cache: list_lock is busy to them while it runs (traceSlab), so
// they give up or defer, never wait and never recurse.
func TestDebugTraceHookNoLock(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		var c *Cache
		var spare unsafe.Pointer
		nilAllocs := 0
		cfg.Trace = func(e Event) {
			if e.Kind != EventNewSlab {
				return
			}
			if c.AllocNoLock() == nil {
				nilAllocs++
			}
			if spare != nil {
				c.FreeNoLock(spare)
				spare = nil
			}
		}
		c, log := mustDebugCache(t, "debug_hook", 64, cfg, DebugAll)
		spare = c.Alloc() // the hook runs for the first slab, spare still nil
		var objs []unsafe.Pointer
		for i := 0; i <= c.objsPerSlab; i++ {
			// The one that needs a second slab runs the hook, which defers
			// spare; the next Alloc drains it.
			objs = append(objs, c.Alloc())
		}
		st := c.Stats()
		if nilAllocs != 2 || spare != nil || st.Counter("NOLOCK_FREE_DEFERRED") != 1 || st.Counter("DEFERRED_DRAIN") != 1 {
			t.Fatalf("hook: %d nil allocations, spare %p, stats %+v", nilAllocs, spare, st)
		}
		for _, p := range objs {
			c.Free(p)
		}
		mustValidate(t, c)
		log.expect(t)
		mustDestroy(t, c)
	})
}
