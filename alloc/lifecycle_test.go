package alloc

import (
	"bytes"
	"reflect"
	"runtime"
	"testing"
	"unsafe"
)

// Tests of handles used outside their life: nil and zero values, and
// (below) use after Destroy and sheaves returned twice.

// mustPanicWith runs f and checks that it panics with a plain message (no
// runtime error: no fault, no index out of range) that contains subs.
func mustPanicWith(t *testing.T, what string, f func(), subs ...string) {
	t.Helper()
	var r any
	func() {
		defer func() { r = recover() }()
		f()
		t.Errorf("%s: no panic", what)
	}()
	if r == nil {
		return
	}
	if err, ok := r.(runtime.Error); ok {
		t.Errorf("%s: runtime error: %v", what, err)
		return
	}
	msg, ok := r.(string)
	if err, isErr := r.(error); isErr {
		msg, ok = err.Error(), true // an error value that errors.Is can match
	}
	if !ok {
		t.Errorf("%s: panic with %T %v, want a message", what, r, r)
		return
	}
	wantContains(t, msg, subs...)
}

// Every method of a nil or zero Cache, Heap, Typed and Sheaf panics with
// a message saying how to make one.
func TestZeroAndNilHandles(t *testing.T) {
	type rec struct{ a, b int64 }
	real := mustCache(t, "real", 64, Config{})
	obj := real.Alloc()
	h := mustHeap(t, Config{})
	large := h.Malloc(3 * pageSize)
	small := h.Malloc(24)
	cacheMethods := map[string]func(c *Cache){
		"Alloc":            func(c *Cache) { c.Alloc() },
		"Free":             func(c *Cache) { c.Free(obj) },
		"Free(nil)":        func(c *Cache) { c.Free(nil) },
		"Free(large)":      func(c *Cache) { c.Free(large) },
		"AllocNoLock":      func(c *Cache) { c.AllocNoLock() },
		"FreeNoLock":       func(c *Cache) { c.FreeNoLock(obj) },
		"FreeNoLock(nil)":  func(c *Cache) { c.FreeNoLock(nil) },
		"AllocBulk":        func(c *Cache) { c.AllocBulk(make([]unsafe.Pointer, 3)) },
		"AllocBulk(empty)": func(c *Cache) { c.AllocBulk(nil) },
		"FreeBulk":         func(c *Cache) { c.FreeBulk([]unsafe.Pointer{obj}) },
		"FreeBulk(empty)":  func(c *Cache) { c.FreeBulk(nil) },
		"PrefillSheaf":     func(c *Cache) { c.PrefillSheaf(3) },
		"RefillSheaf":      func(c *Cache) { c.RefillSheaf(nil, 3) },
		"ReturnSheaf":      func(c *Cache) { c.ReturnSheaf(nil) },
		"Shrink":           func(c *Cache) { c.Shrink() },
		"Validate":         func(c *Cache) { c.Validate() },
		"Stats":            func(c *Cache) { c.Stats() },
		"Destroy":          func(c *Cache) { c.Destroy() },
		"Name":             func(c *Cache) { c.Name() },
		"ObjectSize":       func(c *Cache) { c.ObjectSize() },
		"Design":           func(c *Cache) { c.Design() },
		"Align":            func(c *Cache) { c.Align() },
		"Debug":            func(c *Cache) { c.Debug() },
		"Heap":             func(c *Cache) { c.Heap() },
		"RCU":              func(c *Cache) { c.RCU() },
		"FreeRCU":          func(c *Cache) { c.FreeRCU(small) },
		"FreeRCU(nil)":     func(c *Cache) { c.FreeRCU(nil) },
		"FreeRCUSync":      func(c *Cache) { c.FreeRCUSync(small) },
		"WriteSlabInfo":    func(c *Cache) { WriteSlabInfo(new(bytes.Buffer), c) },
	}
	for name, f := range cacheMethods {
		mustPanicWith(t, "nil Cache."+name, func() { f(nil) }, "nil or zero Cache", "NewCache")
		mustPanicWith(t, "zero Cache."+name, func() { f(&Cache{}) }, "nil or zero Cache", "NewCache")
	}
	heapMethods := map[string]func(h *Heap){
		"Malloc":        func(h *Heap) { h.Malloc(24) },
		"Malloc(large)": func(h *Heap) { h.Malloc(3 * pageSize) },
		"Malloc(0)":     func(h *Heap) { h.Malloc(0) },
		"Zalloc":        func(h *Heap) { h.Zalloc(24) },
		"Free":          func(h *Heap) { h.Free(small) },
		"Free(nil)":     func(h *Heap) { h.Free(nil) },
		"Free(large)":   func(h *Heap) { h.Free(large) },
		"UsableSize":    func(h *Heap) { h.UsableSize(small) },
		"Realloc":       func(h *Heap) { h.Realloc(small, 100) },
		"Realloc(nil)":  func(h *Heap) { h.Realloc(nil, 100) },
		"MallocNoLock":  func(h *Heap) { h.MallocNoLock(24) },
		"FreeNoLock":    func(h *Heap) { h.FreeNoLock(small) },
		"Shrink":        func(h *Heap) { h.Shrink() },
		"Validate":      func(h *Heap) { h.Validate() },
		"Destroy":       func(h *Heap) { h.Destroy() },
		"Caches":        func(h *Heap) { h.Caches() },
		"FreeRCU":       func(h *Heap) { h.FreeRCU(small) },
		"FreeRCU(nil)":  func(h *Heap) { h.FreeRCU(nil) },
		"FreeRCUSync":   func(h *Heap) { h.FreeRCUSync(small) },
		"ByteAllocator": func(h *Heap) { h.ByteAllocator(8).Allocate(24) },
	}
	for name, f := range heapMethods {
		mustPanicWith(t, "nil Heap."+name, func() { f(nil) }, "nil or zero Heap", "NewHeap")
		mustPanicWith(t, "zero Heap."+name, func() { f(&Heap{}) }, "nil or zero Heap", "NewHeap")
	}
	typedMethods := map[string]func(tc *Typed[rec]){
		"New":     func(tc *Typed[rec]) { tc.New() },
		"Free":    func(tc *Typed[rec]) { tc.Free(nil) },
		"Cache":   func(tc *Typed[rec]) { tc.Cache() },
		"FreeRCU": func(tc *Typed[rec]) { tc.FreeRCU(nil) },
	}
	for name, f := range typedMethods {
		mustPanicWith(t, "nil Typed."+name, func() { f(nil) }, "nil or zero Typed", "NewTyped")
		mustPanicWith(t, "zero Typed."+name, func() { f(&Typed[rec]{}) }, "nil or zero Typed", "NewTyped")
	}
	sheafMethods := map[string]func(s *Sheaf){
		"Alloc":    func(s *Sheaf) { s.Alloc() },
		"Len":      func(s *Sheaf) { s.Len() },
		"Capacity": func(s *Sheaf) { s.Capacity() },
	}
	for name, f := range sheafMethods {
		mustPanicWith(t, "nil Sheaf."+name, func() { f(nil) }, "nil or zero Sheaf", "PrefillSheaf")
		mustPanicWith(t, "zero Sheaf."+name, func() { f(&Sheaf{}) }, "nil or zero Sheaf", "PrefillSheaf")
	}
	// A zero Sheaf handed to a real cache.
	mustPanicWith(t, "ReturnSheaf(zero Sheaf)", func() { real.ReturnSheaf(&Sheaf{}) }, "real", "zero Sheaf", "PrefillSheaf")
	if err := real.RefillSheaf(&Sheaf{}, 3); err == nil {
		t.Error("RefillSheaf of a zero Sheaf succeeded")
	}
	real.Free(obj)
	h.Free(small)
	h.Free(large)
	mustFinish(t, real)
	mustDestroyHeap(t, h)
}

// debugVariants adds a debug cache to the matrix, for the paths that
// debug caches take on their own.
func eachVariantAndDebug(t *testing.T, f func(t *testing.T, cfg Config)) {
	eachVariant(t, f)
	t.Run("debug", func(t *testing.T) { f(t, Config{Debug: DebugAll}) })
	t.Run("debug/cpuslab", func(t *testing.T) { f(t, Config{Design: CPUSlab, Debug: DebugAll}) })
}

// After a successful Destroy every operation that could hand out or take
// back an object panics, the no-lock ones and the sheaf ones included, and
// none maps memory.
func TestEveryOpAfterDestroy(t *testing.T) {
	eachVariantAndDebug(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "gone", 64, cfg)
		old := allocN(t, c, 2*c.objsPerSlab)
		sh, err := c.PrefillSheaf(3)
		if err != nil {
			t.Fatal(err)
		}
		for sh.Len() > 0 {
			old = append(old, sh.Alloc())
		}
		freeAll(c, old)
		mustFinish(t, c)
		inUse := ReadPageStats().InUse
		ops := map[string]func(){
			"Alloc":        func() { c.Alloc() },
			"Free":         func() { c.Free(old[0]) },
			"AllocNoLock":  func() { c.AllocNoLock() },
			"FreeNoLock":   func() { c.FreeNoLock(old[1]) },
			"AllocBulk":    func() { c.AllocBulk(make([]unsafe.Pointer, 5)) },
			"FreeBulk":     func() { c.FreeBulk(old[2:4]) },
			"PrefillSheaf": func() { c.PrefillSheaf(3) },
			"RefillSheaf":  func() { c.RefillSheaf(sh, 3) },
			"ReturnSheaf":  func() { c.ReturnSheaf(sh) },
			"Shrink":       func() { c.Shrink() },
			"Validate":     func() { c.Validate() },
			"Destroy":      func() { c.Destroy() },
		}
		for name, f := range ops {
			mustPanicWith(t, name, f, "gone", "used after Destroy")
		}
		if got := ReadPageStats().InUse; got != inUse {
			t.Errorf("operations after Destroy took pages: InUse %d -> %d", inUse, got)
		}
	})
}

func TestHeapUseAfterDestroy(t *testing.T) {
	eachVariantAndDebug(t, func(t *testing.T, cfg Config) {
		h := mustHeap(t, cfg)
		small, large := h.Malloc(40), h.Malloc(5*pageSize)
		h.Free(small)
		h.Free(large)
		mustDestroyHeap(t, h)
		inUse := ReadPageStats().InUse
		ops := map[string]func(){
			"Malloc":        func() { h.Malloc(40) },
			"Malloc(large)": func() { h.Malloc(5 * pageSize) },
			"Zalloc":        func() { h.Zalloc(40) },
			"MallocNoLock":  func() { h.MallocNoLock(40) },
			"Realloc(nil)":  func() { h.Realloc(nil, 40) },
			"Shrink":        func() { h.Shrink() },
			"Validate":      func() { h.Validate() },
			"Destroy":       func() { h.Destroy() },
		}
		for name, f := range ops {
			mustPanicWith(t, name, f, "used after Destroy")
		}
		if got := ReadPageStats().InUse; got != inUse {
			t.Errorf("operations after Destroy took pages: InUse %d -> %d", inUse, got)
		}
	})
}

// A Destroy that fails frees nothing: every size class and large
// allocations keep working.
func TestHeapFailedDestroyKeepsHeap(t *testing.T) {
	eachVariantAndDebug(t, func(t *testing.T, cfg Config) {
		cfg.OnReport = func(Report) {} // the debug heap's leak report
		h := mustHeap(t, cfg)
		leak := h.Malloc(100)
		if err := h.Destroy(); err == nil {
			t.Fatal("Destroy with a live object succeeded")
		}
		var got []unsafe.Pointer
		for _, size := range append(kmallocSizes[:], 3*pageSize) {
			p := h.Malloc(size)
			if p == nil {
				t.Fatalf("Malloc(%d) after a failed Destroy: nil", size)
			}
			got = append(got, p)
			if q := h.MallocNoLock(min(size, KmallocMaxCacheSize)); q != nil {
				got = append(got, q)
			}
		}
		for _, p := range append(got, leak) {
			h.Free(p)
		}
		mustDestroyHeap(t, h)
	})
}

// A returned sheaf is the cache's again (a P's spare, a barn sheaf, or
// flushed): returning it twice, allocating from it or refilling it is
// rejected before anything changes, and the one sheaf never ends up in two
// places (which made a later Alloc die with "panic holding locks").
func TestReturnSheafTwice(t *testing.T) {
	withProcs(t, 1)
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "sheaf-twice", 64, cfg)
		for _, n := range []int{3, max(c.sheafCapacity, 8) + 5} { // cached size, oversize
			sh, err := c.PrefillSheaf(n)
			if err != nil {
				t.Fatal(err)
			}
			p := sh.Alloc()
			c.ReturnSheaf(sh)
			before := c.Stats()
			mustPanicWith(t, "ReturnSheaf twice", func() { c.ReturnSheaf(sh) }, "sheaf-twice", "ReturnSheaf", "returned already")
			mustPanicWith(t, "Alloc after ReturnSheaf", func() { sh.Alloc() }, "sheaf-twice", "Alloc", "returned")
			if err := c.RefillSheaf(sh, 2); err == nil {
				t.Error("RefillSheaf of a returned sheaf succeeded")
			}
			if after := c.Stats(); !reflect.DeepEqual(before, after) {
				t.Errorf("rejected calls changed the cache:\nbefore %+v\nafter  %+v", before, after)
			}
			mustValidate(t, c)
			live := []unsafe.Pointer{p}
			live = append(live, checkNoDuplicates(t, c, live, 4*max(c.sheafCapacity, 16))...)
			freeAll(c, live)
			mustFinish(t, c)
			c = mustCache(t, "sheaf-twice", 64, cfg)
		}
		mustDestroy(t, c)
	})
}
