package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/perf/benchproc"
	"golang.org/x/perf/benchunit"
)

// Text rendering of statTables, laid out like benchstat's: one group of
// columns per column key; each cell shows the median and the confidence
// interval, and every group after the first the change from the first and
// the p-value.

// writeText writes the tables of st to w. Before each table it writes the
// table-key fields that changed since the previous table (the shared
// configuration), as benchstat does.
func writeText(w io.Writer, st *stats) error {
	var b strings.Builder
	var prev benchproc.Key
	for i, t := range st.Tables {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, f := range t.Key.Projection().FlattenedFields() {
			if f.Name == ".unit" {
				continue
			}
			if v := t.Key.Get(f); prev.IsZero() || v != prev.Get(f) {
				fmt.Fprintf(&b, "%s: %s\n", f.Name, v)
			}
		}
		prev = t.Key
		writeTable(&b, t)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// groupCells is the text of one column group in one row.
type groupCells struct {
	center, rng, warn string // summary
	delta, p, dwarn   string // comparison with the base column
	present, summary  bool   // the row has this cell; it is the geomean row
}

func writeTable(b *strings.Builder, t *statTable) {
	var notes []string
	noteIdx := map[string]int{}
	footnote := func(errs []error) string {
		var marks []string
		for _, e := range errs {
			s := e.Error()
			i, ok := noteIdx[s]
			if !ok {
				notes = append(notes, s)
				i = len(notes)
				noteIdx[s] = i
			}
			marks = append(marks, superscript(i))
		}
		if len(marks) == 0 {
			return ""
		}
		return " " + strings.Join(marks, " ")
	}

	class := benchunit.ClassOf(t.Unit)
	var labels []string
	var grid [][]groupCells // [row][col]
	for _, row := range t.Rows {
		labels = append(labels, row.StringValues())
		var centers []float64
		for _, col := range t.Cols {
			if c, ok := t.Cells[cellKey{row, col}]; ok {
				centers = append(centers, c.Summary.Center)
			}
		}
		scaler := benchunit.CommonScale(centers, class)
		line := make([]groupCells, len(t.Cols))
		for j, col := range t.Cols {
			c, ok := t.Cells[cellKey{row, col}]
			if !ok {
				continue
			}
			g := groupCells{present: true}
			g.center = scaler.Format(c.Summary.Center)
			g.rng = c.Summary.PctRangeString()
			g.warn = footnote(append(append([]error(nil), c.Sample.Warnings...), c.Summary.Warnings...))
			if j > 0 && c.Base != nil {
				g.delta = c.Comparison.FormatDelta(c.Base.Summary.Center, c.Summary.Center)
				g.p = "(" + c.Comparison.String() + ")"
				g.dwarn = footnote(c.Comparison.Warnings)
			}
			line[j] = g
		}
		grid = append(grid, line)
	}
	if len(t.Rows) > 1 {
		labels = append(labels, "geomean")
		line := make([]groupCells, len(t.Cols))
		for j, col := range t.Cols {
			s := t.Geomean[col]
			g := groupCells{present: true, summary: true}
			if s.HasCenter {
				g.center = benchunit.Scale(s.Center, class)
			}
			if j > 0 {
				g.delta = "?"
				if s.HasRatio {
					g.delta = fmt.Sprintf("%+.2f%%", (s.Ratio-1)*100)
				}
			}
			// The warnings close the column group: after the center in
			// the base column, after the delta in the others.
			if j == 0 {
				g.warn = footnote(s.Warnings)
			} else {
				g.dwarn = footnote(s.Warnings)
			}
			line[j] = g
		}
		grid = append(grid, line)
	}

	// Column widths.
	labelW := 0
	for _, l := range labels {
		labelW = max(labelW, width(l))
	}
	type widths struct{ center, rng, warn, delta, p, dwarn, total int }
	ws := make([]widths, len(t.Cols))
	for j := range t.Cols {
		w := &ws[j]
		for _, line := range grid {
			g := line[j]
			w.center = max(w.center, width(g.center))
			w.rng = max(w.rng, width(g.rng))
			w.warn = max(w.warn, width(g.warn))
			w.delta = max(w.delta, width(g.delta))
			w.p = max(w.p, width(g.p))
			w.dwarn = max(w.dwarn, width(g.dwarn))
		}
		summaryW := w.center + len(" ± ") + w.rng + w.warn
		w.total = summaryW
		if j > 0 {
			w.total += 2 + max(w.delta+1+w.p, len("vs base")) + w.dwarn
		}
		w.total = max(w.total, width(t.Cols[j].StringValues()), width(t.Unit))
	}
	render := func(j int, g groupCells) string {
		w := ws[j]
		if !g.present {
			return ""
		}
		var s string
		if g.summary {
			s = padLeft(g.center, w.center) + strings.Repeat(" ", len(" ± ")+w.rng) + padRight(g.warn, w.warn)
		} else {
			s = padLeft(g.center, w.center) + " ± " + padLeft(g.rng, w.rng) + padRight(g.warn, w.warn)
		}
		if j > 0 {
			s += "  " + padLeft(g.delta, w.delta) + " " + padRight(g.p, w.p) + g.dwarn
		}
		return s
	}

	// Header: column keys, then units.
	b.WriteString(strings.Repeat(" ", labelW))
	for j, col := range t.Cols {
		b.WriteString(" │ " + center(col.StringValues(), ws[j].total))
	}
	b.WriteString(" │\n")
	b.WriteString(strings.Repeat(" ", labelW))
	for j := range t.Cols {
		w := ws[j]
		summaryW := w.center + len(" ± ") + w.rng + w.warn
		h := center(t.Unit, summaryW)
		if j > 0 {
			h += "  vs base"
		}
		b.WriteString(" │ " + padRight(h, w.total))
	}
	b.WriteString(" │\n")
	for i, line := range grid {
		var row strings.Builder
		row.WriteString(padRight(labels[i], labelW))
		for j, g := range line {
			row.WriteString("   " + padRight(render(j, g), ws[j].total))
		}
		b.WriteString(strings.TrimRight(row.String(), " ") + "\n")
	}
	for i, n := range notes {
		fmt.Fprintf(b, "%s %s\n", superscript(i+1), n)
	}
}

func width(s string) int { return utf8.RuneCountInString(s) }

func padLeft(s string, w int) string  { return strings.Repeat(" ", max(w-width(s), 0)) + s }
func padRight(s string, w int) string { return s + strings.Repeat(" ", max(w-width(s), 0)) }

func center(s string, w int) string {
	pad := max(w-width(s), 0)
	return strings.Repeat(" ", pad/2) + s + strings.Repeat(" ", pad-pad/2)
}

func superscript(n int) string {
	const digits = "⁰¹²³⁴⁵⁶⁷⁸⁹"
	d := []rune(digits)
	var out []rune
	for _, c := range fmt.Sprint(n) {
		out = append(out, d[c-'0'])
	}
	return string(out)
}
