package alloc

import (
	"runtime"
	"sync/atomic"
)

// Model: alloc/model/locallock.pml (the owner's plain store and load against
// remote lockers with their flag and membarrier; it fails without the
// barrier).
//
// localLock protects one P's per-P data (its sheaves, or its cpu slab in the
// old design) the way local_trylock protects a CPU's data in the kernel: the
// owner, pinned to the P, takes it without an atomic read-modify-write.
//
// The owner writes busy = 1 and then reads remote; a remote flusher (Shrink,
// Validate, Destroy, a shrinking GOMAXPROCS) writes remote = 1 and then reads
// busy. This is Dekker's mutual exclusion: it needs each side's store to be
// visible before its load. The owner's side stays a plain store and a plain
// load on amd64 and 386 because the remote side issues membarrier(2), which
// runs a full barrier on every CPU running this process, between its store
// and its load (an asymmetric fence). Where membarrier is missing the owner
// uses an atomic store instead (see ownerStore). On arm64 the atomic store is
// STLR and the load LDAR, which are ordered by themselves.
//
// The owner never waits: when remote is set, tryLock fails and the caller
// takes its slow path, which does not touch per-P data. A remote locker waits
// for busy to drop, which takes no longer than one pinned section.
type localLock struct {
	busy   uint32 // written by the owner while pinned; read by remote lockers
	remote uint32 // atomic; written by remote lockers under Cache.flushMu
}

// tryLock takes the lock for the pinned owner. It fails only while a remote
// locker holds it.
func (l *localLock) tryLock() bool {
	ownerAcquire(l)
	ownerStore(&l.busy, 1)
	if atomic.LoadUint32(&l.remote) != 0 {
		ownerRelease(&l.busy)
		return false
	}
	return true
}

// unlock releases the owner's hold: a release store, so everything the
// owner wrote is visible to a remote locker that sees busy == 0.
func (l *localLock) unlock() { ownerRelease(&l.busy) }

// lockRemote takes the locks of all ls from outside their Ps. The caller
// holds the cache's flushMu so that remote lockers exclude each other.
func lockRemote(ls []*localLock) {
	for _, l := range ls {
		atomic.StoreUint32(&l.remote, 1)
	}
	asymmetricFence()
	for _, l := range ls {
		for i := 0; atomic.LoadUint32(&l.busy) != 0; i++ {
			if i > 64 {
				runtime.Gosched()
			}
		}
	}
}

// unlockRemote releases what lockRemote took.
func unlockRemote(ls []*localLock) {
	for _, l := range ls {
		atomic.StoreUint32(&l.remote, 0)
	}
}
