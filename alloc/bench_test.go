package alloc

import (
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

// The alloc benchmarks: the cost of the fast paths against the floor any
// per-P design can reach and against what a Go program would use instead.
// Compare with benchstat, e.g.
//
//	go test -run '^$' -bench 'Pair' -count 10 ./alloc > pair.txt
//	benchstat -col /design pair.txt

// floorStack is a bare per-P stack: the floor workload.
type floorStack struct {
	objs [64]uintptr
	n    int
	_    [64]byte
}

// BenchmarkPair is one Alloc and one Free of a 64-byte object.
func BenchmarkPair(b *testing.B) {
	b.Run("design=floor", func(b *testing.B) {
		stacks := make([]floorStack, gomaxprocs())
		for i := range stacks {
			stacks[i].objs[0] = 1
			stacks[i].n = 1
		}
		var sink uintptr
		for b.Loop() {
			pid := procPin()
			s := &stacks[pid]
			s.n--
			a := s.objs[s.n]
			procUnpin()
			sink += a
			pid = procPin()
			s = &stacks[pid]
			s.objs[s.n] = a
			s.n++
			procUnpin()
		}
		_ = sink
	})
	for _, v := range variants() {
		b.Run("design="+pairName(v), func(b *testing.B) {
			c := mustCache(b, "bench", 64, v.cfg)
			for b.Loop() {
				c.Free(c.Alloc())
			}
			b.StopTimer()
			mustDestroy(b, c)
		})
	}
	b.Run("design=syncpool", func(b *testing.B) {
		p := sync.Pool{New: func() any { return new([64]byte) }}
		for b.Loop() {
			p.Put(p.Get())
		}
	})
	b.Run("design=new", func(b *testing.B) {
		var sink *[64]byte
		for b.Loop() {
			sink = new([64]byte)
		}
		runtime.KeepAlive(sink)
	})
}

func pairName(v variant) string {
	switch v.name {
	case "sheaves/nodcas":
		return "sheaves-nodcas"
	case "cpuslab/nodcas":
		return "cpuslab-nodcas"
	}
	return v.name
}

// BenchmarkKmallocPair is one Heap.Malloc and one Heap.Free of 64 bytes.
func BenchmarkKmallocPair(b *testing.B) {
	for _, v := range variants() {
		b.Run("design="+pairName(v), func(b *testing.B) {
			h, err := NewHeap(v.cfg)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				h.Free(h.Malloc(64))
			}
			b.StopTimer()
			if err := h.Destroy(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkPairParallel is the pair with every P busy.
func BenchmarkPairParallel(b *testing.B) {
	for _, v := range variants() {
		b.Run("design="+pairName(v), func(b *testing.B) {
			c := mustCache(b, "bench", 64, v.cfg)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.Free(c.Alloc())
				}
			})
			b.StopTimer()
			mustDestroy(b, c)
		})
	}
}

// BenchmarkNoLockPair is one AllocNoLock and one FreeNoLock.
func BenchmarkNoLockPair(b *testing.B) {
	for _, v := range variants() {
		b.Run("design="+pairName(v), func(b *testing.B) {
			c := mustCache(b, "bench", 64, v.cfg)
			for b.Loop() {
				c.FreeNoLock(c.AllocNoLock())
			}
			b.StopTimer()
			c.Shrink()
			mustDestroy(b, c)
		})
	}
}

// BenchmarkBatch allocates n objects, then frees them (the sheaves v5 cover
// letter's benchmark); ns/op is per object.
func BenchmarkBatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, v := range variants() {
			b.Run("n="+itoa(n)+"/design="+pairName(v), func(b *testing.B) {
				c := mustCache(b, "bench", 64, v.cfg)
				objs := make([]unsafe.Pointer, n)
				for b.Loop() {
					for i := range objs {
						objs[i] = c.Alloc()
					}
					for _, o := range objs {
						c.Free(o)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/obj")
				b.StopTimer()
				mustDestroy(b, c)
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// BenchmarkFreeCheck is the part of Free that checks the pointer (the
// address-to-slab lookup and the slot check) before anything changes.
func BenchmarkFreeCheck(b *testing.B) {
	c := mustCache(b, "bench", 64, Config{})
	p := c.Alloc()
	for b.Loop() {
		c.checkObject("Free", uintptr(p))
	}
	b.StopTimer()
	c.Free(p)
	mustDestroy(b, c)
}
