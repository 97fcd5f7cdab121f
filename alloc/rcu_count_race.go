//go:build race

package alloc

import "sync/atomic"

// rcuPlainCounts is false in race detector builds: the detector must see
// the readers' increments as synchronization with the grace-period code.
const rcuPlainCounts = false

// rcuCount counts a reader's lock or unlock in its P's slot, atomically so
// that the race detector sees it (see doc.go).
func rcuCount(p *uint64) { atomic.AddUint64(p, 1) }
