//go:build !(amd64 || 386) || race

package alloc

import "sync/atomic"

// ownerStore is the owner's store to its localLock: a sequentially
// consistent store (STLR on arm64), which orders it before the following
// load of remote without a remote fence. The race detector build uses it
// everywhere so that the detector sees the synchronization.
func ownerStore(p *uint32, v uint32) { atomic.StoreUint32(p, v) }

// ownerRelease is the owner's unlock store (STLR on arm64).
func ownerRelease(p *uint32) { atomic.StoreUint32(p, 0) }
