package alloc_test

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/goslub/slub/alloc"
)

// A cache of fixed-size records outside the Go heap.
func ExampleNewCache() {
	type record struct {
		ID    uint64
		Score float64
		Flags [4]uint32
	}
	c, err := alloc.NewCache("records", int(unsafe.Sizeof(record{})), alloc.Config{})
	if err != nil {
		panic(err)
	}
	r := (*record)(c.Alloc())
	r.ID, r.Score = 42, 0.5
	fmt.Println(r.ID, r.Score, c.Name(), c.ObjectSize())
	c.Free(unsafe.Pointer(r))

	fmt.Println("active:", c.Stats().ActiveObjects)
	fmt.Println("valid:", c.Validate() == nil)
	fmt.Println("destroy:", c.Destroy())
	// Output:
	// 42 0.5 records 32
	// active: 0
	// valid: true
	// destroy: <nil>
}

// A kmalloc-style heap: size classes up to 8 KiB, whole pages above.
func ExampleNewHeap() {
	h, err := alloc.NewHeap(alloc.Config{Design: alloc.CPUSlab})
	if err != nil {
		panic(err)
	}
	p := h.Malloc(100)
	fmt.Println("usable:", h.UsableSize(p))
	copy(unsafe.Slice((*byte)(p), 100), "hello")

	p = h.Realloc(p, 300) // moves to kmalloc-512, keeping the contents
	fmt.Println(string(unsafe.Slice((*byte)(p), 5)), h.UsableSize(p))
	h.Free(p)

	big := h.Zalloc(20000)
	fmt.Println("large:", h.UsableSize(big))
	h.Free(big)

	fmt.Println(h.Malloc(0) != nil, h.Malloc(-1) == nil)
	fmt.Println("destroy:", h.Destroy())
	// Output:
	// usable: 128
	// hello 512
	// large: 20480
	// true true
	// destroy: <nil>
}

// A typed cache hands out *T; types that hold Go pointers are refused,
// because the garbage collector does not look into this memory.
func ExampleNewTyped() {
	type point struct{ X, Y float64 }
	points, err := alloc.NewTyped[point]("points", alloc.Config{})
	if err != nil {
		panic(err)
	}
	p := points.New() // zeroed
	fmt.Println(*p)
	p.X, p.Y = 1.5, -2
	fmt.Println(*p)
	points.Free(p)
	fmt.Println(points.Cache().Destroy())

	type named struct {
		ID   int
		Name string
	}
	_, err = alloc.NewTyped[named]("names", alloc.Config{})
	fmt.Println(err != nil)
	// Output:
	// {0 0}
	// {1.5 -2}
	// <nil>
	// true
}

// Caches report themselves in the /proc/slabinfo format. Objects cached per
// P count as active, as in SLUB: one allocation refilled a sheaf of 60.
func ExampleWriteSlabInfo() {
	c, _ := alloc.NewCache("example", 64, alloc.Config{})
	p := c.Alloc()
	alloc.WriteSlabInfo(os.Stdout, c)
	c.Free(p)
	c.Destroy()
	// Output:
	// slabinfo - version: 2.1
	// # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
	// example               60     64     64   64    1 : tunables    0    0    0 : slabdata      1      1      0
}

// Heap.UsableSize reports the size class an allocation came from.
func ExampleHeap_UsableSize() {
	h, _ := alloc.NewHeap(alloc.Config{})
	for _, n := range []int{1, 9, 65, 100, 200, 5000, 9000} {
		p := h.Malloc(n)
		fmt.Println(n, h.UsableSize(p))
		h.Free(p)
	}
	fmt.Println(h.Destroy())
	// Output:
	// 1 8
	// 9 16
	// 65 96
	// 100 128
	// 200 256
	// 5000 8192
	// 9000 12288
	// <nil>
}
