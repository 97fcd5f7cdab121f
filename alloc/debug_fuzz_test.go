package alloc

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// FuzzDebugCorruption runs a script of allocations, frees, double frees,
// reallocations and corruptions of random bytes of random objects, live and
// free, against a debug cache or heap. It checks that
//   - no object is handed out twice, and live objects keep their data;
//   - every byte the allocator checks that a corruption changed is reported
//     (by the object's address; a free pointer by its slab's) before the
//     final Validate returns, and nothing is reported without a cause;
//   - each double free is reported once;
//   - after that Validate every checked byte is back (repaired), a second
//     Validate is clean, and the cache frees and destroys cleanly;
//   - misuse (op bytes 0xf0 and up) gets its clear answer and changes
//     nothing: a bad free panics naming the cache and the address, a
//     double free by FreeNoLock or FreeBulk and a Realloc or UsableSize of
//     freed memory are reported (as double frees) and ignored, a sheaf
//     returned twice or allocated from after its return panics, a trace
//     hook may use the no-lock API (keeping objects, which are live like
//     any), and after Destroy the cache refuses every use.
//
// The first byte picks the flags, the design, hardening, a heap or a cache,
// and a constructor; the second the object size; each further op reads one
// byte and its arguments.
func FuzzDebugCorruption(f *testing.F) {
	f.Add([]byte{0x0f, 63, 0, 0, 0, 3, 0, 8, 0x5a, 6})
	f.Add([]byte{0x4f, 20, 0, 17, 0, 40, 3, 0, 30, 0, 1, 6, 7, 0, 200, 6})
	f.Add([]byte{0x4f, 20, 0xf4, 1, 0, 17, 0, 40, 2, 0, 0xf1, 0, 0xf2, 0, 9, 0xf0, 0, 1, 0xf3, 5, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		newDebugScript(t, data).run()
	})
}

type debugFuzzObj struct {
	size int   // bytes asked for
	id   byte  // live: the data pattern
	s    *slab // free: the slab it was freed to
}

type debugScript struct {
	t    *testing.T
	data []byte
	log  debugReportLog

	c    *Cache // cache mode
	h    *Heap  // heap mode
	live map[uintptr]*debugFuzzObj
	free map[uintptr]*debugFuzzObj
	next byte

	mustObj     map[debugRegion]bool // corrupted regions of objects not yet reported
	mustSlab    map[uintptr]bool     // slabs with a corrupted free pointer not yet reported
	doubleFrees int
	reported    int // ReportDoubleFree seen
	corruptions int // bytes changed that the allocator checks
	reports     int

	hookOn    bool                      // the trace hook takes and frees objects with the no-lock API
	hooked    map[uintptr]*debugFuzzObj // live objects the hook holds, out of the script's reach
	hookDepth int
}

func newDebugScript(t *testing.T, data []byte) *debugScript {
	d := &debugScript{t: t, data: data, live: map[uintptr]*debugFuzzObj{}, free: map[uintptr]*debugFuzzObj{}, hooked: map[uintptr]*debugFuzzObj{},
		mustObj: map[debugRegion]bool{}, mustSlab: map[uintptr]bool{}}
	hdr := d.byte()
	cfg := Config{Debug: DebugFlags(hdr & 15), OnReport: d.log.add}
	if cfg.Debug == 0 {
		cfg.Debug = DebugAll
	}
	if hdr&16 != 0 {
		cfg.Design = CPUSlab
	}
	cfg.PlainFreelist = hdr&32 == 0
	size := 1 + int(d.byte())*3
	cfg.Trace = d.hook
	if hdr&64 != 0 {
		h, err := NewHeap(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d.h = h
		return d
	}
	if hdr&128 != 0 {
		cfg.Ctor = func(p unsafe.Pointer) { clear(debugBytes(p, size)) }
	}
	d.c = mustCache(t, "fuzz", size, cfg)
	return d
}

func (d *debugScript) byte() byte {
	if len(d.data) == 0 {
		return 0
	}
	b := d.data[0]
	d.data = d.data[1:]
	return b
}

func (d *debugScript) cacheOf(a uintptr) *Cache { return lookupSlab(a).cache }

// pickDebugObj returns the key of m at index b (in address order), or 0.
func pickDebugObj(m map[uintptr]*debugFuzzObj, b byte) uintptr {
	if len(m) == 0 {
		return 0
	}
	keys := make([]uintptr, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[int(b)%len(keys)]
}

func (d *debugScript) run() {
	for ops := 0; len(d.data) > 0 && ops < 1000; ops++ {
		op := d.byte()
		if op >= 0xf0 {
			d.misuse(int(op-0xf0)%5, d.byte())
			d.drain()
			continue
		}
		switch op % 8 {
		case 0, 1:
			d.alloc(1 + int(d.byte())*2)
		case 2:
			if a := pickDebugObj(d.live, d.byte()); a != 0 {
				d.freeLive(a)
			}
		case 3:
			d.corrupt(d.live, true)
		case 4:
			d.corrupt(d.free, false)
		case 5:
			if a := pickDebugObj(d.free, d.byte()); a != 0 && d.slabAlive(a) {
				d.doubleFrees++
				d.freePtr(a)
			}
		case 6:
			d.validate()
		case 7:
			if a := pickDebugObj(d.live, d.byte()); a != 0 && d.h != nil {
				d.realloc(a, 1+int(d.byte())*2)
			} else if a != 0 {
				d.freeLive(a)
				d.alloc(0)
			}
		}
		d.drain()
	}
	d.finish()
}

// slabAlive reports whether the free object's slab still holds it (an
// empty slab may have gone back to the page heap).
func (d *debugScript) slabAlive(a uintptr) bool { return lookupSlab(a) == d.free[a].s }

func (d *debugScript) alloc(size int) {
	var p unsafe.Pointer
	if d.h != nil {
		p = d.h.Malloc(size)
	} else {
		size = d.c.ObjectSize()
		p = d.c.Alloc()
	}
	d.took(uintptr(p), size)
}

func (d *debugScript) took(a uintptr, size int) {
	t := d.t
	if a == 0 {
		t.Fatal("allocation failed")
	}
	s := lookupSlab(a)
	if s == nil || s.cache == nil || !s.cache.validSlot(s, a) || s.cache.debug == 0 {
		t.Fatalf("%#x is not an object of a debug cache", a)
	}
	if d.live[a] != nil || d.hooked[a] != nil {
		t.Fatalf("%#x handed out twice", a)
	}
	delete(d.free, a)
	d.next++
	o := &debugFuzzObj{size: size, id: d.next}
	fill(a, size, o.id)
	d.live[a] = o
}

func (d *debugScript) checkData(a uintptr, o *debugFuzzObj, n int) {
	for i, b := range mem(a, n) {
		if b != o.id {
			d.t.Fatalf("object %#x byte %d is %#x, want %#x", a, i, b, o.id)
		}
	}
}

func (d *debugScript) freePtr(a uintptr) {
	if d.h != nil {
		d.h.Free(ptr(a))
	} else {
		d.c.Free(ptr(a))
	}
}

func (d *debugScript) freeLive(a uintptr) {
	o := d.live[a]
	d.checkData(a, o, o.size)
	delete(d.live, a)
	o.s = lookupSlab(a)
	d.freePtr(a)
	d.free[a] = o
}

func (d *debugScript) realloc(a uintptr, size int) {
	o := d.live[a]
	d.checkData(a, o, o.size)
	q := uintptr(d.h.Realloc(ptr(a), size))
	if q == a {
		if size > o.size && mem(a+uintptr(o.size), 1)[0] != 0 {
			d.t.Fatalf("Realloc in place did not zero the bytes it added")
		}
		o.size = size
		fill(a, size, o.id)
		return
	}
	d.checkData(q, o, min(o.size, size))
	delete(d.live, a)
	o.s = lookupSlab(a)
	d.free[a] = o
	d.took(q, size)
}

// debugRegion is a region of an object, named by the report kind that
// says it was overwritten.
type debugRegion struct {
	obj  uintptr
	kind string
}

// debugExpectByte returns what the allocator keeps at offset off of an
// object, live (with size bytes asked for) or free: the byte and the report
// kind of its region, "" where nothing is checked. A free object's free
// pointer is ReportFreepointer, its value unknown to the test.
func debugExpectByte(c *Cache, live bool, size, off int) (v byte, kind string) {
	d := c.dbg
	rz := byte(redInactive)
	if live {
		rz = redActive
	}
	checked := func(v byte, on bool, kind string) (byte, string) {
		if on {
			return v, kind
		}
		return v, ""
	}
	switch {
	case off < 0:
		return checked(rz, d.redzone, ReportLeftRedzone)
	case off < d.objEnd && live:
		return checked(redActive, d.redzone && d.kmalloc && off >= size, ReportKmallocRedzone)
	case off == d.objEnd-1:
		return checked(poisonEnd, d.poison, ReportPoison)
	case off < d.objEnd:
		return checked(poisonFree, d.poison, ReportPoison)
	case off < d.rzEnd:
		return checked(rz, d.redzone, ReportRightRedzone)
	case off < d.rzEnd+ptrBits/8:
		return checked(0, !live, ReportFreepointer)
	case off < d.metaEnd:
		return 0, ""
	}
	return poisonInuse, ReportObjectPadding
}

// corrupt flips bits of one byte of an object of m, anywhere in its slot
// but in a live object's data.
func (d *debugScript) corrupt(m map[uintptr]*debugFuzzObj, live bool) {
	a := pickDebugObj(m, d.byte())
	off := int(d.byte())<<8 | int(d.byte())
	x := d.byte() | 1
	if a == 0 || !live && !d.slabAlive(a) {
		return
	}
	o := m[a]
	c := d.cacheOf(a)
	off = off%c.size - c.redLeft
	if live && off >= 0 && off < o.size {
		return // the object's own data
	}
	v, kind := debugExpectByte(c, live, o.size, off)
	b := (*byte)(ptr(a + uintptr(off)))
	s := lookupSlab(a)
	switch kind {
	case "":
	case ReportFreepointer:
		if d.mustSlab[s.start] {
			return // one unreported free pointer per slab: a second could undo it
		}
		d.mustSlab[s.start] = true
	default:
		if *b != v {
			return // already corrupt, not yet found: do not undo it
		}
		d.mustObj[debugRegion{a, kind}] = true
	}
	if kind != "" {
		d.corruptions++
	}
	*b ^= x
}

func (d *debugScript) validate() {
	if d.h != nil {
		d.h.Validate()
	} else {
		d.c.Validate()
	}
}

// drain accounts for the reports delivered so far.
func (d *debugScript) drain() {
	for _, r := range d.log.take() {
		d.reports++
		switch r.Kind {
		case ReportDoubleFree:
			d.reported++
		case ReportFreepointer, ReportFreechain:
			if !d.mustSlab[r.Slab] {
				d.t.Fatalf("report without a corruption:\n%s", r.String())
			}
			delete(d.mustSlab, r.Slab)
		case ReportLeftRedzone, ReportRightRedzone, ReportKmallocRedzone, ReportPoison, ReportObjectPadding:
			k := debugRegion{r.Object, r.Kind}
			if !d.mustObj[k] {
				d.t.Fatalf("report without a corruption:\n%s", r.String())
			}
			delete(d.mustObj, k)
		default:
			d.t.Fatalf("unexpected report:\n%s", r.String())
		}
	}
}

func (d *debugScript) caches() []*Cache {
	if d.h != nil {
		return d.h.Caches()
	}
	return []*Cache{d.c}
}

func (d *debugScript) finish() {
	t := d.t
	d.hookOn = false
	for a, o := range d.hooked {
		delete(d.hooked, a)
		d.live[a] = o
		d.freeLive(a)
	}
	d.drain()
	d.validate()
	d.drain()
	if len(d.mustObj)+len(d.mustSlab) > 0 {
		t.Fatalf("corruptions never reported: objects %v, slabs %v", d.mustObj, d.mustSlab)
	}
	if d.reported != d.doubleFrees {
		t.Fatalf("%d double frees, %d reported", d.doubleFrees, d.reported)
	}
	for _, c := range d.caches() {
		mustValidate(t, c)
	}
	if r := d.log.take(); len(r) > 0 {
		t.Fatalf("second Validate reported:\n%s", r[0].String())
	}
	// Repaired: every checked byte holds its value again.
	for _, set := range []struct {
		m    map[uintptr]*debugFuzzObj
		live bool
	}{{d.live, true}, {d.free, false}} {
		m, live := set.m, set.live
		for a, o := range m {
			if !live && !d.slabAlive(a) {
				continue
			}
			c := d.cacheOf(a)
			for off := -c.redLeft; off < c.size-c.redLeft; off++ {
				v, kind := debugExpectByte(c, live, o.size, off)
				if kind != "" && kind != ReportFreepointer && *(*byte)(ptr(a + uintptr(off))) != v {
					t.Fatalf("object %#x (live %v) offset %d is %#x after Validate, want %#x", a, live, off, *(*byte)(ptr(a + uintptr(off))), v)
				}
			}
		}
	}
	for a := range d.live {
		d.freeLive(a)
	}
	for _, c := range d.caches() {
		mustValidate(t, c)
	}
	if r := d.log.take(); len(r) > 0 {
		t.Fatalf("freeing everything reported:\n%s", r[0].String())
	}
	var err error
	if d.h != nil {
		err = d.h.Destroy()
	} else {
		err = d.c.Destroy()
	}
	if err != nil {
		t.Fatal(err)
	}
	d.afterDestroy()
	t.Logf("%d corruptions, %d double frees, %d reports", d.corruptions, d.doubleFrees, d.reports)
}

// hook is the trace hook: while hookOn, at each event it frees (with
// FreeNoLock) an object it took at an earlier one (or was given when the
// script turned it on), and takes another with AllocNoLock of the event's
// cache, as DESIGN allows a hook to. Most events of a debug cache are slab
// events, during which list_lock is busy to no-lock calls (traceSlab): the
// free is deferred and the allocation fails; the drain of the deferred list
// comes without, and there both succeed.
func (d *debugScript) hook(e Event) {
	if !d.hookOn || d.hookDepth > 1 || e.Cache == nil {
		return
	}
	d.hookDepth++
	defer func() { d.hookDepth-- }()
	if a := pickDebugObj(d.hooked, 0); a != 0 {
		o := d.hooked[a]
		delete(d.hooked, a)
		d.checkData(a, o, o.size)
		// Not in d.free: freed with list_lock busy, it may wait on the
		// deferred list, linked through its free pointer, which a
		// corruption must not hit (a debug cache does not repair a
		// corrupt deferred list).
		d.cacheOf(a).FreeNoLock(ptr(a))
	}
	if len(d.hooked) < 2 {
		if p := e.Cache.AllocNoLock(); p != nil {
			a := uintptr(p)
			d.took(a, e.Cache.ObjectSize())
			d.hooked[a] = d.live[a]
			delete(d.live, a)
			d.reached("hook AllocNoLock")
		}
	}
}

// debugReached, when a test sets it, counts the misuses scripts reach.
var debugReached map[string]int

func (d *debugScript) reached(what string) {
	if debugReached != nil {
		debugReached[what]++
	}
}

// reportedDouble checks that f reports exactly one double free (of a) and
// panics not.
func (d *debugScript) reportedDouble(what string, a uintptr, f func()) {
	d.drain()
	before := d.reported
	f()
	d.drain()
	if d.reported != before+1 {
		d.t.Fatalf("%s of %#x: %d double-free reports, want 1", what, a, d.reported-before)
	}
	d.doubleFrees++
	d.reached(what + " of freed memory")
}

// misuse runs misuse op k with argument byte arg.
func (d *debugScript) misuse(k int, arg byte) {
	t := d.t
	switch k {
	case 0: // a bad free of an interior or misaligned pointer of a live object
		a := pickDebugObj(d.live, arg)
		if a == 0 {
			return
		}
		c := d.cacheOf(a)
		bad := a + uintptr(1+arg%4*3)
		free := []func(){
			func() { c.Free(ptr(bad)) },
			func() { c.FreeNoLock(ptr(bad)) },
			func() { c.FreeBulk([]unsafe.Pointer{ptr(bad)}) },
		}[arg/4%3]
		if d.h != nil && arg&64 != 0 {
			free = func() { d.h.Free(ptr(bad)) }
		}
		d.drain()
		msg := mustPanic(t, free)
		wantContains(t, msg, c.Name(), fmt.Sprintf("%#x", bad), "not the start of an object")
		if r := d.log.take(); len(r) > 0 {
			t.Fatalf("a rejected bad free reported:\n%s", r[0].String())
		}
		d.reached("bad free")
	case 1: // a double free by FreeNoLock or FreeBulk
		a := pickDebugObj(d.free, arg)
		if a == 0 || !d.slabAlive(a) {
			return
		}
		c := d.cacheOf(a)
		if arg&1 == 0 {
			d.reportedDouble("FreeNoLock", a, func() { c.FreeNoLock(ptr(a)) })
		} else {
			d.reportedDouble("FreeBulk", a, func() { c.FreeBulk([]unsafe.Pointer{ptr(a)}) })
		}
	case 2: // Realloc and UsableSize of freed memory (heap mode)
		a := pickDebugObj(d.free, arg)
		if a == 0 || !d.slabAlive(a) || d.h == nil {
			return
		}
		d.reportedDouble("Realloc", a, func() {
			if q := d.h.Realloc(ptr(a), 1+int(arg)*7); q != nil {
				t.Fatalf("Realloc of freed %#x returned %#x", a, uintptr(q))
			}
		})
		d.reportedDouble("UsableSize", a, func() {
			if n := d.h.UsableSize(ptr(a)); n != 0 {
				t.Fatalf("UsableSize of freed %#x = %d", a, n)
			}
		})
	case 3: // a prefilled sheaf, returned, then returned or allocated from again
		c := d.c
		if c == nil {
			c = d.h.Caches()[int(arg)%len(kmallocSizes)]
		}
		sh, err := c.PrefillSheaf(1 + int(arg)%8)
		if err != nil {
			t.Fatal(err)
		}
		for k := int(arg) % 3; k > 0 && sh.Len() > 0; k-- {
			d.took(uintptr(sh.Alloc()), c.ObjectSize())
		}
		c.ReturnSheaf(sh)
		if arg&4 == 0 {
			wantContains(t, mustPanic(t, func() { c.ReturnSheaf(sh) }), c.Name(), "returned already")
			d.reached("ReturnSheaf twice")
		} else {
			wantContains(t, mustPanic(t, func() { sh.Alloc() }), c.Name(), "returned")
			d.reached("Sheaf.Alloc after ReturnSheaf")
		}
	case 4: // the trace hook on (given a live object of the script's) or off
		d.hookOn = arg&1 != 0
		if a := pickDebugObj(d.live, arg); d.hookOn && a != 0 {
			d.hooked[a] = d.live[a]
			delete(d.live, a)
		}
	}
}

// afterDestroy checks that the destroyed cache (or heap) refuses every use.
func (d *debugScript) afterDestroy() {
	uses := map[string]func(){}
	for _, c := range d.caches() {
		uses[c.Name()+".Alloc"] = func() { c.Alloc() }
		uses[c.Name()+".AllocNoLock"] = func() { c.AllocNoLock() }
		uses[c.Name()+".FreeNoLock"] = func() { c.FreeNoLock(nil) }
		uses[c.Name()+".PrefillSheaf"] = func() { c.PrefillSheaf(1) }
	}
	if d.h != nil {
		uses["Heap.Malloc"] = func() { d.h.Malloc(10) }
		uses["Heap.MallocNoLock"] = func() { d.h.MallocNoLock(10) }
		uses["Heap.Destroy"] = func() { d.h.Destroy() }
	} else {
		uses["Destroy"] = func() { d.c.Destroy() }
	}
	for _, f := range uses {
		wantContains(d.t, mustPanic(d.t, f), "used after Destroy")
	}
	d.reached("use after Destroy")
}

// The corpus reaches every misuse.
func TestDebugFuzzCorpusReaches(t *testing.T) {
	debugReached = map[string]int{}
	defer func() { debugReached = nil }()
	dir := filepath.Join("testdata", "fuzz", "FuzzDebugCorruption")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		b, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		newDebugScript(t, []byte(b)).run()
	}
	for _, w := range []string{"bad free", "FreeNoLock of freed memory", "FreeBulk of freed memory",
		"Realloc of freed memory", "UsableSize of freed memory", "ReturnSheaf twice",
		"Sheaf.Alloc after ReturnSheaf", "hook AllocNoLock", "use after Destroy"} {
		if debugReached[w] == 0 {
			t.Errorf("the corpus never reaches %q", w)
		}
	}
}
