package alloc

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// The T letter (SLAB_TRACE): every allocation and free of a debug cache is
// traced, to Config.Trace as EventAlloc and EventFree, or without a hook as
// the kernel's trace line and the caller's stack on stderr.

// objTrace is one traced allocation or free, noted under list_lock and
// emitted after it is dropped.
type objTrace struct {
	kind  EventKind
	slab  *slab
	obj   uintptr
	inuse int
	fp    uintptr // the slab's freelist head
}

// noteTrace records an allocation or free of a (in slab s, or nil to look
// it up) under list_lock, for a cache with DebugTrace; otherwise it returns
// the zero objTrace, which emits nothing.
func (c *Cache) noteTrace(kind EventKind, s *slab, a uintptr) objTrace {
	if c.debug&DebugTrace == 0 || a == 0 {
		return objTrace{}
	}
	if s == nil {
		s = lookupSlab(a)
	}
	return objTrace{kind: kind, slab: s, obj: a, inuse: s.counters().inuse(), fp: s.freelist()}
}

// emitTrace delivers t, with no lock held.
func (c *Cache) emitTrace(t objTrace) {
	if t.obj == 0 {
		return
	}
	if c.hook != nil {
		c.hook(Event{Kind: t.kind, Cache: c, Slab: t.slab.start, Object: t.obj, Inuse: t.inuse})
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "TRACE %s %s 0x%x inuse=%d fp=0x%x\n", c.name, t.kind, t.obj, t.inuse, t.fp)
	// The caller's stack, without the allocator's frames (as Track.Frames).
	var pcs [32]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs[:])])
	for {
		f, more := frames.Next()
		if !allocatorFrame(f) {
			fmt.Fprintf(&b, "  %s\n      %s:%d\n", f.Function, f.File, f.Line)
		}
		if !more {
			break
		}
	}
	os.Stderr.WriteString(b.String())
}
