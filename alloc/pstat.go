//go:build !race

package alloc

// pstat counts a per-P event; the owner holds its localLock, so a plain
// increment is exact. Stats reads the counters with atomic loads.
func pstat(p *uint64) { *p++ }

func pstatAdd(p *uint64, n int) { *p += uint64(n) }
