package alloc

import (
	"sync/atomic"
)

// StatItem is one statistics counter. The names are the kernel's enum
// stat_item (mm/slub.c), so a kernel developer reads them without a
// dictionary; the first group is Linux 7.0's, the second the old design's
// and the 6.18 hybrid's (Linux 6.19 and before), then this allocator's own
// no-lock counters, and last those of FreeRCU: the kernel's FREE_RCU_SHEAF
// and FREE_RCU_SHEAF_FAIL, and this allocator's own. In the cpu slab
// designs ALLOC_FASTPATH and FREE_FASTPATH count the cpu freelist; in
// Hybrid, ALLOC_PCS and FREE_PCS count the sheaves and the two fast-path
// counters the cpu slabs below.
type StatItem int

const (
	AllocFastpath        StatItem = iota // ALLOC_FASTPATH: from the per-P sheaf, or the cpu freelist (old)
	AllocSlowpath                        // ALLOC_SLOWPATH: from a partial or new slab
	FreeFastpath                         // FREE_FASTPATH: to the per-P sheaf, or the cpu freelist (old)
	FreeSlowpath                         // FREE_SLOWPATH: to a slab's own freelist (sheaf flushes not counted)
	FreeAddPartial                       // FREE_ADD_PARTIAL: a free put a full slab on the partial list
	FreeRemovePartial                    // FREE_REMOVE_PARTIAL: a free took an empty slab off the partial list
	AllocSlab                            // ALLOC_SLAB: a new slab was allocated
	FreeSlab                             // FREE_SLAB: a slab was given back to the page heap
	CmpxchgDoubleFail                    // CMPXCHG_DOUBLE_FAIL: a slab freelist double-word CAS lost a race
	SheafFlush                           // SHEAF_FLUSH: objects flushed from sheaves to slabs
	SheafRefill                          // SHEAF_REFILL: objects refilled into sheaves from slabs
	SheafAlloc                           // SHEAF_ALLOC: a sheaf was allocated
	SheafFree                            // SHEAF_FREE: a sheaf was freed
	BarnGet                              // BARN_GET: an empty main was traded for a full sheaf from the barn
	BarnGetFail                          // BARN_GET_FAIL: the barn had no full sheaf
	BarnPut                              // BARN_PUT: a full main was traded for an empty sheaf, or put in the barn
	BarnPutFail                          // BARN_PUT_FAIL: the barn held too many full sheaves
	SheafPrefillFast                     // SHEAF_PREFILL_FAST: prefill took the per-P spare
	SheafPrefillSlow                     // SHEAF_PREFILL_SLOW: prefill took a barn or new sheaf
	SheafPrefillOversize                 // SHEAF_PREFILL_OVERSIZE: prefill larger than the sheaf capacity
	SheafReturnFast                      // SHEAF_RETURN_FAST: a returned sheaf became the per-P spare
	SheafReturnSlow                      // SHEAF_RETURN_SLOW: a returned sheaf went to the barn or was flushed

	FreeFrozen           // FREE_FROZEN: freed into a frozen (cpu) slab of another P
	AllocRefill          // ALLOC_REFILL: the cpu slab's own freelist refilled the cpu freelist
	AllocFromPartial     // ALLOC_FROM_PARTIAL: a node partial slab became the cpu slab
	CPUSlabFlush         // CPUSLAB_FLUSH: a cpu slab was flushed (Shrink, Validate, a lost race)
	DeactivateFull       // DEACTIVATE_FULL: a deactivated cpu slab was full
	DeactivateEmpty      // DEACTIVATE_EMPTY: a deactivated cpu slab was empty and freed
	DeactivateToHead     // DEACTIVATE_TO_HEAD: a deactivated cpu slab went to the head of the partial list
	DeactivateToTail     // DEACTIVATE_TO_TAIL: ... to the tail
	DeactivateRemoteFree // DEACTIVATE_REMOTE_FREES: the deactivated slab had remote frees
	DeactivateBypass     // DEACTIVATE_BYPASS: the cpu slab was dropped because it had no free objects
	CmpxchgDoubleCPUFail // CMPXCHG_DOUBLE_CPU_FAIL: the (freelist, tid) CAS failed
	CPUPartialAlloc      // CPU_PARTIAL_ALLOC: a cpu partial slab became the cpu slab
	CPUPartialFree       // CPU_PARTIAL_FREE: a free put a full slab on the cpu partial list
	CPUPartialNode       // CPU_PARTIAL_NODE: a node partial slab went to the cpu partial list
	CPUPartialDrain      // CPU_PARTIAL_DRAIN: the cpu partial list was drained to the node
	AllocPCS             // ALLOC_PCS: Hybrid, an allocation served by the per-P sheaves
	FreePCS              // FREE_PCS: Hybrid, a free taken by the per-P sheaves

	NoLockAlloc        // NOLOCK_ALLOC: AllocNoLock returned an object
	NoLockAllocFail    // NOLOCK_ALLOC_FAIL: AllocNoLock returned nil
	NoLockBusy         // NOLOCK_BUSY: a no-lock call found a lock held (old design: the per-P lock)
	NoLockRetry        // NOLOCK_RETRY: MallocNoLock retried with the next larger size class
	NoLockFree         // NOLOCK_FREE: FreeNoLock freed at once
	NoLockFreeDeferred // NOLOCK_FREE_DEFERRED: FreeNoLock deferred the object
	DeferredDrain      // DEFERRED_DRAIN: deferred objects freed later

	FreeRCUSheaf     // FREE_RCU_SHEAF: FreeRCU put the object in the P's rcu_free sheaf
	FreeRCUSheafFail // FREE_RCU_SHEAF_FAIL: no rcu_free sheaf could take it; it went to a kfree_rcu batch
	FreeRCUBatch     // FREE_RCU_BATCH: FreeRCU put the object in a kfree_rcu batch (cpu slab designs, debug caches, the fallback)
	RCUQueue         // RCU_QUEUE: an rcu_free sheaf or kfree_rcu batch was handed to the grace-period domain
	RCUFree          // RCU_FREE: objects whose grace period ended, back in the barn or freed

	NumStatItems
)

var statNames = [NumStatItems]string{
	"ALLOC_FASTPATH", "ALLOC_SLOWPATH", "FREE_FASTPATH", "FREE_SLOWPATH",
	"FREE_ADD_PARTIAL", "FREE_REMOVE_PARTIAL", "ALLOC_SLAB", "FREE_SLAB",
	"CMPXCHG_DOUBLE_FAIL", "SHEAF_FLUSH", "SHEAF_REFILL", "SHEAF_ALLOC",
	"SHEAF_FREE", "BARN_GET", "BARN_GET_FAIL", "BARN_PUT", "BARN_PUT_FAIL",
	"SHEAF_PREFILL_FAST", "SHEAF_PREFILL_SLOW", "SHEAF_PREFILL_OVERSIZE",
	"SHEAF_RETURN_FAST", "SHEAF_RETURN_SLOW",
	"FREE_FROZEN", "ALLOC_REFILL", "ALLOC_FROM_PARTIAL", "CPUSLAB_FLUSH",
	"DEACTIVATE_FULL", "DEACTIVATE_EMPTY", "DEACTIVATE_TO_HEAD",
	"DEACTIVATE_TO_TAIL", "DEACTIVATE_REMOTE_FREES", "DEACTIVATE_BYPASS",
	"CMPXCHG_DOUBLE_CPU_FAIL", "CPU_PARTIAL_ALLOC", "CPU_PARTIAL_FREE",
	"CPU_PARTIAL_NODE", "CPU_PARTIAL_DRAIN", "ALLOC_PCS", "FREE_PCS",
	"NOLOCK_ALLOC", "NOLOCK_ALLOC_FAIL", "NOLOCK_BUSY", "NOLOCK_RETRY", "NOLOCK_FREE",
	"NOLOCK_FREE_DEFERRED", "DEFERRED_DRAIN",
	"FREE_RCU_SHEAF", "FREE_RCU_SHEAF_FAIL", "FREE_RCU_BATCH", "RCU_QUEUE", "RCU_FREE",
}

// String returns the kernel name, e.g. "ALLOC_FASTPATH".
func (i StatItem) String() string {
	if i < 0 || i >= NumStatItems {
		return "STAT_UNKNOWN"
	}
	return statNames[i]
}

// Counters holds one value per StatItem.
type Counters [NumStatItems]uint64

// Stats describes a cache at one moment. Under concurrent use the object
// counts are approximate (see Cache.Stats for how), and the event counters
// are read one by one.
type Stats struct {
	Name           string
	Design         Design
	ObjectSize     int // the size asked for
	Size           int // bytes per object slot, metadata included (the kernel's s->size)
	SlabSize       int // bytes per slab
	ObjectsPerSlab int // objects per slab
	SheafCapacity  int // sheaf capacity; 0 for the old design and debug caches
	CPUPartial     int // the old design's cpu_partial objects; 0 otherwise
	// MaxCachedObjects is the most free objects the per-P caches and the
	// barn may hold (bound.go): what Config.MaxCachedObjects asked for, or
	// the design's own bound.
	MaxCachedObjects int64
	Slabs            int64 // slabs held
	PartialSlabs     int64 // slabs on the node partial list
	Objects          int64 // object slots in all slabs
	ActiveObjects    int64 // objects handed out to callers
	CachedObjects    int64 // free objects held by per-P sheaves or cpu freelists and the barn
	DeferredFrees    int64 // objects waiting on the FreeNoLock deferred list
	RCUPending       int64 // objects freed with FreeRCU whose grace period has not ended
	RCUSlabs         int64 // TypesafeByRCU: freed slabs whose pages wait for a grace period
	SlabBytes        int64 // bytes of slab memory held (RCUSlabs' pages not included)
	Counters         Counters
	// RCU is the counters of the cache's grace-period domain, once
	// FreeRCU or TypesafeByRCU has used it (grace periods completed,
	// deferred frees pending); zero before.
	RCU RCUStats
}

// Counter returns the counter with the kernel name name (e.g.
// "ALLOC_FASTPATH", case as the kernel writes it), or 0 for an unknown name.
func (s Stats) Counter(name string) uint64 {
	for i, n := range statNames {
		if n == name {
			return s.Counters[i]
		}
	}
	return 0
}

// loadCounter reads a counter that others increment.
func loadCounter(p *uint64) uint64 { return atomic.LoadUint64(p) }

// stat counts an event that happened outside a pinned section.
func (c *Cache) stat(i StatItem) { c.stats[i].Add(1) }

func (c *Cache) statAdd(i StatItem, n int) { c.stats[i].Add(uint64(n)) }
