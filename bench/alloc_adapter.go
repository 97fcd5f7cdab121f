package bench

import (
	"fmt"
	"unsafe"

	"github.com/goslub/slub/alloc"
)

// The designs of package alloc. A workload with one object size gets a
// Cache; one with varying sizes gets a Heap.

// allocDesigns are the designs of package alloc, in the order they are
// compared: the first is the base column of the comparisons. A design of
// package alloc joins the suite with one line here; what it can do beyond
// the API every design has (sheaves) is read off the design itself.
var allocDesigns = []*Design{
	newAllocDesign(alloc.Sheaves, "alloc, Sheaves design: per-P sheaves and a barn (Linux 7.0)"),
	newAllocDesign(alloc.CPUSlab, "alloc, CPUSlab design: per-P cpu slab, pinned (freelist, tid) CAS without LOCK (Linux <= 6.19, the kernel's cost)"),
	newAllocDesign(alloc.CPUSlabLocked, "alloc, CPUSlabLocked design: the cpu slab unpinned, LOCK CMPXCHG16B (the cost without disabling preemption)"),
	newAllocDesign(alloc.Hybrid, "alloc, Hybrid design: per-P sheaves over cpu slabs (Linux 6.18 and 6.19)"),
}

func newAllocDesign(d alloc.Design, doc string) *Design {
	lacks := map[Capability]string{}
	if d != alloc.Sheaves {
		lacks[CapRCURead] = "the alloc.RCU read side is the same for every design: see design=sheaves"
	}
	if why := lacksSheaves(d); why != "" {
		lacks[CapSheaves] = why
	}
	return &Design{
		Name:  d.String(),
		Doc:   doc,
		Lacks: lacks,
		New:   func(s Spec) (Allocator, error) { return newAllocInstance(d, s) },
	}
}

// lacksSheaves says why design d has no sheaves, or "" when it has them: a
// cache of a design with sheaves reports their capacity in Stats.
func lacksSheaves(d alloc.Design) string {
	c, err := alloc.NewCache("bench-probe", 64, alloc.Config{Design: d})
	if err != nil {
		return fmt.Sprintf("%s: %v", d, err)
	}
	capacity := c.Stats().SheafCapacity
	if err := c.Destroy(); err != nil {
		return fmt.Sprintf("%s: %v", d, err)
	}
	if capacity == 0 {
		return d.String() + " has no sheaves"
	}
	return ""
}

func newAllocInstance(d alloc.Design, s Spec) (Allocator, error) {
	cfg := alloc.Config{Design: d, SheafCapacity: s.SheafCapacity, MaxCachedObjects: s.MaxCachedObjects}
	if ev := s.OnEvent; ev != nil {
		cfg.Trace = func(alloc.Event) { ev() }
	}
	if s.Size == 0 {
		h, err := alloc.NewHeap(cfg)
		if err != nil {
			return nil, err
		}
		return allocHeap{h}, nil
	}
	c, err := alloc.NewCache("bench-"+s.Name, s.Size, cfg)
	if err != nil {
		return nil, err
	}
	return allocCache{c}, nil
}

// allocCache runs a workload on one alloc.Cache.
type allocCache struct{ c *alloc.Cache }

func (a allocCache) Alloc(int) unsafe.Pointer                   { return a.c.Alloc() }
func (a allocCache) Free(p unsafe.Pointer, _ int)               { a.c.Free(p) }
func (a allocCache) AllocBulk(_ int, objs []unsafe.Pointer) int { return a.c.AllocBulk(objs) }
func (a allocCache) FreeBulk(_ int, objs []unsafe.Pointer)      { a.c.FreeBulk(objs) }
func (a allocCache) AllocNoLock(int) unsafe.Pointer             { return a.c.AllocNoLock() }
func (a allocCache) FreeNoLock(p unsafe.Pointer, _ int)         { a.c.FreeNoLock(p) }
func (a allocCache) Shrink()                                    { a.c.Shrink() }
func (a allocCache) Footprint() int64                           { return a.c.Stats().SlabBytes }
func (a allocCache) SheafCapacity() int                         { return a.c.Stats().SheafCapacity }
func (a allocCache) Close() error                               { return a.c.Destroy() }

// allocHeap runs a workload with varying sizes on an alloc.Heap.
type allocHeap struct{ h *alloc.Heap }

func (a allocHeap) Alloc(size int) unsafe.Pointer       { return a.h.Malloc(size) }
func (a allocHeap) Free(p unsafe.Pointer, _ int)        { a.h.Free(p) }
func (a allocHeap) AllocNoLock(size int) unsafe.Pointer { return a.h.MallocNoLock(size) }
func (a allocHeap) FreeNoLock(p unsafe.Pointer, _ int)  { a.h.FreeNoLock(p) }
func (a allocHeap) Shrink()                             { a.h.Shrink() }
func (a allocHeap) Close() error                        { return a.h.Destroy() }

// Footprint is the slab memory of the heap's size-class caches; the
// workloads that use a heap stay below the sizes served by whole pages.
func (a allocHeap) Footprint() int64 {
	var n int64
	for _, c := range a.h.Caches() {
		n += c.Stats().SlabBytes
	}
	return n
}
