package asm_test

import (
	"sync/atomic"
	"testing"

	"github.com/goslub/slub/asm"
)

// The benchmarks compare the 128-bit CAS, as CompareAndSwap dispatches it
// (impl=cmpxchg16b, casp or none) and as the portable implementation
// (impl=portable), with a 64-bit sync/atomic CAS (width=64). "Uncontended"
// is one goroutine on its own word; "Parallel" is every goroutine of
// RunParallel on one shared pair, retrying with a fresh Load until its CAS
// succeeds, as the allocator's lockless paths do.

type benchImpl struct {
	name string
	cas  func(p *asm.Pair, oldLo, oldHi, newLo, newHi uint64) bool
	load func(p *asm.Pair) (lo, hi uint64)
}

func benchImpls() []benchImpl {
	return []benchImpl{
		{"impl=" + asm.Instruction(), asm.CompareAndSwap, asm.Load},
		{"impl=portable", asm.PortableCAS, asm.PortableLoad},
	}
}

func BenchmarkCAS(b *testing.B) {
	for _, im := range benchImpls() {
		b.Run("width=128/"+im.name, func(b *testing.B) {
			p := &asm.MakePairs(1)[0]
			for i := uint64(0); b.Loop(); i++ {
				if !im.cas(p, i, 2*i, i+1, 2*(i+1)) {
					b.Fatal("uncontended CAS failed")
				}
			}
		})
	}
	// The same instruction without the LOCK prefix (the kernel's
	// this_cpu_cmpxchg128), or the relaxed CASP: what a pinned per-P pair
	// costs.
	b.Run("width=128/impl=local-"+asm.Instruction(), func(b *testing.B) {
		p := &asm.MakePairs(1)[0]
		for i := uint64(0); b.Loop(); i++ {
			if !asm.CompareAndSwapLocal(p, i, 2*i, i+1, 2*(i+1)) {
				b.Fatal("uncontended CAS failed")
			}
		}
	})
	b.Run("width=64/impl=atomic", func(b *testing.B) {
		var w atomic.Uint64
		for i := uint64(0); b.Loop(); i++ {
			if !w.CompareAndSwap(i, i+1) {
				b.Fatal("uncontended CAS failed")
			}
		}
	})
}

func BenchmarkLoad(b *testing.B) {
	for _, im := range benchImpls() {
		b.Run("width=128/"+im.name, func(b *testing.B) {
			p := &asm.MakePairs(1)[0]
			var sum uint64
			for b.Loop() {
				lo, hi := im.load(p)
				sum += lo + hi
			}
			if sum != 0 {
				b.Fatal("pair changed")
			}
		})
	}
	b.Run("width=64/impl=atomic", func(b *testing.B) {
		var w atomic.Uint64
		var sum uint64
		for b.Loop() {
			sum += w.Load()
		}
		if sum != 0 {
			b.Fatal("word changed")
		}
	})
}

func BenchmarkCASParallel(b *testing.B) {
	for _, im := range benchImpls() {
		b.Run("width=128/"+im.name, func(b *testing.B) {
			p := &asm.MakePairs(1)[0]
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					for {
						lo, hi := im.load(p)
						if im.cas(p, lo, hi, lo+1, hi-1) {
							break
						}
					}
				}
			})
			if p.Lo != -p.Hi {
				b.Fatalf("pair %d:%d: halves moved apart", p.Lo, p.Hi)
			}
		})
	}
	b.Run("width=64/impl=atomic", func(b *testing.B) {
		var w atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				for {
					v := w.Load()
					if w.CompareAndSwap(v, v+1) {
						break
					}
				}
			}
		})
	})
}
