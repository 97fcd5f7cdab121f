package bench

import (
	"math/bits"
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/bytedance/gopkg/lang/mcache"
	"modernc.org/memory"
)

// The baselines: what a Go programmer would use instead of package alloc.

var baselineDesigns = []*Design{
	{
		Name:     "goheap",
		Doc:      "make([]byte, n) on the Go heap; Free does nothing, the garbage collector reclaims",
		Baseline: true,
		Lacks:    baselineLacks("the Go heap"),
		New:      func(Spec) (Allocator, error) { return goHeap{}, nil },
	},
	{
		Name:     "syncpool",
		Doc:      "one sync.Pool per size (per 16-byte size class for varying sizes)",
		Baseline: true,
		Lacks:    baselineLacks("sync.Pool"),
		New:      newSyncPool,
	},
	{
		Name:     "modernc",
		Doc:      "modernc.org/memory, behind a sync.Mutex when the workload is concurrent",
		Baseline: true,
		Lacks:    baselineLacks("modernc.org/memory"),
		New: func(s Spec) (Allocator, error) {
			return &moderncAlloc{locked: s.Concurrent}, nil
		},
	},
	{
		Name:     "mcache",
		Doc:      "github.com/bytedance/gopkg/lang/mcache: sync.Pools of power-of-two byte slices",
		Baseline: true,
		Lacks:    baselineLacks("gopkg mcache"),
		New:      func(Spec) (Allocator, error) { return mcacheAlloc{}, nil },
	},
}

func baselineLacks(what string) map[Capability]string {
	return map[Capability]string{
		CapBulk:    what + " has no bulk API (a loop of single calls is Batch/order=inorder)",
		CapNoLock:  what + " has no no-lock API",
		CapTrace:   what + " has no trace hook",
		CapFreeRCU: what + " has no FreeRCU",
		CapSheaves: what + " has no sheaves",
	}
}

// goHeap allocates on the Go heap. The workloads keep the pointers in Go
// memory, so the garbage collector sees them as live until they are dropped.
type goHeap struct{}

func (goHeap) Alloc(size int) unsafe.Pointer {
	return unsafe.Pointer(unsafe.SliceData(make([]byte, size)))
}
func (goHeap) Free(unsafe.Pointer, int) {}
func (goHeap) Shrink()                  { debug.FreeOSMemory() }
func (goHeap) Footprint() int64         { return goHeapFootprint() }

// syncPool keeps one sync.Pool per size class.
type syncPool struct {
	fixed int // object size, or 0 for classes
	pools []sync.Pool
}

// poolClass is the size-class step of syncPool for varying sizes.
const poolClass = 16

func newSyncPool(s Spec) (Allocator, error) {
	p := &syncPool{fixed: s.Size}
	n := 1
	if s.Size == 0 {
		n = (s.MaxSize + poolClass - 1) / poolClass
	}
	p.pools = make([]sync.Pool, n)
	for i := range p.pools {
		size := s.Size
		if size == 0 {
			size = (i + 1) * poolClass
		}
		p.pools[i].New = func() any { return unsafe.Pointer(unsafe.SliceData(make([]byte, size))) }
	}
	return p, nil
}

func (p *syncPool) pool(size int) *sync.Pool {
	if p.fixed != 0 {
		return &p.pools[0]
	}
	return &p.pools[(size-1)/poolClass]
}

func (p *syncPool) Alloc(size int) unsafe.Pointer   { return p.pool(size).Get().(unsafe.Pointer) }
func (p *syncPool) Free(o unsafe.Pointer, size int) { p.pool(size).Put(o) }
func (p *syncPool) Shrink()                         { debug.FreeOSMemory() }
func (p *syncPool) Footprint() int64                { return goHeapFootprint() }

// moderncAlloc is modernc.org/memory's allocator, which is not safe for
// concurrent use: a mutex guards it when the workload is concurrent.
type moderncAlloc struct {
	locked bool
	mu     sync.Mutex
	a      memory.Allocator
}

func (m *moderncAlloc) Alloc(size int) unsafe.Pointer {
	if m.locked {
		m.mu.Lock()
		defer m.mu.Unlock()
	}
	p, err := m.a.UnsafeMalloc(size)
	if err != nil {
		return nil
	}
	return p
}

func (m *moderncAlloc) Free(p unsafe.Pointer, _ int) {
	if m.locked {
		m.mu.Lock()
		defer m.mu.Unlock()
	}
	if err := m.a.UnsafeFree(p); err != nil {
		panic("modernc free: " + err.Error())
	}
}

func (m *moderncAlloc) Shrink() {
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.a.Trim() // an error leaves the memory mapped, which the footprint shows
}

func (m *moderncAlloc) Footprint() int64 { return offHeapFootprint() }

func (m *moderncAlloc) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.a.Close()
}

// mcacheAlloc is bytedance's mcache. Its Free finds the pool by the slice's
// capacity, which Malloc made the next power of two.
type mcacheAlloc struct{}

func (mcacheAlloc) Alloc(size int) unsafe.Pointer {
	return unsafe.Pointer(unsafe.SliceData(mcache.Malloc(size)))
}

func (mcacheAlloc) Free(p unsafe.Pointer, size int) {
	mcache.Free(unsafe.Slice((*byte)(p), pow2(size)))
}

func (mcacheAlloc) Shrink()          { debug.FreeOSMemory() }
func (mcacheAlloc) Footprint() int64 { return goHeapFootprint() }

// pow2 returns the smallest power of two >= n (1 for n <= 1).
func pow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}
