//go:build (amd64 || 386) && !race

package alloc

import "sync/atomic"

// ownerStore is the owner's store to its localLock. On these total-store-order
// machines a plain store is a release store; the store-load order that Dekker
// needs comes from the remote side's membarrier, or from an atomic exchange
// where membarrier is missing.
func ownerStore(p *uint32, v uint32) {
	if ownerFence {
		atomic.StoreUint32(p, v)
		return
	}
	*p = v
}

// ownerRelease is the owner's unlock store. Releasing needs no store-load
// order, and a plain store is a release store here, so it never fences.
func ownerRelease(p *uint32) { *p = 0 }
