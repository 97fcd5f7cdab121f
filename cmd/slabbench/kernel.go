package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// The kernel's table: the batch microbenchmark of the cover letter of the
// sheaves series (PS-v5: allocate N objects, then free them, in order or
// shuffled; Ryzen 7 5700, sheaf capacity 32), "sheaves better by" for each
// cell, beside the same cells measured here. That benchmark ran the opt-in
// sheaves of Linux 6.18, on top of cpu slabs (our hybrid), against the same
// cache without sheaves (our cpuslab). "Better by" is the time saved,
// 1 - t(new) / t(old), with t the median ns per object.

// kernelCell is one cell of the kernel's table.
type kernelCell struct {
	n     int
	order string  // inorder or shuffled
	nomem float64 // "better by" in percent, without memcg
	memcg float64 // the same with memcg accounting
}

var kernelCells = []kernelCell{
	{1, "inorder", 17.2, 11.5},
	{10, "inorder", 15.3, 11.0},
	{100, "inorder", 31.0, 24.6},
	{1000, "inorder", 30.2, 24.4},
	{10, "shuffled", 12.6, 11.6},
	{100, "shuffled", 28.6, 25.6},
	{1000, "shuffled", 6.3, 8.7},
}

// kernelPair is a column of our table: new design at a sheaf capacity
// against old design at the automatic one (capacity means nothing to
// designs without sheaves).
type kernelPair struct {
	newDesign, newCap string
	oldDesign         string
}

var kernelPairs = []kernelPair{
	{"hybrid", "32", "cpuslab"},         // the kernel's own pairing
	{"sheaves", "32", "cpuslab"},        // 7.0 against <= 6.17
	{"sheaves", "32", "cpuslab-locked"}, // against the fast path with a LOCK prefix
	{"sheaves", "auto", "cpuslab"},      // our automatic capacity
}

// kernelVariant is the Batch variant of a cell at a capacity.
func kernelVariant(c kernelCell, capacity string) string {
	return fmt.Sprintf("n=%d/order=%s/cap=%s", c.n, c.order, capacity)
}

// kernelResult is one of our cells: the estimate of "better by" (a
// fraction), or why there is none.
type kernelResult struct {
	ok      bool
	missing string
	better  estimate
}

// kernelTable computes our cells for the file labelled file: a row per
// kernel cell, a column per kernelPair.
func (d *resultData) kernelTable(file string) [][]kernelResult {
	procs := d.fileTopProcs(file, "Batch")
	rows := make([][]kernelResult, len(kernelCells))
	for i, c := range kernelCells {
		for _, kp := range kernelPairs {
			pn := point{file, "Batch", kernelVariant(c, kp.newCap), procs, kp.newDesign, "sec/obj"}
			po := point{file, "Batch", kernelVariant(c, "auto"), procs, kp.oldDesign, "sec/obj"}
			tn, okN := d.samples[pn]
			to, okO := d.samples[po]
			var r kernelResult
			switch {
			case !okN && !okO:
				r.missing = "no data"
			case !okN:
				r.missing = "no " + kp.newDesign
			case !okO:
				r.missing = "no " + kp.oldDesign
			case median(slices.Clone(to)) == 0:
				r.missing = "zero time"
			default:
				r.ok = true
				r.better = ratioOfMedians(tn, to, defaultStatOptions.Confidence).betterBy()
			}
			rows[i] = append(rows[i], r)
		}
	}
	return rows
}

// writeKernelTable writes the kernel's table beside ours for the file
// labelled file, in at most 120 columns.
func writeKernelTable(w io.Writer, d *resultData, file string) error {
	rows := d.kernelTable(file)
	var b strings.Builder
	b.WriteString(`The kernel's batch benchmark beside ours: "sheaves better by" = 1 - t(new)/t(old) in %, t = median ns/obj,
with 95% bootstrap intervals; "in" says the kernel's number lies in our interval. The kernel's column: PS-v5 cover
letter, Ryzen 7 5700, capacity 32, the sheaves of 6.18 over cpu slabs against none, without memcg.

`)

	header := [2][]string{{"", "kernel"}, {"cell", "(6.18)"}}
	for _, kp := range kernelPairs {
		header[0] = append(header[0], kp.newDesign+"@"+kp.newCap)
		header[1] = append(header[1], "vs "+kp.oldDesign)
	}
	lines := [][]string{header[0], header[1]}
	inCount, cells := 0, 0
	for i, c := range kernelCells {
		line := []string{fmt.Sprintf("%-8s N=%d", c.order, c.n), fmt.Sprintf("%.1f", c.nomem)}
		for _, r := range rows[i] {
			if !r.ok {
				line = append(line, r.missing)
				continue
			}
			s := formatPercentEstimate(r.better)
			if r.better.HasCI {
				cells++
				if r.better.in(c.nomem / 100) {
					inCount++
					s += " in"
				} else {
					s += " out"
				}
			}
			line = append(line, s)
		}
		lines = append(lines, line)
	}
	writeColumns(&b, lines, 2)
	var memcg []string
	for _, c := range kernelCells {
		memcg = append(memcg, fmt.Sprintf("%.1f", c.memcg))
	}
	fmt.Fprintf(&b, "\nThe kernel's number lies in %d of our %d intervals.\nIts memcg column, in the same order: %s.\n",
		inCount, cells, strings.Join(memcg, ", "))
	_, err := io.WriteString(w, b.String())
	return err
}

// formatPercentEstimate writes a fraction and its interval in percent:
// "15.1 [12.0,18.3]", one decimal below 100 and none above.
func formatPercentEstimate(e estimate) string {
	f := func(x float64) string {
		x *= 100
		switch {
		case math.IsInf(x, 0):
			return fmt.Sprintf("%.0f", x)
		case math.Abs(x) >= 99.95:
			return fmt.Sprintf("%.0f", x)
		}
		return fmt.Sprintf("%.1f", x)
	}
	if !e.HasCI {
		return fmt.Sprintf("%s (n<%d)", f(e.Value), minIntervalSamples)
	}
	return fmt.Sprintf("%s [%s,%s]", f(e.Value), f(e.Lo), f(e.Hi))
}

// writeColumns writes lines as left-aligned columns separated by gap
// spaces, with the first column left-aligned and trailing spaces trimmed.
func writeColumns(b *strings.Builder, lines [][]string, gap int) {
	var widths []int
	for _, l := range lines {
		for j, f := range l {
			if j >= len(widths) {
				widths = append(widths, 0)
			}
			widths[j] = max(widths[j], width(f))
		}
	}
	for _, l := range lines {
		var row strings.Builder
		for j, f := range l {
			if j > 0 {
				row.WriteString(strings.Repeat(" ", gap))
			}
			row.WriteString(padRight(f, widths[j]))
		}
		b.WriteString(strings.TrimRight(row.String(), " ") + "\n")
	}
}

func cmdKernel(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("kernel", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: slabbench kernel [FILE...]

Prints the table of the kernel's batch benchmark (the PS-v5 cover letter of
the sheaves series: "sheaves better by", N = 1 to 1000, in order and
shuffled, capacity 32) beside the same cells measured in each FILE (by
default the newest file in results/), for hybrid and sheaves at capacity 32
against cpuslab and cpuslab-locked and for sheaves at the automatic
capacity, each with a 95% bootstrap interval, and whether the kernel's
number lies in it.

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
	d, err := loadResults(paths, stderr)
	if err != nil {
		return err
	}
	for i, file := range d.labels {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if len(d.labels) > 1 {
			fmt.Fprintf(stdout, "%s: %s\n\n", file, d.briefLegend(file))
		}
		if err := writeKernelTable(stdout, d, file); err != nil {
			return err
		}
	}
	return nil
}
