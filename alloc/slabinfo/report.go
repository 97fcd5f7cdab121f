package slabinfo

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The reports of the kernel's tools/mm/slabinfo, with its column headers,
// so that a kernel developer reads them as they read the kernel's. Where a
// column has no counterpart here it shows 0: Cpu (Stats does not count cpu
// slabs), Fallb (there is no order fallback), Aliases (caches are never
// merged).

// Format selects a report.
type Format int

const (
	// Lines is slabinfo's default: one line per cache with its size,
	// space, slabs and flags.
	Lines Format = iota
	// Activity is slabinfo -D: allocations, frees and how many took the
	// fast path.
	Activity
	// Report is slabinfo -r: a detailed report per cache, with its
	// counters as the kernel's "Slab Perf Counter" table, and for Sheaves
	// caches the sheaf and barn counters (Linux 7.0's), which the kernel's
	// tool does not show yet.
	Report
)

// ParseFormat parses "lines", "activity" or "report".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "lines":
		return Lines, nil
	case "activity":
		return Activity, nil
	case "report":
		return Report, nil
	}
	return 0, fmt.Errorf("slabinfo: unknown format %q (want lines, activity or report)", s)
}

// Options says what Write shows.
type Options struct {
	Format Format
	Empty  bool           // also caches without slabs (slabinfo -z)
	Match  *regexp.Regexp // only caches whose name matches; nil for all
}

// Write writes the report of the snapshot's caches, sorted by name as the
// kernel's tool sorts them. When the snapshot holds more than one heap, the
// size classes of the second and later heaps are shown as "kmalloc-64#2"
// and so on.
func (s *Snapshot) Write(w io.Writer, opt Options) error {
	bw := bufio.NewWriter(w)
	caches := s.selected(opt)
	switch opt.Format {
	case Report:
		for i := range caches {
			writeReport(bw, &caches[i])
		}
	default:
		for i := range caches {
			if i == 0 {
				writeHeader(bw, opt.Format)
			}
			writeLine(bw, &caches[i], opt.Format)
		}
	}
	return bw.Flush()
}

// selected returns the caches to show, named and sorted.
func (s *Snapshot) selected(opt Options) []Cache {
	heaps := 0
	for _, c := range s.Caches {
		heaps = max(heaps, c.Heap)
	}
	var out []Cache
	for _, c := range s.Caches {
		if heaps > 1 && c.Heap > 1 {
			c.Name += "#" + strconv.Itoa(c.Heap)
		}
		if !opt.Empty && c.Slabs == 0 {
			continue
		}
		if opt.Match != nil && !opt.Match.MatchString(c.Name) {
			continue
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b Cache) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out
}

func writeHeader(w io.Writer, f Format) {
	if f == Activity {
		fmt.Fprintf(w, "Name                   Objects      Alloc       Free   %%Fast Fallb O CmpX   UL\n")
		return
	}
	fmt.Fprintf(w, "Name                   Objects Objsize           Space Slabs/Part/Cpu  O/S O %%Fr %%Ef Flg\n")
}

func writeLine(w io.Writer, c *Cache, f Format) {
	inuse := c.InUse()
	if f == Activity {
		alloc, free := totals(c)
		fmt.Fprintf(w, "%-21s %8d %10d %10d %3d %3d %5d %1d %4d %4d\n",
			c.Name, inuse, alloc, free,
			percent(c.Counters["ALLOC_FASTPATH"], alloc), percent(c.Counters["FREE_FASTPATH"], free),
			0, c.Order(), c.Counters["CMPXCHG_DOUBLE_FAIL"], c.Counters["CMPXCHG_DOUBLE_CPU_FAIL"])
		return
	}
	fr, ef := 100, 100
	if c.Slabs > 0 {
		fr = int(c.PartialSlabs * 100 / c.Slabs)
		ef = int(inuse * int64(c.ObjectSize) * 100 / c.SlabBytes)
	}
	fmt.Fprintf(w, "%-21s %8d %7d %15s %14s %4d %1d %3d %3d %s\n",
		c.Name, inuse, c.ObjectSize, size(c.SlabBytes),
		fmt.Sprintf("%d/%d/%d", c.Slabs, c.PartialSlabs, 0),
		c.ObjectsPerSlab, c.Order(), fr, ef, flags(c))
}

// totals returns all allocations and all frees, fast and slow.
func totals(c *Cache) (alloc, free uint64) {
	return c.Counters["ALLOC_FASTPATH"] + c.Counters["ALLOC_SLOWPATH"],
		c.Counters["FREE_FASTPATH"] + c.Counters["FREE_SLOWPATH"]
}

func percent(n, of uint64) uint64 {
	if of == 0 {
		return 0
	}
	return n * 100 / of
}

// flags are the tool's letters: P poisoning, Z red zones, F consistency
// checks, U call sites, T tracing.
func flags(c *Cache) string {
	var b strings.Builder
	for _, l := range "PZFUT" {
		if strings.ContainsRune(c.Debug, l) {
			b.WriteRune(l)
		}
	}
	return b.String()
}

// size writes a byte count as the tool does: above a thousand with one
// decimal and K, M or G.
func size(v int64) string {
	div, unit := int64(1), ""
	switch {
	case v > 1_000_000_000:
		div, unit = 100_000_000, "G"
	case v > 1_000_000:
		div, unit = 100_000, "M"
	case v > 1_000:
		div, unit = 100, "K"
	}
	if div == 1 {
		return strconv.FormatInt(v, 10)
	}
	n := v / div
	return fmt.Sprintf("%d.%d%s", n/10, n%10, unit)
}

func onOff(c *Cache, letter rune) string {
	if strings.ContainsRune(c.Debug, letter) {
		return "On "
	}
	return "Off"
}

func writeReport(w io.Writer, c *Cache) {
	inuse := c.InUse()
	order := c.Order()
	fmt.Fprintf(w, "\nSlabcache: %-15s  Aliases: %2d Order : %2d Objects: %d\n", c.Name, 0, order, inuse)
	fmt.Fprintf(w, "** Design: %s", c.Design)
	switch {
	case c.SheafCapacity > 0:
		fmt.Fprintf(w, ", sheaf capacity %d", c.SheafCapacity)
	case c.CPUPartial > 0:
		fmt.Fprintf(w, ", cpu_partial %d", c.CPUPartial)
	}
	fmt.Fprintf(w, "; %d handed out, %d cached, %d deferred\n", c.ActiveObjects, c.CachedObjects, c.DeferredFrees)

	used := inuse * int64(c.ObjectSize)
	fmt.Fprintf(w, "\nSizes (bytes)     Slabs              Debug                Memory\n")
	fmt.Fprintf(w, "------------------------------------------------------------------------\n")
	fmt.Fprintf(w, "Object : %7d  Total  : %7d   Sanity Checks : %s  Total: %7d\n",
		c.ObjectSize, c.Slabs, onOff(c, 'F'), c.SlabBytes)
	fmt.Fprintf(w, "SlabObj: %7d  Full   : %7d   Redzoning     : %s  Used : %7d\n",
		c.Size, c.Slabs-c.PartialSlabs, onOff(c, 'Z'), used)
	fmt.Fprintf(w, "SlabSiz: %7d  Partial: %7d   Poisoning     : %s  Loss : %7d\n",
		c.SlabSize, c.PartialSlabs, onOff(c, 'P'), c.SlabBytes-used)
	fmt.Fprintf(w, "Loss   : %7d  CpuSlab: %7d   Tracking      : %s  Lalig: %7d\n",
		c.Size-c.ObjectSize, 0, onOff(c, 'U'), int64(c.Size-c.ObjectSize)*inuse)
	fmt.Fprintf(w, "Align  : %7d  Objects: %7d   Tracing       : %s  Lpadd: %7d\n",
		c.Align, c.ObjectsPerSlab, onOff(c, 'T'), int64(c.SlabSize-c.ObjectsPerSlab*c.Size)*c.Slabs)

	writeCounters(w, c)
	if c.SheafCapacity > 0 {
		writeSheafCounters(w, c)
	}
}

// writeCounters is the tool's counter report: the fast and slow paths and
// the slab list moves, then deactivations and double-word CAS retries.
func writeCounters(w io.Writer, c *Cache) {
	k := c.Counters
	alloc, free := totals(c)
	if k["ALLOC_SLAB"] == 0 || alloc == 0 {
		return
	}
	row := func(name string, a, f uint64) {
		fmt.Fprintf(w, "%-20s %8d %8d %3d %3d\n", name, a, f, a*100/alloc, percent(f, free))
	}
	fmt.Fprintf(w, "\nSlab Perf Counter       Alloc     Free %%Al %%Fr\n")
	fmt.Fprintf(w, "--------------------------------------------------\n")
	row("Fastpath", k["ALLOC_FASTPATH"], k["FREE_FASTPATH"])
	row("Slowpath", alloc-k["ALLOC_FASTPATH"], k["FREE_SLOWPATH"])
	row("Page Alloc", k["ALLOC_SLAB"], k["FREE_SLAB"])
	row("Add partial", k["DEACTIVATE_TO_HEAD"]+k["DEACTIVATE_TO_TAIL"], k["FREE_ADD_PARTIAL"])
	row("Remove partial", k["ALLOC_FROM_PARTIAL"], k["FREE_REMOVE_PARTIAL"])
	row("Cpu partial list", k["CPU_PARTIAL_ALLOC"], k["CPU_PARTIAL_FREE"])
	row("RemoteObj/SlabFrozen", k["DEACTIVATE_REMOTE_FREES"], k["FREE_FROZEN"])
	fmt.Fprintf(w, "%-20s %8d %8d\n\n", "Total", alloc, free)
	if n := k["CPUSLAB_FLUSH"]; n > 0 {
		fmt.Fprintf(w, "Flushes %8d\n", n)
	}
	deact := k["DEACTIVATE_FULL"] + k["DEACTIVATE_EMPTY"] + k["DEACTIVATE_TO_HEAD"] + k["DEACTIVATE_TO_TAIL"] + k["DEACTIVATE_BYPASS"]
	if deact > 0 {
		drow := func(name string, n uint64) {
			fmt.Fprintf(w, "%-29s %7d  %3d%%\n", name, n, n*100/deact)
		}
		fmt.Fprintf(w, "\nSlab Deactivation             Occurrences %%\n")
		fmt.Fprintf(w, "-------------------------------------------------\n")
		drow("Slab full", k["DEACTIVATE_FULL"])
		drow("Slab empty", k["DEACTIVATE_EMPTY"])
		drow("Moved to head of partial list", k["DEACTIVATE_TO_HEAD"])
		drow("Moved to tail of partial list", k["DEACTIVATE_TO_TAIL"])
		drow("Deactivation bypass", k["DEACTIVATE_BYPASS"])
		drow("Refilled from foreign frees", k["ALLOC_REFILL"])
		drow("Node mismatch", 0)
	}
	if k["CMPXCHG_DOUBLE_FAIL"] > 0 || k["CMPXCHG_DOUBLE_CPU_FAIL"] > 0 {
		fmt.Fprintf(w, "\nCmpxchg_double Looping\n------------------------\n")
		fmt.Fprintf(w, "Locked Cmpxchg Double redos   %d\nUnlocked Cmpxchg Double redos %d\n",
			k["CMPXCHG_DOUBLE_FAIL"], k["CMPXCHG_DOUBLE_CPU_FAIL"])
	}
}

// writeSheafCounters shows Linux 7.0's sheaf and barn counters in the same
// style: how often each level of the Sheaves design served or failed.
func writeSheafCounters(w io.Writer, c *Cache) {
	k := c.Counters
	fmt.Fprintf(w, "\nSheaf Counter              Count  Fail\n")
	fmt.Fprintf(w, "--------------------------------------\n")
	fmt.Fprintf(w, "%-20s %12d\n", "Refilled objects", k["SHEAF_REFILL"])
	fmt.Fprintf(w, "%-20s %12d\n", "Flushed objects", k["SHEAF_FLUSH"])
	fmt.Fprintf(w, "%-20s %12d\n", "Sheaves allocated", k["SHEAF_ALLOC"])
	fmt.Fprintf(w, "%-20s %12d\n", "Sheaves freed", k["SHEAF_FREE"])
	fmt.Fprintf(w, "%-20s %12d %5d\n", "Barn get", k["BARN_GET"], k["BARN_GET_FAIL"])
	fmt.Fprintf(w, "%-20s %12d %5d\n", "Barn put", k["BARN_PUT"], k["BARN_PUT_FAIL"])
	fmt.Fprintf(w, "%-20s %12d\n", "Prefill fast", k["SHEAF_PREFILL_FAST"])
	fmt.Fprintf(w, "%-20s %12d\n", "Prefill slow", k["SHEAF_PREFILL_SLOW"])
	fmt.Fprintf(w, "%-20s %12d\n", "Prefill oversize", k["SHEAF_PREFILL_OVERSIZE"])
	fmt.Fprintf(w, "%-20s %12d\n", "Return fast", k["SHEAF_RETURN_FAST"])
	fmt.Fprintf(w, "%-20s %12d\n", "Return slow", k["SHEAF_RETURN_SLOW"])
}
