package bench

import (
	"bytes"
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"testing"
)

// Memory measurement. A workload takes samples at the points where it holds
// the most (memProbe.sample); after its run it frees everything and the probe
// reports what is still mapped before and after Shrink. None of this is timed.

var heapMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

// goHeapFootprint returns the resident Go heap: objects, fragmentation inside
// spans, and free spans not yet returned to the OS.
func goHeapFootprint() int64 {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, n := range heapMetrics {
		s[i].Name = n
	}
	metrics.Read(s)
	var sum int64
	for _, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			sum += int64(v.Value.Uint64())
		}
	}
	return sum
}

// noFootprint is what Footprint returns when it cannot tell.
const noFootprint = math.MinInt64

// offHeapFootprint returns the resident memory of the process less what the
// Go runtime has mapped and not released: it grows with memory mapped by an
// allocator that uses mmap directly. Only its changes mean something (it can
// be negative). It is noFootprint where the resident set cannot be read.
func offHeapFootprint() int64 {
	rss := residentSet()
	if rss < 0 {
		return noFootprint
	}
	s := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	metrics.Read(s)
	goRes := int64(s[0].Value.Uint64()) - int64(s[1].Value.Uint64())
	return rss - goRes
}

// residentSet returns the resident set size of the process in bytes, from
// /proc/self/statm, or -1.
func residentSet() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}

// memProbe follows the footprint of one allocator instance through a run.
// A nil *memProbe (the allocator cannot say) ignores every call.
type memProbe struct {
	f     Footprinter
	start int64
	peak  int64   // largest footprint seen, above start
	ratio float64 // peak / live bytes at that sample
}

func newProbe(a Allocator) *memProbe {
	f, ok := a.(Footprinter)
	if !ok {
		return nil
	}
	start := f.Footprint()
	if start == noFootprint {
		return nil
	}
	return &memProbe{f: f, start: start}
}

// sample records the footprint while the workload holds live bytes.
func (m *memProbe) sample(live int64) {
	if m == nil || live <= 0 {
		return
	}
	fp := max(m.f.Footprint()-m.start, 0)
	if fp >= m.peak {
		m.peak = fp
		m.ratio = float64(fp) / float64(live)
	}
}

// report is called once the workload has freed everything: it measures what
// is still mapped, shrinks a, measures again, and reports the memory units.
func (m *memProbe) report(b *testing.B, a Allocator) {
	for _, x := range m.finish(a) {
		b.ReportMetric(x.value, x.unit)
	}
}

type metric struct {
	unit  string
	value float64
}

// finish is report without the testing.B.
func (m *memProbe) finish(a Allocator) []metric {
	if m == nil {
		return nil
	}
	end := max(m.f.Footprint()-m.start, 0)
	if s, ok := a.(Shrinker); ok {
		s.Shrink()
	}
	shrunk := max(m.f.Footprint()-m.start, 0)
	return []metric{
		{"peak-mapped-B", float64(m.peak)},
		{"mapped-B/live-B", m.ratio},
		{"end-mapped-B", float64(end)},
		{"shrunk-mapped-B", float64(shrunk)},
	}
}
