package alloc

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Failslab: the kernel's fault injection for slab allocations
// (should_failslab with failslab/cache-filter set), so that a program can
// test what it does when Alloc returns nil. It acts only on caches with the
// A letter (DebugFailSlab) and, as in the kernel, on Alloc, AllocBulk and
// Heap.Malloc, never on AllocNoLock, a prefilled sheaf or a large heap
// allocation (the kernel's page allocator has its own fault injection).

// FaultAttr says which allocations of the caches with DebugFailSlab fail,
// as the kernel's fault_attr does: the Interval-th eligible call, and of
// those a Probability percent, until Times failures have been injected.
type FaultAttr struct {
	Probability int // percent of the calls Interval lets through that fail, 0 to 100
	Interval    int // only every Interval-th call may fail; 0 or 1: every call
	Times       int // failures to inject at most; -1: no limit
}

// EnvFailSlab names the environment variable read when the package starts,
// in the kernel's failslab= syntax: "interval,probability,space,times"
// (space must be 0 here). Its attributes apply until SetFailSlab changes
// them.
const EnvFailSlab = "GOSLUB_FAILSLAB"

type faultState struct {
	mu       sync.Mutex
	attr     FaultAttr
	on       atomic.Bool // attr can fail something
	calls    uint64      // eligible calls, for Interval
	injected atomic.Int64
}

var failslab faultState

func init() { failSlabFromEnv() }

// failSlabFromEnv applies EnvFailSlab, if set. A value that does not parse
// is reported on stderr and ignored.
func failSlabFromEnv() {
	v, ok := os.LookupEnv(EnvFailSlab)
	if !ok {
		return
	}
	a, err := ParseFailSlab(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s ignored: %v\n", EnvFailSlab, err)
		return
	}
	failslab.set(a)
}

// ParseFailSlab parses the kernel's failslab= boot parameter:
// "interval,probability,space,times". Space (bytes to let through before
// failing) is not supported and must be 0.
func ParseFailSlab(s string) (FaultAttr, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return FaultAttr{}, fmt.Errorf("alloc: failslab %q: want interval,probability,space,times", s)
	}
	var v [4]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return FaultAttr{}, fmt.Errorf("alloc: failslab %q: %v", s, err)
		}
		v[i] = n
	}
	if v[2] != 0 {
		return FaultAttr{}, fmt.Errorf("alloc: failslab %q: space %d is not supported; use 0", s, v[2])
	}
	a := FaultAttr{Interval: v[0], Probability: v[1], Times: v[3]}
	return a, a.check()
}

func (a FaultAttr) check() error {
	switch {
	case a.Probability < 0 || a.Probability > 100:
		return fmt.Errorf("alloc: failslab: probability %d is not a percentage", a.Probability)
	case a.Interval < 0:
		return fmt.Errorf("alloc: failslab: negative interval %d", a.Interval)
	case a.Times < -1:
		return fmt.Errorf("alloc: failslab: times %d (use -1 for no limit)", a.Times)
	}
	return nil
}

// SetFailSlab sets the failslab attributes and returns the previous ones.
// The zero FaultAttr injects nothing. It panics on attributes out of range.
func SetFailSlab(a FaultAttr) FaultAttr {
	if err := a.check(); err != nil {
		panic(err)
	}
	return failslab.set(a)
}

// FailSlabInjected returns how many allocations failslab has failed.
func FailSlabInjected() int64 { return failslab.injected.Load() }

func (f *faultState) set(a FaultAttr) FaultAttr {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.attr
	f.attr, f.calls = a, 0
	f.on.Store(a.Probability > 0 && a.Times != 0)
	return old
}

// should is should_fail: whether this eligible call fails.
func (f *faultState) should() bool {
	if !f.on.Load() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := &f.attr
	if a.Times == 0 {
		return false
	}
	f.calls++
	if a.Interval > 1 && f.calls%uint64(a.Interval) != 0 {
		return false
	}
	if a.Probability <= rand.IntN(100) {
		return false
	}
	if a.Times > 0 {
		a.Times--
		f.on.Store(a.Times != 0)
	}
	f.injected.Add(1)
	return true
}

// injectFailure reports whether failslab fails this allocation of c.
func (c *Cache) injectFailure() bool {
	return c.debug&DebugFailSlab != 0 && failslab.should()
}
