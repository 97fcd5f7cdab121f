//go:build race

package alloc

import "sync/atomic"

// pstat counts a per-P event; the owner holds its localLock. Stats reads the
// counters without that lock, so the race detector build counts atomically.
func pstat(p *uint64) { atomic.AddUint64(p, 1) }

func pstatAdd(p *uint64, n int) { atomic.AddUint64(p, uint64(n)) }
