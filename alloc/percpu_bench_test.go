package alloc

import "testing"

// BenchmarkPinLock is what a per-P operation pays before it touches its data
// in the Sheaves and CPUSlab designs: procPin, the owner's side of the
// localLock (a plain store and a plain load), its release, procUnpin. It
// isolates the cost of pinning from the cost of the CAS (asm's
// BenchmarkCAS, impl=cmpxchg16b against impl=local-cmpxchg16b) when the
// cpuslab and cpuslab-locked pairs are compared.
func BenchmarkPinLock(b *testing.B) {
	c := mustCache(b, "pinlock", 64, Config{})
	defer mustDestroy(b, c)
	b.Run("op=pin", func(b *testing.B) {
		for b.Loop() {
			procPin()
			procUnpin()
		}
	})
	b.Run("op=pin+lock", func(b *testing.B) {
		for b.Loop() {
			p := c.pcsLock()
			pcsUnlock(p)
		}
	})
}
