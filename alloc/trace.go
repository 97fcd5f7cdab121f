package alloc

// EventKind names a trace point.
type EventKind int

const (
	EventNewSlab       EventKind = iota // a new slab was set up, before any object of it is handed out
	EventSlabFree                       // a slab went back to the page heap
	EventSheafRefill                    // a sheaf was refilled from slabs (Objects: how many)
	EventSheafFlush                     // a sheaf was flushed to slabs (Objects: how many)
	EventBarnGet                        // a full sheaf was taken from the barn (unpinned paths; see below)
	EventBarnPut                        // a full sheaf was put in the barn (unpinned paths; see below)
	EventDeactivate                     // old design: a cpu slab was deactivated
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
// the trace point, like a kernel tracepoint, but never inside a pinned
// section and never with list_lock held: the slab events (new_slab,
// slab_free, cpu_slab_deactivate) fire once list_lock is dropped, and
// while their hook runs, no-lock calls on the cache find list_lock busy,
// as if it were still held (they give up or defer). Some run
// with other locks held: CPUSlabLocked's per-P lock around its slow path,
// and every per-P lock while Shrink, Validate and Destroy flush. A hook may
// call AllocNoLock and FreeNoLock (and Heap.MallocNoLock, Heap.FreeNoLock)
// of any cache, this one included; calling Alloc, Free or anything else
// that may wait on a lock is a programmer error and can deadlock.
//
// Because a hook never runs pinned, the barn trades that the fast paths make
// while pinned (an empty main for a full barn sheaf, a full main for an empty
// one) are counted in BARN_GET and BARN_PUT but not traced; the barn events
// come from the unpinned slow paths. A hook may allocate and free during
// Shrink, Validate and Destroy: they hold every per-P lock while they
// flush, so the hook's objects come from and go back to slabs (or the
// deferred list, which counts as free), and Destroy reports as allocated
// exactly the objects the hook keeps.
//
// A panic in a hook reaches the caller, and the allocator holds no lock
// afterwards and has lost nothing: every event fires once the state it
// reports is consistent, a new slab that a panic interrupts goes back as
// if never made, and the paths that were moving objects when the hook ran
// (a refill, a bulk allocation or free, a flush, a slow-path allocation
// that had taken its object) give them back before the panic goes on.
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

// traceSlab fires a slab event (new_slab, slab_free, cpu_slab_deactivate)
// once list_lock is dropped. While its hook runs, no-lock calls on the
// cache find list_lock busy, as when these events fired under it: the
// hook's own no-lock calls take only what needs no list_lock, and so can
// neither recurse (a new slab for the hook's allocation) nor set off slab
// events without end.
func (c *Cache) traceSlab(kind EventKind, slab uintptr, n int) {
	if c.hook == nil {
		return
	}
	c.node.slabHooks.Add(1)
	defer c.node.slabHooks.Add(-1)
	c.trace(kind, slab, n)
}

// trace calls the hook, if any.
func (c *Cache) trace(kind EventKind, slab uintptr, n int) {
	if c.hook == nil {
		return
	}
	c.hook(Event{Kind: kind, Cache: c, Slab: slab, Objects: n})
}
