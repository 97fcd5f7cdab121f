package alloc

// The live-object profile: a runtime/pprof custom profile that holds, for
// every object of a cache with call-site tracking (DebugStoreUser, the U
// letter), the call stack that allocated it, until it is freed. A program
// that serves net/http/pprof shows it at /debug/pprof/ under its name, so
//
//	go tool pprof http://HOST/debug/pprof/github.com/goslub/slub/alloc.live
//
// finds the allocation sites of objects that pile up in a running program,
// long before Destroy would name them. No Go allocator offers this: the
// runtime's heap profile samples allocations but cannot say which of them
// are still reachable by the program rather than by the collector.
//
// Debug caches are slow already; what this adds to each allocation is one
// stack walk and a map insert, to each free a map delete.

import (
	"runtime"
	"runtime/pprof"
	"sync"
)

// LiveProfileName is the name of the live-object profile in
// pprof.Lookup and under /debug/pprof/.
const LiveProfileName = "github.com/goslub/slub/alloc.live"

var liveProfile = pprof.NewProfile(LiveProfileName)

// liveMu orders the profile's updates of one address: an object is removed
// before it can be handed out again, and is never added twice, which would
// make pprof panic.
var liveMu sync.Mutex

// LiveProfile returns the profile of live objects of the caches with
// DebugStoreUser, by allocation stack: one count per object, the stack
// starting at the caller of the allocator (Alloc, Malloc, New, Allocate,
// MakeSlice, ...; for a prefilled sheaf, the caller of Sheaf.Alloc). The
// caches without U, and the large allocations of heaps, are not in it.
//
// The no-lock calls only try to take the profile's lock: an AllocNoLock
// that loses the race leaves its object out of the profile, and a
// FreeNoLock that loses it defers the free, as when list_lock is busy, so
// the object leaves the profile when the deferred list is drained.
func LiveProfile() *pprof.Profile { return liveProfile }

// liveAdd records a as live with the current call stack. With noblock it
// only try-locks, and records nothing when that fails.
func (c *Cache) liveAdd(a uintptr, noblock bool) {
	if !c.dbg.user {
		return
	}
	if noblock {
		if !liveMu.TryLock() {
			return
		}
	} else {
		liveMu.Lock()
	}
	liveProfile.Remove(a) // only a misuse (a double free debugging missed) leaves one
	// Add's skip counts Add itself: 1 + allocatorDepth starts the stack
	// at the program's call into the allocator.
	liveProfile.Add(a, 1+allocatorDepth())
	liveMu.Unlock()
}

// liveRemove records a as freed, before a goes back to its slab. With
// noblock it only try-locks and returns false when that fails: the caller
// must then defer the free, whose drain calls liveRemove again.
func (c *Cache) liveRemove(a uintptr, noblock bool) bool {
	if !c.dbg.user {
		return true
	}
	if noblock {
		if !liveMu.TryLock() {
			return false
		}
	} else {
		liveMu.Lock()
	}
	liveProfile.Remove(a)
	liveMu.Unlock()
	return true
}

// allocatorDepth returns how many frames, from its caller up, belong to
// this package's entry points and methods (allocatorFrame).
//
//go:noinline
func allocatorDepth() int {
	var pcs [64]uintptr
	n := runtime.Callers(2, pcs[:]) // the caller first
	frames := runtime.CallersFrames(pcs[:n])
	depth := 0
	for {
		f, more := frames.Next()
		if !allocatorFrame(f) || !more {
			return depth
		}
		depth++
	}
}
