package alloc

// EventKind names a trace point.
type EventKind int

const (
	EventNewSlab       EventKind = iota // a new slab was set up (list_lock held)
	EventSlabFree                       // a slab went back to the page heap (list_lock held)
	EventSheafRefill                    // a sheaf was refilled from slabs (Objects: how many)
	EventSheafFlush                     // a sheaf was flushed to slabs (Objects: how many)
	EventBarnGet                        // a full sheaf was taken from the barn (unpinned paths; see below)
	EventBarnPut                        // a full sheaf was put in the barn (unpinned paths; see below)
	EventDeactivate                     // old design: a cpu slab was deactivated (list_lock held)
	EventDeferredDrain                  // deferred frees were drained (Objects: how many)
	EventAlloc                          // DebugTrace: an object was allocated (Object, Inuse)
	EventFree                           // DebugTrace: an object was freed (Object, Inuse)
	EventRCUQueue                       // an rcu_free sheaf or kfree_rcu batch was handed to the grace-period domain (Objects)
	EventRCUDone                        // one came back after its grace period, on the domain's goroutine (Objects)
)

var eventNames = [...]string{"new_slab", "slab_free", "sheaf_refill", "sheaf_flush",
	"barn_get", "barn_put", "cpu_slab_deactivate", "deferred_drain", "alloc", "free",
	"rcu_queue", "rcu_done"}

func (k EventKind) String() string {
	if k < 0 || int(k) >= len(eventNames) {
		return "unknown"
	}
	return eventNames[k]
}

// Event is what a Config.Trace hook receives. The hook runs synchronously at
// the trace point, sometimes with the allocator's locks held (the node's
// list_lock; the per-P lock of the old design), like a kernel tracepoint, and
// never inside a pinned section. A hook may call AllocNoLock and FreeNoLock
// (and Heap.MallocNoLock, Heap.FreeNoLock) of any cache, this one included;
// calling Alloc, Free or anything else that may wait on a lock is a
// programmer error and can deadlock.
//
// Because a hook never runs pinned, the barn trades that the fast paths make
// while pinned (an empty main for a full barn sheaf, a full main for an empty
// one) are counted in BARN_GET and BARN_PUT but not traced; the barn events
// come from the unpinned slow paths. A hook may allocate and free during
// Shrink, Validate and Destroy: they hold every per-P lock while they
// flush, so the hook's objects come from and go back to slabs (or the
// deferred list, which counts as free), and Destroy reports as allocated
// exactly the objects the hook keeps. A panic in a hook reaches the caller;
// where the hook ran without list_lock (sheaf, barn and drain events) the
// allocator holds nothing afterwards, but a hook must not panic at the
// events that come with list_lock held (new_slab, slab_free,
// cpu_slab_deactivate): the lock would stay held.
//
// EventAlloc and EventFree come only from caches with DebugTrace, after the
// cache has dropped its locks.
//
// EventRCUQueue comes from FreeRCU (or a flush) once it has handed a full
// rcu_free sheaf or kfree_rcu batch over, with no lock held; EventRCUDone
// from the grace-period domain's goroutine once the objects are back in the
// barn or freed. A hook may call FreeRCU as it may call FreeNoLock. A hook
// must not wait for the cache's domain (Synchronize, Barrier, FreeRCUSync):
// EventRCUDone's hook runs on the goroutine that would have to end the wait.
type Event struct {
	Kind    EventKind
	Cache   *Cache
	Slab    uintptr // first byte of the slab, for slab and object events
	Objects int     // objects moved, for sheaf and drain events
	Object  uintptr // the object, for EventAlloc and EventFree
	Inuse   int     // the slab's objects in use just after EventAlloc or EventFree
}

// trace calls the hook, if any.
func (c *Cache) trace(kind EventKind, s *slab, n int) {
	if c.hook == nil {
		return
	}
	e := Event{Kind: kind, Cache: c, Objects: n}
	if s != nil {
		e.Slab = s.start
	}
	c.hook(e)
}
