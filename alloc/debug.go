package alloc

import (
	"fmt"
	"os"
	"strings"
)

// DebugFlags are the kernel's slab_debug letters.
type DebugFlags uint32

const (
	DebugConsistency DebugFlags = 1 << iota // F: consistency checks
	DebugRedZone                            // Z: red zones around objects
	DebugPoison                             // P: poison free objects
	DebugStoreUser                          // U: record alloc and free call sites
	DebugAll         = DebugConsistency | DebugRedZone | DebugPoison | DebugStoreUser
)

// ParseDebug parses slab_debug letters ("FZPU", any case); "" means all, "-"
// means none.
func ParseDebug(s string) (DebugFlags, error) {
	if s == "" {
		return DebugAll, nil
	}
	var f DebugFlags
	for _, r := range s {
		switch r {
		case 'f', 'F':
			f |= DebugConsistency
		case 'z', 'Z':
			f |= DebugRedZone
		case 'p', 'P':
			f |= DebugPoison
		case 'u', 'U':
			f |= DebugStoreUser
		case '-':
			return 0, nil
		default:
			return 0, fmt.Errorf("slub: unknown slab_debug letter %q in %q", r, s)
		}
	}
	return f, nil
}

// String returns the letters, e.g. "FZPU", or "-" for none.
func (f DebugFlags) String() string {
	var b strings.Builder
	for i, l := range "FZPU" {
		if f&(1<<i) != 0 {
			b.WriteRune(l)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// Report describes a problem a debug cache found.
type Report struct {
	Cache  string
	Object uintptr
	Kind   string
}

func (r Report) String() string {
	return fmt.Sprintf("BUG %s: %s (object %#x)", r.Cache, r.Kind, r.Object)
}

type debugState struct{}

// EnvSlabDebug names the environment variable read when caches are created,
// in the kernel's slab_debug= syntax.
const EnvSlabDebug = "GOSLUB_SLAB_DEBUG"

func debugFromEnv(name string) DebugFlags {
	v, ok := os.LookupEnv(EnvSlabDebug)
	if !ok {
		return 0
	}
	f, _ := ParseDebug(v)
	return f
}

func (c *Cache) debugLayout(obj int) {
	c.fpOffset = uintptr(alignUp(obj, 8))
	c.size = alignUp(int(c.fpOffset)+8, c.align)
}

func (c *Cache) initDebugSlab(s *slab) {}

func (c *Cache) debugAlloc(noblock bool) uintptr { return c.allocFromSlabs(noblock) }

func (c *Cache) debugFree(s *slab, a uintptr, noblock bool) bool {
	return c.freeToSlab(s, a, noblock)
}

func (c *Cache) debugOnAlloc(a uintptr) {}

func (c *Cache) debugValidateSlab(s *slab, fl []uintptr) []string { return nil }

func (c *Cache) reportLeaks(leaked []uintptr, total int) {}

func (c *Cache) debugAllocSized(size int) uintptr { return c.debugAlloc(false) }

func (c *Cache) debugUsableSize(a uintptr) int { return c.objectSize }

func (c *Cache) debugResize(a uintptr, size int) {}
