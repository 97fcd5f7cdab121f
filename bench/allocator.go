package bench

import (
	"fmt"
	"strings"
	"unsafe"
)

// An Allocator hands out and takes back blocks of memory. One instance serves
// one run of one workload; the workload tells it, through Spec, what it will
// ask for. Free gets the size that was passed to Alloc.
type Allocator interface {
	Alloc(size int) unsafe.Pointer
	Free(p unsafe.Pointer, size int)
}

// BulkAllocator is an Allocator with a native bulk interface.
type BulkAllocator interface {
	Allocator
	// AllocBulk fills all of objs and returns len(objs), or returns 0.
	AllocBulk(size int, objs []unsafe.Pointer) int
	FreeBulk(size int, objs []unsafe.Pointer)
}

// NoLockAllocator is an Allocator with calls that never block (see
// alloc.Cache.AllocNoLock). AllocNoLock may return nil.
type NoLockAllocator interface {
	Allocator
	AllocNoLock(size int) unsafe.Pointer
	FreeNoLock(p unsafe.Pointer, size int)
}

// Shrinker is an Allocator that can give memory it caches back.
type Shrinker interface {
	Shrink()
}

// Footprinter is an Allocator that can say how many bytes it has mapped (see
// the package documentation for what that means for each design). Footprint
// returns noFootprint when it cannot tell.
type Footprinter interface {
	Footprint() int64
}

// sheafed is an Allocator that can say the capacity of its sheaves, in
// objects: 0 for a design without sheaves.
type sheafed interface {
	SheafCapacity() int
}

// Closer is an Allocator that must be torn down after its run.
type Closer interface {
	Close() error
}

// Spec says what a workload will ask of an Allocator.
type Spec struct {
	// Name names the cache, for allocators that have names.
	Name string
	// Size is the object size. 0 means sizes vary, from 1 up to MaxSize.
	Size    int
	MaxSize int
	// Concurrent says that several goroutines will call the allocator at once.
	Concurrent bool
	// SheafCapacity is the sheaf capacity asked of designs with sheaves (see
	// alloc.Config.SheafCapacity); 0 leaves it to the design. Only designs
	// with CapSheaves take a value other than 0.
	SheafCapacity int
	// MaxCachedObjects caps the objects cached per P and in the barn (see
	// alloc.Config.MaxCachedObjects); 0 leaves the design's default. Only
	// the alloc designs take it.
	MaxCachedObjects int
	// OnEvent, when not nil, is called at the allocator's trace points
	// (synchronously, possibly with the allocator's own locks held). Only
	// designs with CapTrace take it.
	OnEvent func()
}

// Capability is something a workload may need beyond Alloc and Free.
type Capability int

const (
	CapVarSize Capability = iota // objects of varying sizes from one instance
	CapBulk                      // BulkAllocator
	CapNoLock                    // NoLockAllocator
	CapTrace                     // Spec.OnEvent
	CapGeneral                   // anything beyond the Pair fast path
	CapRCURead                   // a read side of its own (the alloc designs share one)
	CapFreeRCU                   // alloc.Cache.FreeRCU: frees deferred past a grace period
	CapSheaves                   // sheaves, whose capacity Spec.SheafCapacity asks for
	numCaps
)

var capNames = [numCaps]string{"varsize", "bulk", "nolock", "trace", "general", "rcuread", "freercu", "sheaves"}

func (c Capability) String() string { return capNames[c] }

// A Design is one allocator the workloads run on.
type Design struct {
	// Name is the value of the /design= key.
	Name string
	// Doc says what it is, in one line.
	Doc string
	// Baseline is false for the designs of package alloc and floor.
	Baseline bool
	// Lacks maps each capability the design does not have to the reason.
	Lacks map[Capability]string
	// New makes an instance for one workload run.
	New func(Spec) (Allocator, error)
}

// Can reports whether d has capability c, and if not, why.
func (d *Design) Can(c Capability) (bool, string) {
	if r, ok := d.Lacks[c]; ok {
		return false, r
	}
	return true, ""
}

// Designs returns every design: those of package alloc first, then the
// baselines, then floor.
func Designs() []*Design {
	ds := append([]*Design(nil), allocDesigns...)
	ds = append(ds, baselineDesigns...)
	return append(ds, floorDesign)
}

// DesignNames returns the names of Designs, in order.
func DesignNames() []string {
	var names []string
	for _, d := range Designs() {
		names = append(names, d.Name)
	}
	return names
}

// SelectDesigns returns the designs named in a comma-separated list, in the
// order of Designs. "" or "all" selects every design, "alloc" the designs of
// package alloc and "baselines" the baselines.
func SelectDesigns(list string) ([]*Design, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	all := Designs()
	known := map[string]bool{}
	for _, d := range all {
		known[d.Name] = true
	}
	for n := range want {
		if !known[n] && n != "all" && n != "alloc" && n != "baselines" {
			return nil, fmt.Errorf("unknown design %q (have %s)", n, strings.Join(DesignNames(), ", "))
		}
	}
	var ds []*Design
	for _, d := range all {
		if len(want) == 0 || want["all"] || want[d.Name] ||
			want["alloc"] && !d.Baseline && d != floorDesign ||
			want["baselines"] && d.Baseline {
			ds = append(ds, d)
		}
	}
	return ds, nil
}

// closeAllocator tears a down if it needs it.
func closeAllocator(a Allocator) error {
	if c, ok := a.(Closer); ok {
		return c.Close()
	}
	return nil
}
