package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"golang.org/x/perf/benchmath"
)

// The targets command: the performance targets the project set itself,
// checked against one result file. Each target compares the medians of two
// cells (at the largest GOMAXPROCS the file has for that workload); where a
// target says "faster", the difference must also be significant (the
// Mann-Whitney U test of benchstat, p < 0.05).

// target is one check: the ratio num/den of two medians against a bound.
type target struct {
	what     string
	num, den cell
	// max: the ratio must be <= max (lower is better); with significant,
	// the two samples must also differ significantly.
	max         float64
	significant bool
}

// cell names a sample: workload, variant, design and unit.
type cell struct{ workload, variant, design, unit string }

var targets = []target{
	{"Pair/size=64 sheaves ≤ 1.5 × floor", cell{"Pair", "size=64", "sheaves", "sec/op"}, cell{"Pair", "size=64", "floor", "sec/op"}, 1.5, false},
	{"Pair/size=64 sheaves < 0.9 × syncpool", cell{"Pair", "size=64", "sheaves", "sec/op"}, cell{"Pair", "size=64", "syncpool", "sec/op"}, 0.9, true},
	{"Pair/size=64 sheaves ≤ 0.35 × goheap", cell{"Pair", "size=64", "sheaves", "sec/op"}, cell{"Pair", "size=64", "goheap", "sec/op"}, 0.35, false},
	{"Pair/size=64 sheaves ≤ 0.8 × modernc (no lock)", cell{"Pair", "size=64", "sheaves", "sec/op"}, cell{"Pair", "size=64", "modernc", "sec/op"}, 0.8, false},
	{"Batch/n=100/order=inorder sheaves faster than cpuslab", cell{"Batch", "n=100/order=inorder", "sheaves", "sec/obj"}, cell{"Batch", "n=100/order=inorder", "cpuslab", "sec/obj"}, 1, true},
	{"Batch/n=100/order=shuffled sheaves faster than cpuslab", cell{"Batch", "n=100/order=shuffled", "sheaves", "sec/obj"}, cell{"Batch", "n=100/order=shuffled", "cpuslab", "sec/obj"}, 1, true},
	{"Batch/n=1000/order=inorder sheaves faster than cpuslab", cell{"Batch", "n=1000/order=inorder", "sheaves", "sec/obj"}, cell{"Batch", "n=1000/order=inorder", "cpuslab", "sec/obj"}, 1, true},
	{"Batch/n=1000/order=shuffled sheaves faster than cpuslab", cell{"Batch", "n=1000/order=shuffled", "sheaves", "sec/obj"}, cell{"Batch", "n=1000/order=shuffled", "cpuslab", "sec/obj"}, 1, true},
	// Throughput targets as time ratios: 1.5x the throughput is 1/1.5 the time.
	{"Xmalloc sheaves ≥ 1.5 × cpuslab throughput", cell{"Xmalloc", "", "sheaves", "sec/op"}, cell{"Xmalloc", "", "cpuslab", "sec/op"}, 1 / 1.5, true},
	{"PairParallel/size=64 sheaves ≥ 3 × modernc throughput", cell{"PairParallel", "size=64", "sheaves", "sec/op"}, cell{"PairParallel", "size=64", "modernc", "sec/op"}, 1.0 / 3, true},
	{"Larson sheaves ≥ 3 × modernc throughput", cell{"Larson", "", "sheaves", "sec/op"}, cell{"Larson", "", "modernc", "sec/op"}, 1.0 / 3, true},
	{"Bulk/n=64 sheaves ns/obj ≤ 0.5 × Pair/size=64 ns/op", cell{"Bulk", "n=64", "sheaves", "sec/obj"}, cell{"Pair", "size=64", "sheaves", "sec/op"}, 0.5, false},
	{"Bulk/n=64 cpuslab ns/obj ≤ 0.5 × Pair/size=64 ns/op", cell{"Bulk", "n=64", "cpuslab", "sec/obj"}, cell{"Pair", "size=64", "cpuslab", "sec/op"}, 0.5, false},
	{"Larson sheaves: mapped after Shrink ≤ 10% of peak", cell{"Larson", "", "sheaves", "shrunk-mapped-B"}, cell{"Larson", "", "sheaves", "peak-mapped-B"}, 0.1, false},
	{"Larson cpuslab: mapped after Shrink ≤ 10% of peak", cell{"Larson", "", "cpuslab", "shrunk-mapped-B"}, cell{"Larson", "", "cpuslab", "peak-mapped-B"}, 0.1, false},
}

func cmdTargets(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("targets", stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: slabbench targets [FILE]\n")
		fs.PrintDefaults()
	}
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
	d, err := loadReport(paths, stderr)
	if err != nil {
		return err
	}
	file := d.files[0]
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "target\tratio\tbound\tp\tverdict\n")
	met, missed, nodata := 0, 0, 0
	for _, t := range targets {
		a, okA := d.targetSample(file, t.num)
		b, okB := d.targetSample(file, t.den)
		if !okA || !okB {
			fmt.Fprintf(tw, "%s\t-\t%.3g\t-\tno data\n", t.what, t.max)
			nodata++
			continue
		}
		assume := d.units.GetAssumption(t.num.unit)
		ca, cb := assume.Summary(a, 0.95).Center, assume.Summary(b, 0.95).Center
		if cb == 0 {
			fmt.Fprintf(tw, "%s\t-\t%.3g\t-\tno data (zero median)\n", t.what, t.max)
			nodata++
			continue
		}
		ratio := ca / cb
		ok := ratio <= t.max
		p := "-"
		if t.significant {
			cmp := assume.Compare(a, b)
			p = fmt.Sprintf("%.3f", cmp.P)
			ok = ok && cmp.P < cmp.Alpha
		}
		verdict := "met"
		if ok {
			met++
		} else {
			verdict = fmt.Sprintf("MISSED by %.0f%%", (ratio/t.max-1)*100)
			if ratio <= t.max {
				verdict = "MISSED: not significant"
			}
			missed++
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.3g\t%s\t%s\n", t.what, ratio, t.max, p, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d met, %d missed, %d without data (medians at the largest GOMAXPROCS in %s; ratio = first / second, throughput as time)\n",
		met, missed, nodata, file)
	return nil
}

// targetSample returns the sample of c at the largest GOMAXPROCS the file
// has for its workload.
func (d *reportData) targetSample(file string, c cell) (*benchmath.Sample, bool) {
	procs := d.procs[c.workload]
	if len(procs) == 0 {
		return nil, false
	}
	vs := d.samples[point{file, c.workload, c.variant, procs[len(procs)-1], c.design, c.unit}]
	if len(vs) == 0 {
		return nil, false
	}
	return benchmath.NewSample(vs, &benchmath.DefaultThresholds), true
}
