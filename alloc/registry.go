package alloc

import (
	"slices"
	"sync"
)

// The registry of live caches: every cache that NewCache or NewHeap made,
// from its creation until a successful Destroy, so that a program can look
// at all of its caches at once (WriteSlabInfo(w, Caches()...), the
// slabinfo package's /debug/slabinfo handler and expvar variable).
var registry struct {
	mu     sync.Mutex
	caches map[*Cache]uint64 // live cache -> creation sequence number, under mu
	seq    uint64            // under mu
}

// register adds a new cache to the registry.
func register(c *Cache) {
	registry.mu.Lock()
	if registry.caches == nil {
		registry.caches = make(map[*Cache]uint64)
	}
	registry.seq++
	registry.caches[c] = registry.seq
	registry.mu.Unlock()
}

// unregister removes a destroyed cache from the registry.
func unregister(c *Cache) {
	registry.mu.Lock()
	delete(registry.caches, c)
	registry.mu.Unlock()
}

// Caches returns every live cache of the process, those of heaps included,
// in the order they were created. A cache leaves the list when Destroy (or
// its heap's Destroy) succeeds.
func Caches() []*Cache {
	registry.mu.Lock()
	all := make([]*Cache, 0, len(registry.caches))
	for c := range registry.caches {
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b *Cache) int {
		sa, sb := registry.caches[a], registry.caches[b]
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return 0
	})
	registry.mu.Unlock()
	return all
}
