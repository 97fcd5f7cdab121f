//go:build !race

package alloc

import (
	"runtime"
	"testing"
)

// TestRCUWithoutMembarrier runs the reuse test the way a system without
// membarrier(2) runs the domain: atomic counter increments in the readers,
// no asymmetric fence in the grace period. (Race detector builds always
// count atomically.)
func TestRCUWithoutMembarrier(t *testing.T) {
	withProcs(t, max(4, runtime.GOMAXPROCS(0)))
	oldFence, oldPlain := ownerFence, rcuPlainCounts
	t.Logf("membarrier registered: %v, plain counts: %v", !oldFence, oldPlain)
	ownerFence, rcuPlainCounts = true, false
	defer func() { ownerFence, rcuPlainCounts = oldFence, oldPlain }()
	for _, mode := range []retireMode{retireSynchronize, retireCall} {
		r := NewRCU()
		res := runReuse(r, mode, 4, 2, reuseDuration()/2)
		r.Close()
		if res.violations != 0 {
			t.Fatalf("mode %d: %d of %d reads saw their node freed or reused; first: %s", mode, res.violations, res.reads, res.firstViolation)
		}
		if res.reused == 0 || res.lost != 0 {
			t.Fatalf("mode %d: %+v", mode, res)
		}
	}
}
