package alloc

// Alloc and free tracks of debug caches with U (the kernel's struct track
// and stack depot). See debug.go for where they sit in a slot.

import (
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"
)

const (
	trackSize  = 16 // bytes per track in a slot: depot handle and P, then time
	trackDepth = 16 // program counters kept per call stack

	trackAlloc = 0
	trackFree  = 1
)

// Track is where an object was allocated or freed, as a debug cache with
// DebugStoreUser recorded it. Goroutine ids are not recorded: Go offers no
// cheap way to read one, so a track names the P instead.
type Track struct {
	Stack []uintptr // program counters (runtime.Callers), innermost first; nil if the stack could not be kept
	P     int       // the P the goroutine ran on
	Time  time.Time
}

// Frames returns the call stack, without the allocator's own frames at the
// top.
func (t *Track) Frames() []runtime.Frame {
	if len(t.Stack) == 0 {
		return nil
	}
	var out []runtime.Frame
	frames := runtime.CallersFrames(t.Stack)
	for {
		f, more := frames.Next()
		if len(out) > 0 || !allocatorFrame(f) {
			out = append(out, f)
		}
		if !more {
			return out
		}
	}
}

type pkgMarker struct{}

var pkgPrefix = reflect.TypeOf(pkgMarker{}).PkgPath() + "."

// allocatorFrame reports whether f runs code of this package's own files
// (the package's tests, in its _test.go files, are its callers).
func allocatorFrame(f runtime.Frame) bool {
	return strings.HasPrefix(f.Function, pkgPrefix) && !strings.HasSuffix(f.File, "_test.go")
}

// track is a track as stored in a slot.
type track struct {
	handle uint32 // stack depot handle; 0: no stack
	pid    uint32 // P id + 1; 0: nothing recorded
	nanos  int64
}

// captureTrack records the caller's call stack, P and time. It runs before
// the allocator takes its locks; with noblock it only try-locks the depot
// and records no stack when that fails.
func captureTrack(noblock bool) track {
	var pcs [trackDepth]uintptr
	n := runtime.Callers(3, pcs[:])
	pid := procPin()
	procUnpin()
	return track{handle: depot.save(pcs[:n], noblock), pid: uint32(pid) + 1, nanos: time.Now().UnixNano()}
}

func (c *Cache) trackAddr(a uintptr, which int) uintptr {
	return a + uintptr(c.dbg.trackOff+which*trackSize)
}

func (c *Cache) writeTrack(a uintptr, which int, t track) {
	p := c.trackAddr(a, which)
	*(*uint64)(ptr(p)) = uint64(t.handle) | uint64(t.pid)<<32
	*(*int64)(ptr(p + 8)) = t.nanos
}

// readTrack returns the track, or nil when none was recorded. The bytes may
// have been overwritten; a track is only ever shown, never trusted.
func (c *Cache) readTrack(a uintptr, which int) *Track {
	if !c.dbg.user {
		return nil
	}
	p := c.trackAddr(a, which)
	w := *(*uint64)(ptr(p))
	pid := uint32(w >> 32)
	if pid == 0 {
		return nil
	}
	return &Track{
		Stack: depot.load(uint32(w)),
		P:     int(pid) - 1,
		Time:  time.Unix(0, *(*int64)(ptr(p + 8))),
	}
}

// stackDepot stores each distinct call stack once and names it by a small
// handle, so that a track fits in a slot (the kernel's stackdepot).
type stackDepot struct {
	mu    sync.Mutex
	ids   map[[trackDepth]uintptr]uint32 // under mu
	n     int                            // stacks saved, under mu
	stack sync.Map                       // handle -> []uintptr; read without mu
}

const depotMax = 1 << 20 // distinct stacks kept; later ones are not recorded

var depot stackDepot

func (d *stackDepot) save(pcs []uintptr, noblock bool) uint32 {
	var key [trackDepth]uintptr
	copy(key[:], pcs)
	if noblock {
		if !d.mu.TryLock() {
			return 0
		}
	} else {
		d.mu.Lock()
	}
	defer d.mu.Unlock()
	if id, ok := d.ids[key]; ok {
		return id
	}
	if d.n >= depotMax {
		return 0
	}
	if d.ids == nil {
		d.ids = make(map[[trackDepth]uintptr]uint32)
	}
	d.n++
	id := uint32(d.n)
	d.stack.Store(id, append([]uintptr(nil), pcs...))
	d.ids[key] = id
	return id
}

// load returns the stack of a handle, nil for an unknown one. It takes no
// lock, so reports made by the no-lock paths can show stacks.
func (d *stackDepot) load(id uint32) []uintptr {
	if v, ok := d.stack.Load(id); ok {
		return v.([]uintptr)
	}
	return nil
}
