// Package slabinfo shows the caches of a process as /proc/slabinfo and the
// kernel's tools/mm/slabinfo show the kernel's: an HTTP handler for
// /debug/slabinfo, an expvar variable, and the tool's three reports.
//
// In the spirit of net/http/pprof, importing the package registers the
// handler on http.DefaultServeMux and publishes the expvar variable
// "slabinfo" (served by expvar at /debug/vars):
//
//	import _ "github.com/goslub/slub/alloc/slabinfo"
//
//	go func() { log.Println(http.ListenAndServe("localhost:6060", nil)) }()
//
// Then
//
//	curl localhost:6060/debug/slabinfo                   # /proc/slabinfo format
//	curl 'localhost:6060/debug/slabinfo?format=lines'    # slabinfo's default line per cache
//	go run github.com/goslub/slub/cmd/slabinfo -D localhost:6060
//
// A program that serves another mux registers Handler itself.
//
// It is a package of its own, not part of package alloc, so that a program
// using the allocator does not link net/http and expvar (which registers
// /debug/vars when imported) unless it asks for them.
package slabinfo

import (
	"time"

	"github.com/goslub/slub/alloc"
)

// Snapshot is what the handler serves as JSON (format=json) and expvar
// publishes: every live cache at one moment.
type Snapshot struct {
	Time   time.Time       `json:"time"`
	Pages  alloc.PageStats `json:"pages"` // the process-wide page heap
	Caches []Cache         `json:"caches"`
}

// Cache is one cache of a Snapshot: its alloc.Stats, with the design and the
// debug letters as text and the counters by their kernel names.
type Cache struct {
	Name string `json:"name"`
	// Heap numbers the heaps of a snapshot 1, 2, ... in the order their
	// caches were created; the size classes of one heap share a number.
	// It is 0 for a cache made by NewCache.
	Heap           int    `json:"heap,omitempty"`
	Design         string `json:"design"`
	Debug          string `json:"debug"` // slab_debug letters, "-" for none
	Align          int    `json:"align"`
	ObjectSize     int    `json:"object_size"`
	Size           int    `json:"size"` // bytes per slot, metadata included
	SlabSize       int    `json:"slab_size"`
	ObjectsPerSlab int    `json:"objects_per_slab"`
	SheafCapacity  int    `json:"sheaf_capacity,omitempty"`
	CPUPartial     int    `json:"cpu_partial,omitempty"`
	Slabs          int64  `json:"slabs"`
	PartialSlabs   int64  `json:"partial_slabs"`
	Objects        int64  `json:"objects"`        // object slots in all slabs
	ActiveObjects  int64  `json:"active_objects"` // handed out to the program
	CachedObjects  int64  `json:"cached_objects"` // free, in sheaves, cpu freelists and the barn
	DeferredFrees  int64  `json:"deferred_frees"`
	SlabBytes      int64  `json:"slab_bytes"`
	// Counters holds every counter by its kernel name (ALLOC_FASTPATH, ...).
	Counters map[string]uint64 `json:"counters"`
}

// InUse returns the objects that count as allocated on their slabs, those
// the program holds and those parked in sheaves, cpu freelists, the barn and
// the deferred list: the kernel's "objects" and /proc/slabinfo's
// active_objs.
func (c *Cache) InUse() int64 { return c.ActiveObjects + c.CachedObjects + c.DeferredFrees }

// Order returns the page order of the cache's slabs.
func (c *Cache) Order() int {
	o := 0
	for 4096<<o < c.SlabSize {
		o++
	}
	return o
}

// Take returns a snapshot of every live cache (alloc.Caches).
func Take() *Snapshot { return TakeCaches(alloc.Caches()) }

// TakeCaches returns a snapshot of the given caches.
func TakeCaches(caches []*alloc.Cache) *Snapshot {
	s := &Snapshot{Time: time.Now(), Pages: alloc.ReadPageStats(), Caches: make([]Cache, 0, len(caches))}
	heaps := map[*alloc.Heap]int{}
	for _, c := range caches {
		st := c.Stats()
		sc := Cache{
			Name:           st.Name,
			Design:         st.Design.String(),
			Debug:          c.Debug().String(),
			Align:          c.Align(),
			ObjectSize:     st.ObjectSize,
			Size:           st.Size,
			SlabSize:       st.SlabSize,
			ObjectsPerSlab: st.ObjectsPerSlab,
			SheafCapacity:  st.SheafCapacity,
			CPUPartial:     st.CPUPartial,
			Slabs:          st.Slabs,
			PartialSlabs:   st.PartialSlabs,
			Objects:        st.Objects,
			ActiveObjects:  st.ActiveObjects,
			CachedObjects:  st.CachedObjects,
			DeferredFrees:  st.DeferredFrees,
			SlabBytes:      st.SlabBytes,
			Counters:       make(map[string]uint64, alloc.NumStatItems),
		}
		if h := c.Heap(); h != nil {
			if heaps[h] == 0 {
				heaps[h] = len(heaps) + 1
			}
			sc.Heap = heaps[h]
		}
		for i := alloc.StatItem(0); i < alloc.NumStatItems; i++ {
			sc.Counters[i.String()] = st.Counters[i]
		}
		s.Caches = append(s.Caches, sc)
	}
	return s
}
