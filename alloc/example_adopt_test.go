package alloc_test

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"github.com/goslub/slub/alloc"
)

// Bulk allocation takes many objects in one call, and bulk free gives them
// back in one call (kmem_cache_alloc_bulk, kmem_cache_free_bulk).
func ExampleCache_AllocBulk() {
	c, _ := alloc.NewCache("packets", 256, alloc.Config{})
	objs := make([]unsafe.Pointer, 32)
	if c.AllocBulk(objs) == 0 {
		panic("out of memory") // all or nothing: no object was allocated
	}
	fmt.Println("allocated:", len(objs), "active:", c.Stats().ActiveObjects)
	c.FreeBulk(objs)
	fmt.Println("active after FreeBulk:", c.Stats().ActiveObjects)
	fmt.Println(c.Destroy())
	// Output:
	// allocated: 32 active: 32
	// active after FreeBulk: 0
	// <nil>
}

// A prefilled sheaf guarantees allocations that cannot fail later, for a
// section that must not run out of memory halfway (kmem_cache_prefill_sheaf).
func ExampleCache_PrefillSheaf() {
	c, _ := alloc.NewCache("nodes", 64, alloc.Config{})
	sh, err := c.PrefillSheaf(3)
	if err != nil {
		panic(err) // errors.Is(err, alloc.ErrMemoryLimit) or ErrOutOfMemory
	}
	a, b, d := sh.Alloc(), sh.Alloc(), sh.Alloc() // never nil: the sheaf held 3
	fmt.Println(a != nil && b != nil && d != nil, sh.Len() >= 0)
	c.ReturnSheaf(sh) // what the sheaf still holds goes back to the cache
	c.Free(a)
	c.Free(b)
	c.Free(d)
	fmt.Println(c.Destroy())
	// Output:
	// true true
	// <nil>
}

// Stats counts objects and slabs, and keeps the kernel's counters by their
// names.
func ExampleCache_Stats() {
	c, _ := alloc.NewCache("conns", 64, alloc.Config{})
	var objs []unsafe.Pointer
	for range 100 {
		objs = append(objs, c.Alloc())
	}
	st := c.Stats()
	fmt.Println("active:", st.ActiveObjects, "objects per slab:", st.ObjectsPerSlab)
	fmt.Println("slabs held = slabs made:", uint64(st.Slabs) == st.Counter("ALLOC_SLAB"))
	fmt.Println("fast-path allocations:", st.Counter("ALLOC_FASTPATH") > 0)
	for _, p := range objs {
		c.Free(p)
	}
	c.Destroy()
	// Output:
	// active: 100 objects per slab: 64
	// slabs held = slabs made: true
	// fast-path allocations: true
}

// A debug cache checks red zones and poison, and reports what it finds to
// Config.OnReport before the call that found it returns; it repairs the
// damage, so the cache stays usable.
func ExampleConfig_onReport() {
	c, _ := alloc.NewCache("buggy", 24, alloc.Config{
		Debug: alloc.DebugRedZone | alloc.DebugPoison,
		OnReport: func(r alloc.Report) {
			fmt.Printf("%s: %s at offset %d\n", r.Cache, r.Kind, r.Offset)
		},
	})
	p := c.Alloc()
	b := unsafe.Slice((*byte)(p), 25) // one byte too many
	b[24] = 'x'
	c.Free(p) // finds the overwritten red zone
	fmt.Println("valid:", c.Validate() == nil)
	fmt.Println(c.Destroy())
	// Output:
	// buggy: Right Redzone overwritten at offset 24
	// valid: true
	// <nil>
}

// A trace hook runs at the allocator's trace points, some with its locks
// held, like a kernel tracepoint; there it may only use the no-lock calls,
// which never wait (kmalloc_nolock). Here each new slab of one cache
// records an event in another.
func ExampleCache_AllocNoLock() {
	type event struct{ Slab uintptr }
	events, _ := alloc.NewCache("events", int(unsafe.Sizeof(event{})), alloc.Config{})
	var recorded []*event
	c, _ := alloc.NewCache("traced", 512, alloc.Config{
		Trace: func(e alloc.Event) {
			if e.Kind != alloc.EventNewSlab {
				return
			}
			if p := events.AllocNoLock(); p != nil { // may be nil: never waits
				ev := (*event)(p)
				ev.Slab = e.Slab
				recorded = append(recorded, ev)
			}
		},
	})
	p := c.Alloc()
	fmt.Println("every new slab recorded:", len(recorded) > 0 && uint64(len(recorded)) == c.Stats().Counter("ALLOC_SLAB"))
	c.Free(p)
	for _, ev := range recorded {
		events.FreeNoLock(unsafe.Pointer(ev))
	}
	fmt.Println(c.Destroy(), events.Destroy())
	// Output:
	// every new slab recorded: true
	// <nil> <nil>
}

// Shrink flushes the per-P caches and the barn, frees the empty slabs and
// gives their pages back to the OS (kmem_cache_shrink).
func ExampleCache_Shrink() {
	c, _ := alloc.NewCache("burst", 128, alloc.Config{})
	var objs []unsafe.Pointer
	for range 5000 {
		objs = append(objs, c.Alloc())
	}
	for _, p := range objs {
		c.Free(p)
	}
	fmt.Println("slabs after the burst:", c.Stats().Slabs > 0)
	c.Shrink()
	fmt.Println("slabs after Shrink:", c.Stats().Slabs)
	c.Destroy()
	// Output:
	// slabs after the burst: true
	// slabs after Shrink: 0
}

// A ByteAllocator hands out zeroed, aligned byte slices. Its method set is
// Apache Arrow's memory.Allocator, so
//
//	mem := memory.NewCheckedAllocator(heap.ByteAllocator(64))
//
// puts an Arrow program's buffers off the Go heap.
func ExampleHeap_ByteAllocator() {
	h, _ := alloc.NewHeap(alloc.Config{})
	a := h.ByteAllocator(64)
	b := a.Allocate(100)
	fmt.Println(len(b), cap(b), uintptr(unsafe.Pointer(&b[0]))%64)
	copy(b, "hello")
	b = a.Reallocate(5000, b) // keeps the bytes, zeroes the growth
	fmt.Println(len(b), string(b[:5]), b[4999])
	a.Free(b)
	fmt.Println(h.Destroy())
	// Output:
	// 100 100 0
	// 5000 hello 0
	// <nil>
}

// MakeSlice allocates a slice of a pointer-free type from a heap.
func ExampleMakeSlice() {
	type point struct{ X, Y float32 }
	h, _ := alloc.NewHeap(alloc.Config{})
	pts := alloc.MakeSlice[point](h, 1000) // zeroed
	pts[999] = point{1, 2}
	fmt.Println(len(pts), pts[0], pts[999])
	alloc.FreeSlice(h, pts)
	fmt.Println(h.Destroy())
	// Output:
	// 1000 {0 0} {1 2}
	// <nil>
}

// Caches lists every live cache of the process, the size classes of heaps
// included, for monitoring; the slabinfo package serves it over HTTP.
func ExampleCaches() {
	orders, _ := alloc.NewCache("orders", 64, alloc.Config{})
	lines, _ := alloc.NewCache("order-lines", 64, alloc.Config{})
	var mine []*alloc.Cache
	for _, c := range alloc.Caches() {
		if strings.HasPrefix(c.Name(), "order") {
			mine = append(mine, c)
		}
	}
	alloc.WriteSlabInfo(os.Stdout, mine...)
	orders.Destroy()
	lines.Destroy()
	for _, c := range alloc.Caches() {
		if c == orders || c == lines {
			fmt.Println("still listed:", c.Name())
		}
	}
	// Output:
	// slabinfo - version: 2.1
	// # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
	// orders                 0      0     64   64    1 : tunables    0    0    0 : slabdata      0      0      0
	// order-lines            0      0     64   64    1 : tunables    0    0    0 : slabdata      0      0      0
}

// LiveProfile holds the objects of caches with call-site tracking (U) by
// the stack that allocated them, as a runtime/pprof profile: with
// net/http/pprof, go tool pprof reads it from /debug/pprof/ and shows where
// the objects that pile up come from.
func ExampleLiveProfile() {
	c, _ := alloc.NewCache("sessions", 64, alloc.Config{Debug: alloc.DebugStoreUser})
	before := alloc.LiveProfile().Count()
	a, b := c.Alloc(), c.Alloc()
	fmt.Println("live:", alloc.LiveProfile().Count()-before)
	c.Free(a)
	fmt.Println("live:", alloc.LiveProfile().Count()-before)
	// alloc.LiveProfile().WriteTo(w, 0) writes it for go tool pprof.
	c.Free(b)
	fmt.Println(alloc.LiveProfile().Name(), c.Destroy())
	// Output:
	// live: 2
	// live: 1
	// github.com/goslub/slub/alloc.live <nil>
}
