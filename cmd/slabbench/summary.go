package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// The summary: what a default run ends with, and the summary command. It
// is short enough to read at a glance and fits 120 columns: the targets met
// and missed, each design's time against sheaves, and the kernel's table.
// The full tables are behind compare.

// headline is one design's time over that of sheaves: the geometric mean
// over the benchmarks both ran of the ratio of their medians.
type headline struct {
	design string
	n      int // benchmarks
	ratio  estimate
}

// headlineBase is the design the headline ratios are taken against.
const headlineBase = "sheaves"

// headlines computes the headline of every design in the file labelled
// file other than headlineBase, in designOrder.
// Each benchmark counts once, at the largest GOMAXPROCS of its workload,
// in ns/obj where it has it and in ns/op otherwise.
func (d *resultData) headlines(file string) []headline {
	var out []headline
	for _, des := range designOrder(d.designs) {
		if des == headlineBase {
			continue
		}
		var pairs [][2][]float64
		for _, w := range d.workloads {
			procs := d.fileTopProcs(file, w)
			for _, v := range d.variants[w] {
				for _, unit := range []string{"sec/obj", "sec/op"} {
					a, okA := d.samples[point{file, w, v, procs, des, unit}]
					b, okB := d.samples[point{file, w, v, procs, headlineBase, unit}]
					if okA && okB && median(slices.Clone(b)) > 0 && median(slices.Clone(a)) > 0 {
						pairs = append(pairs, [2][]float64{a, b})
						break
					}
				}
			}
		}
		if len(pairs) > 0 {
			out = append(out, headline{des, len(pairs), geomeanOfRatios(pairs, defaultStatOptions.Confidence)})
		}
	}
	return out
}

// writeHeadlines writes a line per headline.
func writeHeadlines(b *strings.Builder, hs []headline) {
	var lines [][]string
	for _, h := range hs {
		lines = append(lines, []string{h.design, formatEstimate(h.ratio), plural(h.n, "over %d benchmark")})
	}
	writeColumns(b, lines, 2)
}

// writeSummary writes the summary of the file labelled file.
func writeSummary(w io.Writer, d *resultData, file string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Summary of %s\n  %s\n", d.paths[file], d.briefLegend(file))

	rs := d.checkTargets(file)
	n := countVerdicts(rs)
	fmt.Fprintf(&b, "\nTargets: %d met, %d missed, %d without data (slabbench targets FILE lists them all).\n",
		n[met], n[missed], n[noData])
	if n[met]+n[missed] > 0 {
		var t strings.Builder
		if err := writeTargets(&t, rs, false); err != nil {
			return err
		}
		b.WriteString(indent(t.String()))
	}

	if hs := d.headlines(file); len(hs) > 0 {
		fmt.Fprintf(&b, "\nTime of each design over %s' (geometric mean over the benchmarks both ran; > 1: slower than %s):\n",
			headlineBase, headlineBase)
		var t strings.Builder
		writeHeadlines(&t, hs)
		b.WriteString(indent(t.String()))
	}

	b.WriteString("\n")
	if err := writeKernelTable(&b, d, file); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nEvery table: slabbench compare %s\nPlots:       slabbench report %s\n", d.paths[file], d.paths[file])
	_, err := io.WriteString(w, b.String())
	return err
}

// briefLegend says in a few words where and how the file was measured.
func (d *resultData) briefLegend(file string) string {
	lo, hi := 0, 0
	for p, vs := range d.samples {
		if p.file != file || p.unit != "sec/op" {
			continue
		}
		if lo == 0 || len(vs) < lo {
			lo = len(vs)
		}
		hi = max(hi, len(vs))
	}
	runs := fmt.Sprintf("%d runs", hi)
	if lo != hi {
		runs = fmt.Sprintf("%d to %d runs", lo, hi)
	}
	var parts []string
	for _, k := range []string{"machine", "go", "commit"} {
		if v := d.config(file, k); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(append(parts, runs+" of each benchmark"), ", ")
}

// plural formats n into format and appends an "s" unless n is 1.
func plural(n int, format string) string {
	s := fmt.Sprintf(format, n)
	if n != 1 {
		s += "s"
	}
	return s
}

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" && l != "\n" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "")
}

func cmdSummary(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("summary", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: slabbench summary [FILE]

Prints what a default run ends with, for FILE (by default the newest file in
results/): the targets met and missed, each design's time over that of
sheaves with a 95% interval, and the kernel's batch table beside ours.

`)
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
		return fmt.Errorf("summary reads one file, not %d", len(paths))
	}
	d, err := loadResults(paths, stderr)
	if err != nil {
		return err
	}
	if !d.hasDesigns() {
		return fmt.Errorf("no results with a /design= key in %s", paths[0])
	}
	return writeSummary(stdout, d, d.labels[0])
}
