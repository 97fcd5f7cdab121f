package alloc

// Debug reports: what a debug cache found, in a form close to the kernel's
// "BUG kmalloc-64: Right Redzone overwritten" report. See debug.go.

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Report kinds: the text of Report.Kind, as the kernel words them.
const (
	ReportLeftRedzone    = "Left Redzone overwritten"
	ReportRightRedzone   = "Right Redzone overwritten"
	ReportKmallocRedzone = "kmalloc Redzone overwritten" // past the size a Heap object was asked for
	ReportPoison         = "Poison overwritten"          // a write after free
	ReportObjectPadding  = "Object padding overwritten"
	ReportSlabPadding    = "Padding overwritten" // the slab's tail past its last object
	ReportFreepointer    = "Freepointer corrupt" // a free object's free pointer is not a free object of its slab
	ReportFreechain      = "Freechain corrupt"   // the freelist does not hold the slab's free objects
	ReportDoubleFree     = "Object already free" // a double free, ignored
	ReportLeak           = "Objects remaining on Destroy"
)

// Report describes a problem a debug cache found. It is delivered to
// Config.OnReport, or printed to stderr, before the call that found it
// returns; by then the damage is repaired (the bytes restored, the
// freelist rebuilt) or, for a double free, the free ignored.
//
// Every call delivers its reports after dropping the cache's locks, so an
// OnReport hook may call into the cache.
type Report struct {
	Cache  string  // the cache's name
	Kind   string  // what is wrong: one of the Report* constants
	Object uintptr // the object concerned; 0 when the problem is the slab's
	Slab   uintptr // first byte of the object's slab

	// Offset is where the first bad byte is, from Object (negative in the
	// left red zone), or from Slab when Object is 0. Found holds the bytes
	// from the first bad one to the last as they were found, Expected what
	// they should have held (nil for a free pointer, which has no fixed
	// value).
	Offset   int
	Found    []byte
	Expected []byte

	Message string // the details, e.g. "0x...-0x... @offset=64. First byte 0x78 instead of 0xcc"
	Fix     string // what the allocator did about it

	Alloc *Track // where the object was last allocated (DebugStoreUser), or nil
	Free  *Track // where it was last freed (DebugStoreUser), or nil

	Goroutine uint64    // the goroutine whose call found the problem
	Time      time.Time // when it was found

	slabInfo string
	sections []dumpSection
}

type dumpSection struct {
	name string
	addr uintptr
	b    []byte
}

const maxDumpSection = 4096 // bytes of a section a report keeps, like the kernel's PAGE_SIZE limit

// Summary is the report in one line.
func (r Report) Summary() string {
	s := fmt.Sprintf("%s: %s", r.Cache, r.Kind)
	if r.Object != 0 {
		s += fmt.Sprintf(" (object %#x)", r.Object)
	}
	if r.Message != "" {
		s += ": " + r.Message
	}
	return s
}

// String is the report as the kernel prints one: the headline, the details,
// the tracks, the slab, a hex dump of the object's slot and the fix.
func (r Report) String() string {
	var b strings.Builder
	b.WriteString(strings.Repeat("=", 77) + "\n")
	fmt.Fprintf(&b, "BUG %s: %s\n", r.Cache, r.Kind)
	b.WriteString(strings.Repeat("-", 77) + "\n\n")
	if r.Message != "" {
		b.WriteString(r.Message + "\n")
	}
	writeTrack(&b, "Allocated", r.Alloc, r.Time)
	writeTrack(&b, "Freed", r.Free, r.Time)
	if r.slabInfo != "" {
		b.WriteString(r.slabInfo + "\n")
	}
	if r.Object != 0 {
		fmt.Fprintf(&b, "Object %#x @offset=%d\n", r.Object, r.Object-r.Slab)
	}
	if r.Goroutine != 0 {
		fmt.Fprintf(&b, "Found by goroutine %d at %s\n", r.Goroutine, r.Time.Format(time.RFC3339Nano))
	}
	if len(r.sections) > 0 {
		b.WriteString("\n")
		for _, sec := range r.sections {
			hexDump(&b, sec.name, sec.addr, sec.b)
		}
	}
	if r.Fix != "" {
		fmt.Fprintf(&b, "FIX %s: %s\n", r.Cache, r.Fix)
	}
	return b.String()
}

func writeTrack(b *strings.Builder, what string, t *Track, now time.Time) {
	if t == nil {
		return
	}
	frames := t.Frames()
	where := "?"
	if len(frames) > 0 {
		where = frames[0].Function
	}
	fmt.Fprintf(b, "%s in %s age=%v P=%d\n", what, where, now.Sub(t.Time).Round(time.Microsecond), t.P)
	for _, f := range frames {
		fmt.Fprintf(b, " %s\n\t%s:%d\n", f.Function, f.File, f.Line)
	}
}

// hexDump writes 16 bytes a line, like the kernel's print_section.
func hexDump(b *strings.Builder, name string, addr uintptr, data []byte) {
	for off := 0; off < len(data); off += 16 {
		line := data[off:min(off+16, len(data))]
		fmt.Fprintf(b, "%-8s %#016x: ", name, addr+uintptr(off))
		for i := 0; i < 16; i++ {
			if i < len(line) {
				fmt.Fprintf(b, "%02x ", line[i])
			} else {
				b.WriteString("   ")
			}
		}
		for _, c := range line {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			b.WriteByte(c)
		}
		b.WriteByte('\n')
	}
}

// newReport starts a report about object obj (0: about the slab) of slab s,
// with the tracks and a dump of the slot as they are now. Under list_lock,
// or with the object owned by the caller.
func (c *Cache) newReport(kind string, s *slab, obj uintptr) Report {
	r := Report{Cache: c.name, Kind: kind, Object: obj, Time: time.Now(), Goroutine: goroutineID()}
	if s == nil {
		return r
	}
	r.Slab = s.start
	cnt := s.counters()
	r.slabInfo = fmt.Sprintf("Slab %#x objects=%d used=%d fp=%#x", s.start, cnt.objects(), cnt.inuse(), s.freelist())
	if obj == 0 {
		return r
	}
	d := c.dbg
	r.Alloc = c.readTrack(obj, trackAlloc)
	r.Free = c.readTrack(obj, trackFree)
	section := func(name string, from, to int) {
		if to > from {
			n := min(to-from, maxDumpSection)
			r.sections = append(r.sections, dumpSection{name, obj + uintptr(from), append([]byte(nil), mem(obj+uintptr(from), n)...)})
		}
	}
	section("Redzone", -c.redLeft, 0)
	section("Object", 0, d.objEnd)
	if d.redzone {
		section("Redzone", d.objEnd, d.rzEnd)
	} else {
		section("Padding", d.objEnd, d.rzEnd)
	}
	section("Freeptr", d.rzEnd, d.rzEnd+debugWordSize)
	if d.user {
		section("Tracks", d.trackOff, d.metaEnd)
	}
	section("Padding", d.metaEnd, d.slotEnd)
	return r
}

// emit delivers one report.
func (c *Cache) emit(r Report) {
	if c.onReport != nil {
		c.onReport(r)
		return
	}
	os.Stderr.WriteString(r.String())
}

// reporter collects one operation's reports, to be delivered once the
// operation has dropped its locks.
type reporter struct{ reps []Report }

func (r *reporter) add(rep Report) { r.reps = append(r.reps, rep) }

func (c *Cache) deliver(r *reporter) {
	reps := r.reps
	r.reps = nil
	for _, rep := range reps {
		c.emit(rep)
	}
}

// goroutineID reads the calling goroutine's id from its stack trace header
// ("goroutine 18 [running]:"). It costs microseconds: only reports use it.
func goroutineID() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	rest, ok := strings.CutPrefix(string(buf[:n]), "goroutine ")
	if !ok {
		return 0
	}
	var id uint64
	for i := 0; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
		id = id*10 + uint64(rest[i]-'0')
	}
	return id
}
