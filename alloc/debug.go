package alloc

// Debug caches: the kernel's slab_debug letters F, Z, P, U and T (A, the
// failslab filter, is in failslab.go; O is applied by NewCache). See doc.go
// for where they sit; this file holds the flags, the environment variable,
// the object layout and slab setup. The checks and repairs are in
// debug_check.go, the call-site tracks in debug_track.go and the reports in
// report.go.
//
// A debug cache has no per-P layer (in either design, as in the kernel) and
// changes every slab's (freelist, counters) pair under the node's list_lock,
// so each alloc and free can look at the whole slot and at the slab's
// freelist. Besides the bytes in the slots, each slab keeps a state word per
// object on the Go heap (slabDebug), where no stray write into slab memory
// can reach it: free, allocated, deferred or waiting for a grace period
// (FreeRCU), and for a kmalloc object the size that was asked for. The
// freelist in slab memory is checked against it before it is followed, and
// rebuilt from it when it is found corrupt.

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unsafe"
)

// DebugFlags are the kernel's slab_debug letters. A debug cache's slot holds
// red zones, the free pointer and tracks besides the object (about 56 bytes
// with all four letters and 8-byte alignment; see debugState), so NewCache
// refuses debug caches of objects within that of MaxObjectSize.
type DebugFlags uint32

const (
	// DebugConsistency (F) adds the expensive checks to every alloc and
	// free: the slot's padding and a walk of the slab's freelist. Without
	// it alloc and free still check the red zones (Z), the poison (P), the
	// free pointer they follow, and double frees; Validate checks
	// everything whatever the letters.
	DebugConsistency DebugFlags = 1 << iota
	// DebugRedZone (Z) puts red zones left and right of each object, and
	// past the requested size of a kmalloc object: 0xbb while free, 0xcc
	// while allocated.
	DebugRedZone
	// DebugPoison (P) fills free objects with 0x6b ending in 0xa5 and
	// checks the poison when they are allocated again (a write after free).
	// Caches with a constructor or TypesafeByRCU keep their objects'
	// contents instead, as in the kernel. An object freed with FreeRCU is
	// poisoned only once its grace period has ended (readers may read it
	// until then); the letter makes FreeRCU keep a copy of it and the end
	// of the grace period compare, so that a write during the grace
	// period is reported (ReportRCUWrite).
	DebugPoison
	// DebugStoreUser (U) records where each object was last allocated and
	// freed (call stack, P, time) and shows it in reports.
	DebugStoreUser
	// DebugTrace (T) traces every allocation and free: an EventAlloc or
	// EventFree to Config.Trace, or, without a hook, a line in the kernel's
	// format ("TRACE name alloc 0x... inuse=N fp=0x...") and the caller's
	// stack on stderr. Meant for one cache at a time, as in the kernel.
	DebugTrace
	// DebugFailSlab (A) lets the failslab fault injection (SetFailSlab,
	// GOSLUB_FAILSLAB) fail the cache's Alloc and AllocBulk, and a heap's
	// Malloc. Unlike the other letters it keeps the cache's per-P design.
	DebugFailSlab
	// DebugNoHigherOrder (O) turns debugging off for a cache whose slot
	// would then need a higher page order than its object alone, as
	// slab_debug=O does for the kernel's caches: the metadata letters (Z,
	// P, U), and F and T as well if their slot still needs it.
	DebugNoHigherOrder

	// DebugAll is F, Z, P and U, what slab_debug without letters means.
	DebugAll = DebugConsistency | DebugRedZone | DebugPoison | DebugStoreUser
)

const (
	// debugCacheFlags make a debug cache (the kernel's SLAB_DEBUG_FLAGS).
	debugCacheFlags = DebugAll | DebugTrace
	// debugMetadataFlags add bytes to the slot (DEBUG_METADATA_FLAGS).
	debugMetadataFlags = DebugRedZone | DebugPoison | DebugStoreUser
	debugKnownFlags    = debugCacheFlags | DebugFailSlab | DebugNoHigherOrder
	debugLetters       = "FZPUTAO" // in bit order
)

// The kernel's byte values.
const (
	poisonInuse   = 0x5a // padding
	poisonFree    = 0x6b // a free object
	poisonEnd     = 0xa5 // the last byte of a free object
	redInactive   = 0xbb // red zone of a free object
	redActive     = 0xcc // red zone of an allocated object
	debugWordSize = 8    // room for a free pointer or a track word
)

// ParseDebug parses slab_debug letters: F, Z, P, U, T, A, O in any case; ""
// means F, Z, P and U; "-" turns off what came before it.
func ParseDebug(s string) (DebugFlags, error) {
	if s == "" {
		return DebugAll, nil
	}
	var f DebugFlags
	for _, r := range s {
		if r == '-' {
			f = 0
			continue
		}
		i := strings.IndexRune(debugLetters, unicode.ToUpper(r))
		if i < 0 {
			return 0, fmt.Errorf("alloc: unknown slab_debug letter %q in %q", r, s)
		}
		f |= 1 << i
	}
	return f, nil
}

// String returns the letters, e.g. "FZPU", or "-" for none.
func (f DebugFlags) String() string {
	var b strings.Builder
	for i, l := range debugLetters {
		if f&(1<<i) != 0 {
			b.WriteRune(l)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// EnvSlabDebug names the environment variable read when caches are created,
// in the kernel's slab_debug= syntax (see ParseDebugSpec). Its flags are
// added to Config.Debug.
const EnvSlabDebug = "GOSLUB_SLAB_DEBUG"

// DebugSpec is a parsed slab_debug= value: flags for all caches and flags
// for caches picked by name.
type DebugSpec struct {
	global DebugFlags
	blocks []debugBlock
}

type debugBlock struct {
	flags DebugFlags
	names []string // exact names, or a prefix ending in '*'
}

// ParseDebugSpec parses the kernel's slab_debug= syntax: blocks separated by
// ';', each "letters" or "letters,name,name...". Letters as in ParseDebug
// (none means all, "-" none). A block without names sets the flags of every
// cache not named elsewhere; a block with names sets the flags of those
// caches, and a name ending in '*' matches every cache that starts with the
// rest. "FZ,kmalloc-64,foo" debugs only kmalloc-64 and foo; "FZ;-,foo"
// debugs every cache but foo.
func ParseDebugSpec(s string) (*DebugSpec, error) {
	spec := &DebugSpec{}
	for _, block := range strings.Split(s, ";") {
		letters, names, hasNames := strings.Cut(block, ",")
		f, err := ParseDebug(strings.TrimSpace(letters))
		if err != nil {
			return nil, err
		}
		if !hasNames {
			if strings.TrimSpace(block) == "" && s != "" {
				continue // an empty block between ';' adds nothing
			}
			spec.global = f
			continue
		}
		b := debugBlock{flags: f}
		for _, n := range strings.Split(names, ",") {
			if n = strings.TrimSpace(n); n != "" {
				b.names = append(b.names, n)
			}
		}
		if len(b.names) == 0 {
			return nil, fmt.Errorf("alloc: slab_debug block %q names no cache", block)
		}
		spec.blocks = append(spec.blocks, b)
	}
	return spec, nil
}

// Flags returns the flags the spec gives the cache called name: those of
// the last block that names it, else the global ones.
func (s *DebugSpec) Flags(name string) DebugFlags {
	for i := len(s.blocks) - 1; i >= 0; i-- {
		for _, n := range s.blocks[i].names {
			if n == name || strings.HasSuffix(n, "*") && strings.HasPrefix(name, n[:len(n)-1]) {
				return s.blocks[i].flags
			}
		}
	}
	return s.global
}

var envWarn sync.Once

// debugFromEnv returns the flags EnvSlabDebug gives cache name. A value
// that does not parse is reported once on stderr and ignored.
func debugFromEnv(name string) DebugFlags {
	v, ok := os.LookupEnv(EnvSlabDebug)
	if !ok {
		return 0
	}
	spec, err := ParseDebugSpec(v)
	if err != nil {
		envWarn.Do(func() { fmt.Fprintf(os.Stderr, "%s ignored: %v\n", EnvSlabDebug, err) })
		return 0
	}
	return spec.Flags(name)
}

// debugState is a debug cache's layout. Set up by debugLayout, read-only
// afterwards.
//
// A slot is c.size bytes; its object starts redLeft bytes in (slab.base is
// the first object, so slot i begins at base - redLeft + i*size). Offsets
// below are from the object's address:
//
//	[-redLeft, 0)        left red zone (Z)
//	[0, objEnd)          the object; poisoned while free (P); for a kmalloc
//	                     object [requested, objEnd) is red zone while allocated
//	[objEnd, rzEnd)      right red zone (Z), else unused alignment
//	[rzEnd, rzEnd+8)     free pointer (c.fpOffset == rzEnd)
//	[trackOff, +32)      alloc track, free track (U)
//	[metaEnd, slotEnd)   padding, 0x5a
//
// The tail of a slab past its last slot is padding too.
type debugState struct {
	check, redzone, poison, user bool
	kmalloc                      bool // a heap's cache: objects keep their requested size

	objEnd, rzEnd, trackOff, metaEnd, slotEnd int
}

// slabDebug is a debug slab's per-object state, off the slab. Each word is
// objFree, objAllocated, objDeferred or objRCU in the low two bits and the
// requested size above them. Changed under list_lock, except that FreeNoLock
// moves an allocated object to objDeferred with a CAS when the lock is busy,
// and FreeRCU moves it to objRCU with a CAS.
type slabDebug struct {
	obj  []uint32
	seen []uint64 // scratch bitmap for freelist walks, under list_lock
}

const (
	objFree      = 0
	objAllocated = 1
	objDeferred  = 2 // freed by FreeNoLock, waiting on the deferred list
	objRCU       = 3 // freed by FreeRCU, waiting for its grace period (rcu_debug.go)
	objStateMask = 3
)

func (d *slabDebug) load(i int) uint32 { return atomic.LoadUint32(&d.obj[i]) }

func (d *slabDebug) state(i int) uint32 { return d.load(i) & objStateMask }

func (d *slabDebug) set(i int, state uint32, size int) {
	atomic.StoreUint32(&d.obj[i], uint32(size)<<2|state)
}

func objSize(w uint32) int { return int(w >> 2) }

// debugLayout places red zones, the free pointer (always outside the object,
// so poison covers all of it), tracks and padding.
func (c *Cache) debugLayout(obj int) {
	d := &debugState{
		check:   c.debug&DebugConsistency != 0,
		redzone: c.debug&DebugRedZone != 0,
		poison:  c.debug&DebugPoison != 0 && c.ctor == nil && !c.rcu.typesafe,
		user:    c.debug&DebugStoreUser != 0,
		kmalloc: c.heap != nil,
		objEnd:  c.objectSize,
	}
	c.dbg = d
	c.redLeft = 0
	d.rzEnd = alignUp(obj, 8)
	if d.redzone {
		// At least one word left (aligned so that the object stays
		// aligned) and at least one byte right.
		c.redLeft = alignUp(debugWordSize, c.align)
		if d.rzEnd == c.objectSize {
			d.rzEnd += debugWordSize
		}
	}
	c.fpOffset = uintptr(d.rzEnd)
	d.metaEnd = d.rzEnd + debugWordSize
	if d.user {
		d.trackOff = d.metaEnd
		d.metaEnd += 2 * trackSize
	}
	c.size = alignUp(c.redLeft+d.metaEnd, c.align)
	d.slotEnd = c.size - c.redLeft
}

// slotIndex returns the index of object a in slab s.
func (c *Cache) slotIndex(s *slab, a uintptr) int { return int(c.objIndex(a - s.base)) }

// initDebugSlab sets up a new slab's bytes and object states before the
// core builds its freelist: every object free, red zones inactive, objects
// poisoned, padding (and the slab's tail) 0x5a.
func (c *Cache) initDebugSlab(s *slab) {
	d := c.dbg
	if s.dbg == nil {
		s.dbg = &slabDebug{obj: make([]uint32, c.objsPerSlab), seen: make([]uint64, (c.objsPerSlab+63)/64)}
	} else { // a recycled struct: every object free
		clear(s.dbg.obj)
	}
	for o := s.base; o < s.end; o += uintptr(c.size) {
		fill(o-uintptr(c.redLeft), c.redLeft, redInactive)
		if d.poison {
			c.poisonObject(o)
		}
		fill(o+uintptr(d.objEnd), d.rzEnd-d.objEnd, redInactive)
		if d.user {
			clear(mem(o+uintptr(d.trackOff), 2*trackSize))
		}
		fill(o+uintptr(d.metaEnd), d.slotEnd-d.metaEnd, poisonInuse)
	}
	tail := s.end - uintptr(c.redLeft)
	fill(tail, int(s.start+uintptr(s.npages*pageSize)-tail), poisonInuse)
}

func (c *Cache) poisonObject(o uintptr) {
	n := c.dbg.objEnd
	fill(o, n-1, poisonFree)
	*(*byte)(ptr(o + uintptr(n-1))) = poisonEnd
}

// mem is n bytes of slab memory at a.
func mem(a uintptr, n int) []byte { return unsafe.Slice((*byte)(ptr(a)), n) }

func fill(a uintptr, n int, v byte) {
	if n <= 0 {
		return
	}
	b := mem(a, n)
	for i := range b {
		b[i] = v
	}
}
