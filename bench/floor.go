package bench

import (
	"runtime"
	"sync"
	"unsafe"
)

// procPin disables preemption and returns the id of the current P; see
// runtime/proc.go, which keeps it available to linkname.
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// floorDesign is no allocator: a per-P stack of pointers popped and pushed
// under procPin, the least any per-P cache can cost on this machine. Only
// Pair and PairParallel run on it.
var floorDesign = &Design{
	Name: "floor",
	Doc:  "no allocator: a per-P pointer stack popped and pushed under procPin (Pair only)",
	Lacks: map[Capability]string{
		CapVarSize: "floor is the Pair fast-path bound, not an allocator",
		CapBulk:    "floor is the Pair fast-path bound, not an allocator",
		CapNoLock:  "floor is the Pair fast-path bound, not an allocator",
		CapTrace:   "floor is the Pair fast-path bound, not an allocator",
		CapGeneral: "floor is the Pair fast-path bound, not an allocator",
		CapFreeRCU: "floor is the Pair fast-path bound, not an allocator",
		CapSheaves: "floor is the Pair fast-path bound, not an allocator",
	},
	New: newFloor,
}

// floorDepth is the number of objects each P's stack starts with and holds.
const floorDepth = 32

// floorStack is one P's stack, on cache lines of its own (see lineSlice).
// Only the P that pinned itself touches it; mu is taken in race builds alone,
// since the race detector cannot see the exclusion procPin gives.
type floorStack struct {
	mu   sync.Mutex
	n    int
	objs [floorDepth]unsafe.Pointer
	_    [cacheLine - (unsafe.Sizeof(sync.Mutex{})+unsafe.Sizeof(0)+floorDepth*unsafe.Sizeof(unsafe.Pointer(nil)))%cacheLine]byte
}

type floor struct {
	size   int
	stacks []floorStack
}

func newFloor(s Spec) (Allocator, error) {
	f := &floor{size: s.Size, stacks: lineSlice[floorStack](runtime.GOMAXPROCS(0))}
	for i := range f.stacks {
		st := &f.stacks[i]
		backing := make([]byte, floorDepth*s.Size)
		for j := range st.objs {
			st.objs[j] = unsafe.Pointer(&backing[j*s.Size])
		}
		st.n = floorDepth
	}
	return f, nil
}

// Alloc and Free are floor's Allocator methods; like those of every design,
// each makes one direct call to the allocator proper, here pop and push,
// which are kept out of line so that the call stays (see "Call depth" in the
// package documentation).
func (f *floor) Alloc(int) unsafe.Pointer     { return f.pop() }
func (f *floor) Free(p unsafe.Pointer, _ int) { f.push(p) }

//go:noinline
func (f *floor) pop() unsafe.Pointer {
	pid := procPin()
	if pid < len(f.stacks) {
		st := &f.stacks[pid]
		if raceEnabled {
			st.mu.Lock()
		}
		if st.n > 0 {
			st.n--
			p := st.objs[st.n]
			if raceEnabled {
				st.mu.Unlock()
			}
			procUnpin()
			return p
		}
		if raceEnabled {
			st.mu.Unlock()
		}
	}
	procUnpin()
	// Only when a goroutine moved between Alloc and Free and left this P's
	// stack empty.
	return unsafe.Pointer(unsafe.SliceData(make([]byte, f.size)))
}

//go:noinline
func (f *floor) push(p unsafe.Pointer) {
	pid := procPin()
	if pid < len(f.stacks) {
		st := &f.stacks[pid]
		if raceEnabled {
			st.mu.Lock()
		}
		if st.n < floorDepth {
			st.objs[st.n] = p
			st.n++
		}
		if raceEnabled {
			st.mu.Unlock()
		}
	}
	procUnpin()
}
