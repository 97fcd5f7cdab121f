package alloc

import "sync/atomic"

// memLimit accounts the slab memory of a cache, or of all the caches and
// large allocations of a heap, against Config.MemoryLimit.
type memLimit struct {
	max  int64 // 0: no limit
	used atomic.Int64
}

// reserve takes n bytes from the limit; false when that would pass it.
func (l *memLimit) reserve(n int64) bool {
	if l.max == 0 {
		l.used.Add(n)
		return true
	}
	for {
		u := l.used.Load()
		if u+n > l.max {
			return false
		}
		if l.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (l *memLimit) release(n int64) { l.used.Add(-n) }
