//go:build !race

package alloc

import (
	"sync/atomic"
	"unsafe"
)

// rcuPlainCounts is true where a reader's counter increment may be a plain
// add: membarrier stands in for the reader's barriers, and a 64-bit store
// cannot tear. See doc.go.
var rcuPlainCounts = !ownerFence && unsafe.Sizeof(uintptr(0)) == 8

// rcuCount counts a reader's lock or unlock in its P's slot; the caller is
// pinned to that P, so it is the slot's only writer.
func rcuCount(p *uint64) {
	if rcuPlainCounts {
		*p++
		return
	}
	atomic.AddUint64(p, 1)
}
