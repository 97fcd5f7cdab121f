package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/goslub/slub/bench"
)

// The targets command: the performance targets the project set itself,
// checked against one result file. Each target compares the medians of two
// cells at the largest GOMAXPROCS the file has for the workload, unless the
// target names one, and prints their ratio in the direction its sentence
// reads: time for "≤ 1.10 × floor", throughput for "≥ 3 × modernc
// throughput", bytes for memory. Where a target says a design is faster,
// the difference must also be significant (the Mann-Whitney U test of
// benchstat, p < 0.05). A cell the file does not have is "no data", not a
// miss.

// cell names a sample: workload, variant, design and unit (as benchfmt
// tidies it: sec/op, sec/obj, B, allocs/op).
type cell struct{ workload, variant, design, unit string }

func (c cell) bench() string {
	if c.variant == "" {
		return c.workload
	}
	return c.workload + "/" + c.variant
}

// quantity is what a target's ratio is of.
type quantity int

const (
	timeQ       quantity = iota // num time / den time
	throughputQ                 // num throughput / den throughput: den time / num time
	bytesQ                      // num bytes / den bytes
	zeroAllocsQ                 // no ratio: every alloc design makes 0 allocs/op
)

var quantityNames = [...]string{"time", "throughput", "bytes", "allocs/op"}

func (q quantity) String() string { return quantityNames[q] }

// target is one check.
type target struct {
	q        quantity
	num, den cell
	// atLeast: the ratio must be >= bound; otherwise <= bound, or with
	// strict < bound.
	atLeast, strict bool
	bound           float64
	// significant: the two samples must also differ significantly.
	significant bool
	// procs, when not 0, is the GOMAXPROCS the target is set at.
	procs int
	// workloads are the workloads a zeroAllocsQ target checks.
	workloads []string
}

func (t target) String() string {
	if t.q == zeroAllocsQ {
		return strings.Join(t.workloads, ", ") + ": 0 Go-heap allocs/op on the alloc designs"
	}
	op := "≤"
	switch {
	case t.atLeast:
		op = "≥"
	case t.strict:
		op = "<"
	}
	den := t.den.design
	if t.den.bench() != t.num.bench() {
		den = t.den.bench() + " " + den
	}
	s := fmt.Sprintf("%s %s %s %s × %s", t.num.bench(), t.num.design, op, formatBound(t.bound), den)
	switch t.q {
	case throughputQ:
		s += " throughput"
	case bytesQ:
		s = fmt.Sprintf("%s %s %s %s %s × %s", t.num.bench(), t.num.design, t.num.unit, op, formatBound(t.bound), t.den.unit)
	}
	if t.procs != 0 {
		s += fmt.Sprintf(" at GOMAXPROCS=%d", t.procs)
	}
	return s
}

func formatBound(b float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", b), "0"), ".")
}

var pair64 = "size=64"

func timeTarget(num, den cell, bound float64, significant bool) target {
	return target{q: timeQ, num: num, den: den, bound: bound, significant: significant}
}

// fasterTarget: design takes less time than than, significantly.
func fasterTarget(w, v, unit, design, than string) target {
	t := timeTarget(cell{w, v, design, unit}, cell{w, v, than, unit}, 1, true)
	t.strict = true
	return t
}

func throughputTarget(w, v, design, than string, bound float64, procs int) target {
	return target{q: throughputQ, num: cell{w, v, design, "sec/op"}, den: cell{w, v, than, "sec/op"},
		atLeast: true, bound: bound, significant: true, procs: procs}
}

func shrinkTarget(design string) target {
	return target{q: bytesQ, num: cell{"Larson", "", design, "shrunk-mapped-B"},
		den: cell{"Larson", "", design, "peak-mapped-B"}, bound: 0.1}
}

var targets = []target{
	timeTarget(cell{"Pair", pair64, "sheaves", "sec/op"}, cell{"Pair", pair64, "floor", "sec/op"}, 1.10, false),
	timeTarget(cell{"KmallocPair", pair64, "sheaves", "sec/op"}, cell{"Pair", pair64, "sheaves", "sec/op"}, 1.15, false),
	timeTarget(cell{"Pair", pair64, "sheaves", "sec/op"}, cell{"Pair", pair64, "syncpool", "sec/op"}, 0.85, true),
	timeTarget(cell{"PairParallel", pair64, "sheaves", "sec/op"}, cell{"PairParallel", pair64, "syncpool", "sec/op"}, 0.85, true),
	timeTarget(cell{"Pair", pair64, "sheaves", "sec/op"}, cell{"Pair", pair64, "goheap", "sec/op"}, 0.35, false),
	timeTarget(cell{"Pair", pair64, "sheaves", "sec/op"}, cell{"Pair", pair64, "modernc", "sec/op"}, 0.8, false),
	fasterTarget("Batch", "n=100/order=inorder/cap=auto", "sec/obj", "sheaves", "cpuslab"),
	fasterTarget("Batch", "n=100/order=shuffled/cap=auto", "sec/obj", "sheaves", "cpuslab"),
	fasterTarget("Batch", "n=1000/order=inorder/cap=auto", "sec/obj", "sheaves", "cpuslab"),
	fasterTarget("Batch", "n=1000/order=shuffled/cap=auto", "sec/obj", "sheaves", "cpuslab"),
	throughputTarget("Xmalloc", "", "sheaves", "cpuslab", 1.5, 0),
	throughputTarget("PairParallel", pair64, "sheaves", "modernc", 3, 0),
	throughputTarget("Larson", "", "sheaves", "modernc", 3, 2),
	timeTarget(cell{"Bulk", "n=64", "sheaves", "sec/obj"}, cell{"Pair", pair64, "sheaves", "sec/op"}, 0.5, false),
	timeTarget(cell{"Bulk", "n=64", "cpuslab", "sec/obj"}, cell{"Pair", pair64, "cpuslab", "sec/op"}, 0.5, false),
	shrinkTarget("sheaves"),
	shrinkTarget("cpuslab"),
	{q: zeroAllocsQ, workloads: []string{"Pair"}},
	{q: zeroAllocsQ, workloads: []string{"Batch"}},
	{q: zeroAllocsQ, workloads: []string{"Bulk"}},
}

// verdict is the outcome of one target.
type verdict int

const (
	noData verdict = iota
	met
	missed
)

// targetResult is one target checked against one file.
type targetResult struct {
	t       target
	verdict verdict
	ratio   estimate
	p       float64 // NaN where the target asks for no significance
	why     string  // the verdict in words
	value   string  // the measured quantity in words (zeroAllocsQ)
	note    string  // where the verdict needs more words than fit
}

// checkTargets checks every target against the file labelled file.
func (d *resultData) checkTargets(file string) []targetResult {
	var out []targetResult
	for _, t := range targets {
		out = append(out, d.checkTarget(file, t))
	}
	return out
}

func (d *resultData) checkTarget(file string, t target) targetResult {
	r := targetResult{t: t, p: math.NaN(), why: "no data"}
	if t.q == zeroAllocsQ {
		return d.checkZeroAllocs(file, t)
	}
	at := func(c cell) point {
		procs := t.procs
		if procs == 0 {
			procs = d.fileTopProcs(file, c.workload)
		}
		return point{file, c.workload, c.variant, procs, c.design, c.unit}
	}
	pn, pd := at(t.num), at(t.den)
	a, okA := d.samples[pn]
	b, okB := d.samples[pd]
	if !okA || !okB {
		var lack []string
		for _, p := range []point{pn, pd} {
			if _, ok := d.samples[p]; !ok {
				addOnce(&lack, d.lacking(p))
			}
		}
		r.why = "no data: " + strings.Join(lack, ", ")
		return r
	}
	if t.q == throughputQ {
		a, b = b, a // throughput num/den = time den/num
	}
	if median(slices.Clone(b)) == 0 {
		r.why = "no data (zero median)"
		return r
	}
	r.ratio = ratioOfMedians(a, b, defaultStatOptions.Confidence)
	var ok bool
	switch {
	case t.atLeast:
		ok = r.ratio.Value >= t.bound
	case t.strict:
		ok = r.ratio.Value < t.bound
	default:
		ok = r.ratio.Value <= t.bound
	}
	r.verdict, r.why = met, "met"
	if !ok {
		r.verdict = missed
		if t.atLeast {
			r.why = fmt.Sprintf("MISSED: %.0f%% short", (1-r.ratio.Value/t.bound)*100)
		} else {
			r.why = fmt.Sprintf("MISSED by %.0f%%", (r.ratio.Value/t.bound-1)*100)
		}
	}
	if t.significant {
		sa, _ := d.sample(pn)
		sb, _ := d.sample(pd)
		cmp := d.units.GetAssumption(t.num.unit).Compare(sa, sb)
		r.p = cmp.P
		if ok && cmp.P >= cmp.Alpha {
			r.verdict, r.why = missed, "MISSED: not significant"
		}
	}
	return r
}

// lacking names, in a word or two, what the file lacks that p would need:
// the workload, its variant, the design, or the GOMAXPROCS.
func (d *resultData) lacking(p point) string {
	var variant, design, procs bool
	for q := range d.samples {
		if q.file != p.file || q.workload != p.workload {
			continue
		}
		if q.variant == p.variant {
			variant = true
			if q.design == p.design {
				design = true
				procs = procs || q.procs == p.procs
			}
		}
	}
	switch {
	case d.fileTopProcs(p.file, p.workload) == 0:
		return p.workload
	case !variant:
		return p.variant
	case !design:
		return p.design
	case !procs:
		return fmt.Sprintf("GOMAXPROCS=%d", p.procs)
	}
	return p.design + " " + p.unit
}

// allocDesigns are the designs of package alloc.
func allocDesigns() []string {
	var names []string
	for _, d := range bench.Designs() {
		if !d.Baseline && d.Name != "floor" {
			names = append(names, d.Name)
		}
	}
	return names
}

// checkZeroAllocs checks that the median allocs/op of every variant of the
// workloads is 0 on every alloc design in the file.
func (d *resultData) checkZeroAllocs(file string, t target) targetResult {
	r := targetResult{t: t, p: math.NaN(), why: "no data"}
	worst, cells := 0.0, 0
	var where point
	for _, w := range t.workloads {
		for _, v := range d.variants[w] {
			for _, des := range allocDesigns() {
				p := point{file, w, v, d.fileTopProcs(file, w), des, "allocs/op"}
				vs, ok := d.samples[p]
				if !ok {
					continue
				}
				if m := median(slices.Clone(vs)); m > worst || cells == 0 {
					worst, where = m, p
				}
				cells++
			}
		}
	}
	if cells == 0 {
		return r
	}
	r.value = fmt.Sprintf("max %g", worst)
	if worst == 0 {
		r.verdict, r.why = met, "met"
		return r
	}
	r.verdict, r.why = missed, fmt.Sprintf("MISSED: %g on %s", worst, where.design)
	r.note = fmt.Sprintf("%s: the most allocs/op, a median of %g, in %s",
		strings.Join(t.workloads, ", "), worst, bench.FullName(cell{where.workload, where.variant, "", ""}.bench()+"/design="+where.design, where.procs))
	return r
}

func cmdTargets(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("targets", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: slabbench targets [-check] [FILE]

Prints each of the project's performance targets checked against FILE (by
default the newest file in results/): the ratio of the two medians it
compares, in the direction its sentence reads (time, throughput or bytes of
the first over the second), with a 95% bootstrap interval, the U test's
p-value where the target asks for a significant difference, and "met",
"MISSED" by how much, or "no data" where the file lacks a cell.

`)
		fs.PrintDefaults()
	}
	check := fs.Bool("check", false, "exit with status 1 when a target is missed (cells without data are no miss)")
	if err := parse(fs, args); err != nil {
		return err
	}
	paths, err := inputFiles(fs.Args())
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return fmt.Errorf("targets checks one file, not %d", len(paths))
	}
	d, err := loadResults(paths, stderr)
	if err != nil {
		return err
	}
	if !d.hasDesigns() {
		return fmt.Errorf("no results with a /design= key in %s", paths[0])
	}
	file := d.labels[0]
	rs := d.checkTargets(file)
	if err := writeTargets(stdout, rs, true); err != nil {
		return err
	}
	n := countVerdicts(rs)
	fmt.Fprintf(stdout, "\n%d met, %d missed, %d without data in %s.\n"+
		"Medians at the largest GOMAXPROCS unless the target names one; each ratio is of the quantity its sentence\n"+
		"names (time unless it says otherwise), first over second, with a 95%% bootstrap interval.\n",
		n[met], n[missed], n[noData], d.paths[file])
	if *check && n[missed] > 0 {
		return fmt.Errorf("%d of %d targets missed", n[missed], len(rs))
	}
	return nil
}

func countVerdicts(rs []targetResult) [3]int {
	var n [3]int
	for _, r := range rs {
		n[r.verdict]++
	}
	return n
}

// writeTargets writes rs as a table; without all, it leaves out the
// targets without data.
func writeTargets(w io.Writer, rs []targetResult, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "target\tratio [95%% interval]\tp\tverdict\n")
	for _, r := range rs {
		if !all && r.verdict == noData {
			continue
		}
		ratio, p := "-", "-"
		switch {
		case r.value != "":
			ratio = r.value
		case r.verdict != noData:
			ratio = formatEstimate(r.ratio)
		}
		if !math.IsNaN(r.p) {
			p = fmt.Sprintf("%.3f", r.p)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.t, ratio, p, r.why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rs {
		if r.note != "" && (all || r.verdict != noData) {
			if _, err := fmt.Fprintln(w, r.note); err != nil {
				return err
			}
		}
	}
	return nil
}

// formatEstimate writes e with three significant digits (more above 1000):
// "1.52 [1.48, 1.57]", or "1.52 (n<6)" without an interval.
func formatEstimate(e estimate) string {
	if !e.HasCI {
		return formatRatio(e.Value) + fmt.Sprintf(" (n<%d)", minIntervalSamples)
	}
	return fmt.Sprintf("%s [%s, %s]", formatRatio(e.Value), formatRatio(e.Lo), formatRatio(e.Hi))
}

// formatRatio writes x with three significant digits, keeping trailing
// zeros ("1.00"), without an exponent above 1000.
func formatRatio(x float64) string {
	switch y := math.Abs(x); {
	case math.IsInf(x, 1):
		return "∞"
	case math.IsInf(x, -1):
		return "-∞"
	case y >= 99.95:
		return fmt.Sprintf("%.0f", x)
	case y >= 9.995:
		return fmt.Sprintf("%.1f", x)
	case y >= 0.9995:
		return fmt.Sprintf("%.2f", x)
	case y >= 0.01 || y == 0:
		return fmt.Sprintf("%.3g", x)
	}
	return fmt.Sprintf("%.2g", x)
}
