package alloc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// FuzzOps decodes bytes into a script of operations on three caches (both
// designs, with or without the double-word CAS, one under a memory limit)
// and checks every step against a model: the set of live objects, each
// stamped with a pattern. Besides the API used as documented, a script
// misuses it (op bytes 0xf0 and up): bad and double frees, a sheaf
// returned twice, use after Destroy, trace hooks that call the no-lock
// API (and one that panics) during Shrink, Validate and Destroy, a prefill
// past its bound. Each misuse must get a clear panic or error naming the
// cache and leave the cache as the model has it. The seed corpus in
// testdata/fuzz/FuzzOps runs as a normal test; go test -fuzz FuzzOps
// ./alloc explores further.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 7, 0})
	f.Add([]byte{7, 2, 1, 40, 8, 2, 30, 9, 2, 5, 10, 2, 7, 1, 7, 2})
	f.Add([]byte{0, 0, 0, 0, 0, opMisuse + 1, 0, 3, opMisuse, 0, 0, opMisuse + 4, 0, 2, 6, 0, opMisuse + 3, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		runScript(t, script)
	})
}

// The ops of a script: op%12 for bytes below opMisuse, else a misuse.
const (
	opMisuse     = 0xf0
	numOps       = 12
	numMisuseOps = 7
)

type fuzzObj struct {
	p   unsafe.Pointer
	tag byte
}

type fuzzCache struct {
	name    string
	size    int
	cfg     Config
	c       *Cache
	limited bool // may run out of memory
	live    []fuzzObj
	sheaf   *Sheaf // a prefilled sheaf the script holds

	// The trace hook's plan, and the objects it holds (live, in the
	// model); armed makes it panic once, at the next event that runs
	// without list_lock.
	plan  byte
	held  []unsafe.Pointer
	armed bool
	depth int
}

// hookPlans of a fuzzCache: what its trace hook does at each event.
const (
	hookOff       = iota
	hookAllocFree // if p := AllocNoLock(); p != nil { FreeNoLock(p) }
	hookKeep      // take up to three objects and keep them
	hookSwap      // free what the last event took, take another
	numHookPlans
)

// script reads the operation bytes.
type script struct {
	b []byte
	i int
}

func (s *script) next() (byte, bool) {
	if s.i >= len(s.b) {
		return 0, false
	}
	s.i++
	return s.b[s.i-1], true
}

func (s *script) arg() int {
	v, _ := s.next()
	return int(v)
}

// opArgs is how many argument bytes an op reads after its cache byte.
func opArgs(op byte) int {
	if op >= opMisuse {
		return 1
	}
	switch op % numOps {
	case 1, 2, 3, 5, 8, 9, 11:
		return 1
	}
	return 0
}

// fuzzReached, when a test sets it, counts the misuse outcomes scripts
// reach, so that the corpus can be checked to reach every one.
var fuzzReached map[string]int

func reached(what string) {
	if fuzzReached != nil {
		fuzzReached[what]++
	}
}

// fuzzRun is one script's state: its caches and the model.
type fuzzRun struct {
	t      *testing.T
	caches []*fuzzCache
	live   map[uintptr]bool // every live object of every cache
	tag    byte
}

func (r *fuzzRun) add(fc *fuzzCache, p unsafe.Pointer, what string) {
	if p == nil {
		r.t.Fatalf("%s: nil object", what)
	}
	if r.live[uintptr(p)] {
		r.t.Fatalf("%s: %s handed out %#x while it was live", fc.name, what, uintptr(p))
	}
	r.live[uintptr(p)] = true
	r.tag++
	fillPattern(p, fc.size, r.tag)
	fc.live = append(fc.live, fuzzObj{p, r.tag})
}

func (r *fuzzRun) take(fc *fuzzCache, i int) fuzzObj {
	i %= len(fc.live)
	o := fc.live[i]
	fc.live[i] = fc.live[len(fc.live)-1]
	fc.live = fc.live[:len(fc.live)-1]
	if err := checkPattern(o.p, fc.size, o.tag); err != nil {
		r.t.Fatalf("%s: %v", fc.name, err)
	}
	delete(r.live, uintptr(o.p))
	return o
}

// allocated is what the model says the cache hands out.
func (fc *fuzzCache) allocated() int64 {
	n := int64(len(fc.live) + len(fc.held))
	if fc.sheaf != nil {
		n += int64(fc.sheaf.Len())
	}
	return n
}

func (r *fuzzRun) check(fc *fuzzCache) {
	if err := fc.c.Validate(); err != nil {
		r.t.Fatal(err)
	}
	if got, want := fc.c.Stats().ActiveObjects, fc.allocated(); got != want {
		r.t.Fatalf("%s: ActiveObjects %d, model %d", fc.name, got, want)
	}
}

// counts is the part of Stats that a rejected call must leave alone.
type counts struct{ slabs, objects, active, cached, deferred int64 }

func countsOf(c *Cache) counts {
	st := c.Stats()
	return counts{st.Slabs, st.Objects, st.ActiveObjects, st.CachedObjects, st.DeferredFrees}
}

// rejected runs f, which must panic with a message naming the cache, the
// address (unless 0) and want, and leave the cache as it was.
func (r *fuzzRun) rejected(fc *fuzzCache, what string, a uintptr, f func(), want string) {
	r.t.Helper()
	before := countsOf(fc.c)
	var msg any
	func() {
		defer func() { msg = recover() }()
		f()
	}()
	s, ok := msg.(string)
	if !ok {
		r.t.Fatalf("%s: %s: want a panic message, got %T %v", fc.name, what, msg, msg)
	}
	for _, sub := range []string{fc.name, want} {
		if !strings.Contains(s, sub) {
			r.t.Fatalf("%s: %s: %q does not say %q", fc.name, what, s, sub)
		}
	}
	if a != 0 && !strings.Contains(s, fmt.Sprintf("%#x", a)) {
		r.t.Fatalf("%s: %s: %q does not name %#x", fc.name, what, s, a)
	}
	if after := countsOf(fc.c); after != before {
		r.t.Fatalf("%s: %s changed the cache: %+v, was %+v", fc.name, what, after, before)
	}
	r.check(fc)
	reached(fc.c.design.String() + ": " + what)
}

// hook is fc's trace hook: the no-lock API of its own cache, as DESIGN
// allows, by fc.plan.
func (r *fuzzRun) hook(fc *fuzzCache) func(Event) {
	return func(e Event) {
		if fc.armed && (e.Kind == EventSheafFlush || e.Kind == EventDeferredDrain) {
			fc.armed = false
			reached("hook panic")
			panic("hook panic")
		}
		if fc.plan == hookOff || fc.depth > 2 {
			return
		}
		fc.depth++
		defer func() { fc.depth-- }()
		if fc.plan == hookSwap && len(fc.held) > 0 {
			p := fc.held[len(fc.held)-1]
			fc.held = fc.held[:len(fc.held)-1]
			delete(r.live, uintptr(p))
			fc.c.FreeNoLock(p)
		}
		p := fc.c.AllocNoLock()
		switch {
		case p == nil:
		case fc.plan == hookAllocFree || fc.plan == hookKeep && len(fc.held) >= 3:
			fc.c.FreeNoLock(p)
		default:
			if r.live[uintptr(p)] {
				r.t.Fatalf("%s: the hook's AllocNoLock handed out %#x while it was live", fc.name, uintptr(p))
			}
			r.live[uintptr(p)] = true
			fc.held = append(fc.held, p)
			reached("hook keeps an object")
		}
	}
}

func (r *fuzzRun) newCache(fc *fuzzCache) {
	c, err := NewCache(fc.name, fc.size, fc.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	fc.c = c
	c.hook = r.hook(fc)
}

func runScript(t *testing.T, b []byte) {
	if len(b) == 0 {
		return
	}
	if len(b) > 4096 {
		b = b[:4096]
	}
	// One P: the cheap double-free checks look at this P's cache, and a
	// goroutine moved to another P between two frees would pass them.
	withProcs(t, 1)
	s := &script{b: b}
	flags := s.arg()
	r := &fuzzRun{t: t, live: map[uintptr]bool{}}
	mk := func(i int, name string, size int, cfg Config) *fuzzCache {
		cfg.noDCAS = flags&(1<<i) != 0
		fc := &fuzzCache{name: name, size: size, cfg: cfg, limited: cfg.MemoryLimit > 0}
		r.newCache(fc)
		return fc
	}
	r.caches = []*fuzzCache{
		mk(0, "fuzz-sheaves", 40, Config{Design: Sheaves}),
		mk(1, "fuzz-cpuslab", 200, Config{Design: CPUSlab}),
		mk(2, "fuzz-limited", 1000, Config{Design: Design(flags >> 3 & 3), MemoryLimit: 4 * 2 * pageSize}),
	}
	for op, ok := s.next(); ok; op, ok = s.next() {
		fc := r.caches[s.arg()%len(r.caches)]
		if op >= opMisuse {
			r.misuse(fc, int(op-opMisuse)%numMisuseOps, s.arg())
			continue
		}
		c := fc.c
		switch op % numOps {
		case 0:
			p := c.Alloc()
			if p == nil && !fc.limited {
				t.Fatalf("%s: Alloc returned nil", fc.name)
			}
			if p != nil {
				r.add(fc, p, "Alloc")
			}
		case 1:
			if len(fc.live) > 0 {
				c.Free(r.take(fc, s.arg()).p)
			}
		case 2:
			objs := make([]unsafe.Pointer, s.arg()%70)
			got := c.AllocBulk(objs)
			switch {
			case got == len(objs):
				for _, p := range objs {
					r.add(fc, p, "AllocBulk")
				}
			case got != 0:
				t.Fatalf("%s: AllocBulk(%d) = %d", fc.name, len(objs), got)
			case len(objs) > 0 && !fc.limited:
				t.Fatalf("%s: AllocBulk(%d) failed", fc.name, len(objs))
			}
		case 3:
			var objs []unsafe.Pointer
			for k := s.arg() % 70; k > 0 && len(fc.live) > 0; k-- {
				objs = append(objs, r.take(fc, k).p)
			}
			c.FreeBulk(objs)
		case 4:
			if p := c.AllocNoLock(); p != nil {
				r.add(fc, p, "AllocNoLock")
			}
		case 5:
			if len(fc.live) > 0 {
				c.FreeNoLock(r.take(fc, s.arg()).p)
			}
		case 6:
			c.Shrink()
		case 7:
			r.check(fc)
		case 8:
			if fc.sheaf != nil {
				c.ReturnSheaf(fc.sheaf)
				fc.sheaf = nil
			}
			n := s.arg() % 100
			sh, err := c.PrefillSheaf(n)
			switch {
			case err == nil && sh.Len() < n:
				t.Fatalf("%s: PrefillSheaf(%d) holds %d", fc.name, n, sh.Len())
			case err == nil:
				fc.sheaf = sh
			case !fc.limited:
				t.Fatalf("%s: PrefillSheaf(%d): %v", fc.name, n, err)
			}
		case 9:
			if fc.sheaf != nil {
				for k := s.arg() % 70; k > 0 && fc.sheaf.Len() > 0; k-- {
					r.add(fc, fc.sheaf.Alloc(), "Sheaf.Alloc")
				}
			}
		case 10:
			if fc.sheaf != nil {
				c.ReturnSheaf(fc.sheaf)
				fc.sheaf = nil
			}
		case 11:
			if fc.sheaf != nil {
				n := s.arg() % 100
				err := c.RefillSheaf(fc.sheaf, n)
				switch {
				case err == nil && fc.sheaf.Len() < n:
					t.Fatalf("%s: RefillSheaf(%d) holds %d", fc.name, n, fc.sheaf.Len())
				case err != nil && !fc.limited:
					t.Fatalf("%s: RefillSheaf(%d): %v", fc.name, n, err)
				}
			}
		}
	}
	for _, fc := range r.caches {
		r.check(fc)
		fc.plan = hookOff
		for len(fc.live) > 0 {
			fc.c.Free(r.take(fc, 0).p)
		}
		freeAll(fc.c, fc.held)
		fc.held = nil
		fc.c.ReturnSheaf(fc.sheaf)
		fc.sheaf = nil
		r.check(fc)
		if err := fc.c.Destroy(); err != nil {
			t.Fatal(err)
		}
	}
}

// frees is Free, FreeNoLock and FreeBulk, by index.
var frees = []struct {
	name string
	f    func(c *Cache, p unsafe.Pointer)
}{
	{"Free", func(c *Cache, p unsafe.Pointer) { c.Free(p) }},
	{"FreeNoLock", func(c *Cache, p unsafe.Pointer) { c.FreeNoLock(p) }},
	{"FreeBulk", func(c *Cache, p unsafe.Pointer) { c.FreeBulk([]unsafe.Pointer{p}) }},
}

// misuse runs misuse op k on fc with argument byte arg.
func (r *fuzzRun) misuse(fc *fuzzCache, k, arg int) {
	t, c := r.t, fc.c
	switch k {
	case 0: // a bad free: interior, misaligned, another cache's, the Go heap's
		free := frees[arg/4%len(frees)]
		var a uintptr
		var why string
		switch {
		case arg%4 == 3:
			var goMem [16]byte
			a, why = uintptr(unsafe.Pointer(&goMem[8])), "not allocated by this allocator"
		case arg%4 == 2:
			other := r.caches[(arg/16+1)%len(r.caches)]
			if other == fc || len(other.live) == 0 {
				return
			}
			a, why = uintptr(other.live[0].p), "belongs to cache "+other.name
		case len(fc.live) == 0:
			return
		default:
			a, why = uintptr(fc.live[arg%len(fc.live)].p)+uintptr(1+7*(arg%4)), "not the start of an object"
		}
		r.rejected(fc, "bad "+free.name, a, func() { free.f(c, ptr(a)) }, why)
	case 1: // a double free the cheap checks catch: right after the first
		if len(fc.live) == 0 {
			return
		}
		if arg%4 == 3 {
			p := fc.live[arg%len(fc.live)].p
			r.rejected(fc, "FreeBulk([p, p])", uintptr(p), func() { c.FreeBulk([]unsafe.Pointer{p, p}) }, "double free")
			return
		}
		first, second := frees[arg%3], frees[arg/4%3]
		p := r.take(fc, arg/16).p
		first.f(c, p)
		// The cheap cases (DESIGN: the object on top of the P's cache or
		// at the head of its slab's freelist): the cpu slab designs and
		// FreeBulk check all of them, the sheaves fast paths only the top
		// of the main sheaf. A first free that went past the sheaves (a
		// full main sheaf and barn) leaves a double free no cheap check
		// sees, which would corrupt the cache: not made.
		if c.pcs.Load() != nil && second.name != "FreeBulk" && uintptr(p) != c.freeTop() {
			reached("sheaves: a double free past the cheap checks, not made")
			return
		}
		r.rejected(fc, first.name+" then "+second.name, uintptr(p), func() { second.f(c, p) }, "free")
	case 2: // a sheaf returned, then returned, allocated from or refilled again
		if fc.sheaf == nil {
			return
		}
		sh := fc.sheaf
		c.ReturnSheaf(sh)
		fc.sheaf = nil
		switch arg % 3 {
		case 0:
			r.rejected(fc, "ReturnSheaf twice", 0, func() { c.ReturnSheaf(sh) }, "returned")
		case 1:
			r.rejected(fc, "Sheaf.Alloc after ReturnSheaf", 0, func() { sh.Alloc() }, "returned")
		default:
			if err := c.RefillSheaf(sh, 1+arg%50); err == nil {
				t.Fatalf("%s: RefillSheaf of a returned sheaf succeeded", fc.name)
			}
			r.check(fc)
			reached("RefillSheaf after ReturnSheaf")
		}
	case 3: // Destroy: it names exactly what the model holds; then use after it
		r.destroy(fc)
	case 4: // the trace hook's plan
		fc.plan = byte(arg % numHookPlans)
	case 5: // Shrink, Validate or Destroy with a hook that panics in it
		fc.armed = true
		var p any
		func() {
			defer func() { p = recover() }()
			switch arg % 3 {
			case 0:
				c.Shrink()
			case 1:
				c.Validate()
			default:
				if c.Destroy() == nil {
					fc.c = nil
				}
			}
		}()
		fc.armed = false
		if p != nil && p != "hook panic" {
			t.Fatalf("%s: panic %v", fc.name, p)
		}
		if p != nil {
			reached([]string{"Shrink", "Validate", "Destroy"}[arg%3] + " with a panicking hook")
		}
		if fc.c == nil { // destroyed after all
			fc.sheaf = nil // an empty sheaf of the destroyed cache
			r.newCache(fc)
		}
		r.check(fc)
	case 6: // a prefill no sheaf could hold
		n := MaxPrefill + 1 + arg
		before := countsOf(c)
		if sh, err := c.PrefillSheaf(n); err == nil {
			t.Fatalf("%s: PrefillSheaf(%d) gave %d objects", fc.name, n, sh.Len())
		}
		if fc.sheaf != nil && c.RefillSheaf(fc.sheaf, n) == nil {
			t.Fatalf("%s: RefillSheaf(%d) succeeded", fc.name, n)
		}
		if after := countsOf(c); after != before {
			t.Fatalf("%s: a refused prefill changed the cache: %+v, was %+v", fc.name, after, before)
		}
		reached("prefill past MaxPrefill")
	}
}

// destroy destroys fc's cache: refused, naming the objects, while the
// model holds any; else every later use panics, and a new cache takes its
// place.
func (r *fuzzRun) destroy(fc *fuzzCache) {
	t, c := r.t, fc.c
	err := c.Destroy()
	want := fc.allocated() // the hook may take objects while Destroy flushes
	if want > 0 {
		if err == nil {
			t.Fatalf("%s: Destroy succeeded with %d objects allocated", fc.name, want)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf(" %d objects still allocated", want)) {
			t.Fatalf("%s: Destroy with %d objects allocated: %v", fc.name, want, err)
		}
		r.check(fc)
		reached("Destroy refused")
		if len(fc.held) > 0 {
			reached("Destroy refused for a hook's objects")
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: Destroy of an empty cache: %v", fc.name, err)
	}
	for name, f := range map[string]func(){
		"Alloc": func() { c.Alloc() }, "AllocNoLock": func() { c.AllocNoLock() },
		"FreeNoLock": func() { c.FreeNoLock(nil) }, "Shrink": func() { c.Shrink() },
		"PrefillSheaf": func() { c.PrefillSheaf(1) }, "Destroy": func() { c.Destroy() },
	} {
		func() {
			defer func() {
				if m := fmt.Sprint(recover()); !strings.Contains(m, "used after Destroy") {
					t.Fatalf("%s: %s after Destroy: %q", fc.name, name, m)
				}
			}()
			f()
		}()
	}
	reached("use after Destroy")
	fc.sheaf = nil // an empty sheaf of the destroyed cache
	r.newCache(fc)
}

// The checked-in corpus must keep covering every operation, misuses
// included, on every cache.
func TestFuzzCorpusCoverage(t *testing.T) {
	var ops [numOps + numMisuseOps][3]int
	entries := readCorpus(t)
	for _, b := range entries {
		s := &script{b: b}
		s.arg()
		for op, ok := s.next(); ok; op, ok = s.next() {
			ci := s.arg() % 3
			k := int(op % numOps)
			if op >= opMisuse {
				k = numOps + int(op-opMisuse)%numMisuseOps
			}
			ops[k][ci]++
			for i := 0; i < opArgs(op); i++ {
				s.arg()
			}
		}
	}
	for op := range ops {
		for ci, n := range ops[op] {
			if n == 0 {
				t.Errorf("the corpus never runs operation %d on cache %d", op, ci)
			}
		}
	}
	if len(entries) < 5 {
		t.Errorf("%d corpus entries", len(entries))
	}
}

// The corpus reaches every misuse outcome: each bad free and double free
// in every design of the matrix's caches, every sheaf misuse, Destroy
// refused and done, hooks that keep objects and that panic in Shrink,
// Validate and Destroy, a prefill past its bound.
func TestFuzzCorpusReaches(t *testing.T) {
	fuzzReached = map[string]int{}
	defer func() { fuzzReached = nil }()
	for _, b := range readCorpus(t) {
		runScript(t, b)
	}
	var want []string
	for _, d := range []string{"sheaves", "cpuslab"} {
		for _, f := range frees {
			want = append(want, d+": bad "+f.name)
			for _, g := range frees {
				want = append(want, d+": "+f.name+" then "+g.name)
			}
		}
		want = append(want, d+": FreeBulk([p, p])", d+": ReturnSheaf twice", d+": Sheaf.Alloc after ReturnSheaf")
	}
	want = append(want, "RefillSheaf after ReturnSheaf", "Destroy refused", "Destroy refused for a hook's objects",
		"use after Destroy", "hook keeps an object", "Shrink with a panicking hook",
		"Validate with a panicking hook", "Destroy with a panicking hook", "prefill past MaxPrefill")
	for _, w := range want {
		if fuzzReached[w] == 0 {
			t.Errorf("the corpus never reaches %q", w)
		}
	}
}

// readCorpus reads the scripts of testdata/fuzz/FuzzOps.
func readCorpus(t *testing.T) [][]byte {
	dir := filepath.Join("testdata", "fuzz", "FuzzOps")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a one-value corpus file", f.Name())
		}
		b, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		out = append(out, []byte(b))
	}
	return out
}
