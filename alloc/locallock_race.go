//go:build race

package alloc

import "sync/atomic"

// ownerAcquire gives the race detector the order between two owners of one
// P's lock. Goroutines that run on a P one after the other are ordered by
// the scheduler, which the detector does not see; an atomic load of busy,
// which the previous owner released with an atomic store, shows it.
func ownerAcquire(l *localLock) { atomic.LoadUint32(&l.busy) }
