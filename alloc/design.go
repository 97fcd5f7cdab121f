package alloc

import (
	"fmt"
	"strings"
)

// Design selects a cache's per-P layer: one of the three generations of
// SLUB, and the old one at two costs. See doc.go.
type Design int

const (
	// Sheaves is the Linux 7.0 design: per-P arrays of objects (main and
	// spare sheaf) backed by a barn of full and empty sheaves, refilled
	// from and flushed to slabs.
	Sheaves Design = iota
	// CPUSlab is the design Linux removed in 7.0, at the kernel's cost: a
	// per-P cpu slab whose freelist is popped with a (freelist, tid)
	// double-word CAS without the LOCK prefix (this_cpu_cmpxchg128), the P
	// pinned across the sequence, plus a cpu partial list.
	CPUSlab
	// CPUSlabLocked is the same protocol without pinning: the CAS is a
	// LOCK CMPXCHG16B (CASPAL on arm64) that a goroutine moved to another P
	// meanwhile makes fail. It is what the lockless design costs where
	// preemption cannot be turned off.
	CPUSlabLocked
	// Hybrid is Linux 6.18 and 6.19: sheaves in front of cpu slabs (the
	// "double caching" that 7.0 removed). A sheaf refills from and
	// flushes to the cpu slab layer, which in turn uses slabs.
	Hybrid

	numDesigns
)

var designNames = [numDesigns]string{"sheaves", "cpuslab", "cpuslab-locked", "hybrid"}

// String returns the design's name: "sheaves", "cpuslab",
// "cpuslab-locked" or "hybrid", which are also its benchmark names.
func (d Design) String() string {
	if d >= 0 && d < numDesigns {
		return designNames[d]
	}
	return fmt.Sprintf("Design(%d)", int(d))
}

// ParseDesign parses a name that String returns (case-insensitive).
func ParseDesign(s string) (Design, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for d, n := range designNames {
		if n == name {
			return Design(d), nil
		}
	}
	return 0, fmt.Errorf("alloc: unknown design %q (want %s)", s, strings.Join(designNames[:], ", "))
}

// percpu is a design's per-P layer, all that the code shared by the
// designs calls: the kernel's slub_percpu_sheaves or kmem_cache_cpu, or
// nothing in front of the slabs for a debug cache. The implementations
// hold no state (the state is the Cache's), so each is a zero-size value.
// Sheaves and CPUSlab have their fast paths written out in Cache.Alloc and
// Cache.Free as well, where a call would cost (see fastPath).
type percpu interface {
	// alloc is Alloc after the written-out fast path, if any: 0 only when
	// memory is exhausted.
	alloc(c *Cache) uintptr
	// free is Free of an object the caller checked is an object slot of s.
	free(c *Cache, s *slab, a uintptr)
	// allocNoLock and freeNoLock never wait for a lock (kmalloc_nolock);
	// freeNoLock returns false when the caller must defer a.
	allocNoLock(c *Cache) uintptr
	freeNoLock(c *Cache, s *slab, a uintptr) bool
	// allocBulk fills dst and returns how many it got, fewer only when
	// memory is exhausted; freeBulk frees checked objects.
	allocBulk(c *Cache, dst []uintptr) int
	freeBulk(c *Cache, src []uintptr)
	// flush empties every P's cache (and the barn) to slabs (flush_all).
	// The caller holds growMu, flushMu and every per-P lock (lock), so
	// that nothing, a trace hook's no-lock calls included, can cache an
	// object per P again while it runs.
	flush(c *Cache)
	// lock excludes every P's owner from its per-P data, flushing the cpu
	// slabs once all are held if flush is set, and returns the release
	// (quiesce's part of the lock order).
	lock(c *Cache, flush bool) (release func())
	// validate checks the per-P data, and count adds it to st (cached
	// objects, per-P counters); both run under lock.
	validate(c *Cache, v *validation)
	count(c *Cache, st *Stats)
}

// backing is what a Sheaves or Hybrid cache's sheaves get objects from and
// give them back to: the slabs themselves (Linux 7.0, slabBacking) or the
// cpu slab layer (Linux 6.18 and 6.19, where a sheaf refill and flush went
// through it).
type backing interface {
	// allocOne takes one object for a caller the sheaves could not serve
	// (their lock busy, or a no-lock call); 0 when none is at hand.
	allocOne(c *Cache, noblock bool) uintptr
	// freeOne frees one object past the sheaves; false, with nothing
	// changed, when noblock and a lock was busy.
	freeOne(c *Cache, s *slab, a uintptr, noblock bool) bool
	// refill fills dst with at least min objects for a sheaf; fewer only
	// when memory is exhausted (or, with noblock, a lock was busy).
	refill(c *Cache, dst []uintptr, min int, noblock bool) int
	// allocMany is refill for AllocBulk, counted as the design counts it.
	allocMany(c *Cache, dst []uintptr) int
	// flushObjects gives a sheaf's objects back; freeMany gives back what
	// FreeBulk could not put into the sheaves. Both zero objs.
	flushObjects(c *Cache, objs []uintptr)
	freeMany(c *Cache, objs []uintptr)
}

// fastPath says which fast path Cache.Alloc and Cache.Free write out.
type fastPath uint8

const (
	fastNone    fastPath = iota // call the design's percpu
	fastSheaves                 // pop and push the P's main sheaf (Sheaves, Hybrid)
	fastCPUSlab                 // pinned (freelist, tid) CAS on the P's cpu slab (CPUSlab with the instruction)
)

// setDesign picks the per-P layer, the backing of sheaves, the fast path
// and the per-design sizes, and sets up the per-P data.
func (c *Cache) setDesign(d Design, sheafCapacity, maxCached int) {
	switch {
	case c.isDebug():
		// Debug caches have no per-P layer in any design, as in the
		// kernel: every operation checks the slab under list_lock.
		c.pp = debugPercpu{}
		c.barn.maxFull = maxFullSheaves
		return
	case d == Sheaves || d == Hybrid:
		// 7.0: the capacity asked for is a minimum; 6.18, where sheaves
		// were opt-in, took it as the capacity (the PS-v5 benchmark's 32).
		c.sheafCapacity = max(sheafCapacityFor(c.size), sheafCapacity)
		if d == Hybrid && sheafCapacity > 0 {
			c.sheafCapacity = sheafCapacity
		}
		c.pp, c.backing, c.fast = sheavesPercpu{}, slabBacking{}, fastSheaves
		if d == Hybrid {
			c.pp, c.backing = hybridPercpu{}, cpuSlabPercpu{}
		}
	case d == CPUSlab:
		c.pp = cpuSlabPercpu{}
		if c.lockless {
			// Written out with the instruction; the compare-and-store
			// fallback goes through cpuSlabPercpu.
			c.fast = fastCPUSlab
		}
	case d == CPUSlabLocked:
		c.pp = cpuSlabLockedPercpu{}
	}
	if d != Sheaves {
		c.cpuPartial, c.cpuPartialSlabs = cpuPartialFor(c.size, c.objsPerSlab)
	}
	c.limitCached(maxCached)
	if c.sheafCapacity > 0 {
		c.pcs.Store(&pcpuArray{})
		c.growPCS(gomaxprocs() - 1)
	}
	if d != Sheaves {
		c.initCPUs()
	}
	if c.debug&DebugFailSlab != 0 {
		c.fast = fastNone // Alloc must ask failslab first
	}
}
