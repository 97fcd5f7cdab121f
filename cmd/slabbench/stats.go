package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	mstats "github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"
)

// Statistics over result files, computed as the benchstat command computes
// them: results are projected into tables (one per unit and table key), rows
// and columns with golang.org/x/perf/benchproc; each cell's sample is
// summarized (median and confidence interval) and compared with the first
// column of its row (Mann-Whitney U test) by golang.org/x/perf/benchmath,
// under the distributional assumption the unit's metadata gives.

// projections says how to group results; the fields are benchproc
// projection expressions, as benchstat's -table, -row, -col and -ignore.
type projections struct {
	Table, Row, Col, Ignore string
	Filter                  string
	// Units, when not empty, keeps only these units (as written in the
	// files: "ns/op", "allocs/s").
	Units []string
}

// filter returns the benchfilter query of p: Filter, and Units.
func (p projections) filter() string {
	q := orDefault(p.Filter, "*")
	if len(p.Units) == 0 {
		return q
	}
	var us []string
	for _, u := range p.Units {
		us = append(us, strconv.Quote(u))
	}
	return "(" + q + ") .unit:(" + strings.Join(us, " OR ") + ")"
}

type statOptions struct {
	Alpha      float64 // a change is significant if p < Alpha
	Confidence float64 // confidence level of the ranges
}

var defaultStatOptions = statOptions{
	Alpha:      benchmath.DefaultThresholds.CompareAlpha,
	Confidence: 0.95,
}

// statTable is the statistics of one table: one unit, one table key.
type statTable struct {
	Key        benchproc.Key // the table key; its last field is .unit
	Unit       string
	Assumption benchmath.Assumption
	Rows, Cols []benchproc.Key
	Cells      map[cellKey]*statCell
	// Geomean summarizes each column: the geometric mean of the centers,
	// and of the ratios to the base column.
	Geomean map[benchproc.Key]*colSummary
}

type cellKey struct{ Row, Col benchproc.Key }

type statCell struct {
	Values     []float64
	residue    map[benchproc.Key]struct{}
	Sample     *benchmath.Sample
	Summary    benchmath.Summary
	Base       *statCell // the cell in the first column of this row, if this is not it
	Comparison benchmath.Comparison
}

// Warnings returns every warning about this cell: its sample, summary and
// comparison.
func (c *statCell) Warnings() []error {
	w := append([]error(nil), c.Sample.Warnings...)
	w = append(w, c.Summary.Warnings...)
	if c.Base != nil {
		w = append(w, c.Comparison.Warnings...)
	}
	return w
}

type colSummary struct {
	HasCenter bool
	Center    float64
	HasRatio  bool
	Ratio     float64
	Warnings  []error
}

// stats holds the tables computed from a set of result files.
type stats struct {
	Tables []*statTable
}

// computeStats computes the tables of the results in d.
func computeStats(d *resultData, proj projections, opts statOptions) (*stats, error) {
	filter, err := benchproc.NewFilter(proj.filter())
	if err != nil {
		return nil, fmt.Errorf("parsing filter: %w", err)
	}
	var parser benchproc.ProjectionParser
	tableBy, unitField, err := parser.ParseWithUnit(proj.Table, filter)
	if err != nil {
		return nil, fmt.Errorf("parsing table projection: %w", err)
	}
	rowBy, err := parser.Parse(proj.Row, filter)
	if err != nil {
		return nil, fmt.Errorf("parsing row projection: %w", err)
	}
	colBy, err := parser.Parse(proj.Col, filter)
	if err != nil {
		return nil, fmt.Errorf("parsing column projection: %w", err)
	}
	if _, err := parser.Parse(proj.Ignore, filter); err != nil {
		return nil, fmt.Errorf("parsing ignore projection: %w", err)
	}
	residueBy := parser.Residue()

	type building struct {
		rows, cols map[benchproc.Key]struct{}
		cells      map[cellKey]*statCell
	}
	tables := map[benchproc.Key]*building{}
	st := &stats{}
	for _, rec := range d.records {
		if ok, _ := filter.Apply(rec); !ok {
			continue
		}
		row, col, residue := rowBy.Project(rec), colBy.Project(rec), residueBy.Project(rec)
		for i, tk := range tableBy.ProjectValues(rec) {
			t := tables[tk]
			if t == nil {
				t = &building{
					rows:  map[benchproc.Key]struct{}{},
					cols:  map[benchproc.Key]struct{}{},
					cells: map[cellKey]*statCell{},
				}
				tables[tk] = t
			}
			ck := cellKey{row, col}
			c := t.cells[ck]
			if c == nil {
				c = &statCell{residue: map[benchproc.Key]struct{}{}}
				t.cells[ck] = c
				t.rows[row] = struct{}{}
				t.cols[col] = struct{}{}
			}
			c.Values = append(c.Values, rec.Values[i].Value)
			c.residue[residue] = struct{}{}
		}
	}

	units := d.units
	thresholds := benchmath.DefaultThresholds
	thresholds.CompareAlpha = opts.Alpha
	for _, tk := range sortedKeys(tables) {
		b := tables[tk]
		unit := tk.Get(unitField)
		t := &statTable{
			Key:        tk,
			Unit:       unit,
			Assumption: units.GetAssumption(unit),
			Rows:       sortedKeys(b.rows),
			Cols:       sortedKeys(b.cols),
			Cells:      b.cells,
		}
		for _, c := range t.Cells {
			c.Sample = benchmath.NewSample(c.Values, &thresholds)
			c.Summary = t.Assumption.Summary(c.Sample, opts.Confidence)
			if fields := benchproc.NonSingularFields(sortedKeys(c.residue)); len(fields) > 0 {
				var names []string
				for _, f := range fields {
					names = append(names, f.Name)
				}
				c.Sample.Warnings = append(c.Sample.Warnings,
					errors.New("benchmarks vary in "+strings.Join(names, ", ")))
			}
		}
		baseCol := t.Cols[0]
		for ck, c := range t.Cells {
			if ck.Col == baseCol {
				continue
			}
			if base, ok := t.Cells[cellKey{ck.Row, baseCol}]; ok {
				c.Base = base
				c.Comparison = t.Assumption.Compare(base.Sample, c.Sample)
			}
		}
		t.Geomean = map[benchproc.Key]*colSummary{}
		for i, col := range t.Cols {
			t.Geomean[col] = summarizeColumn(t, col, i == 0)
		}
		st.Tables = append(st.Tables, t)
	}
	return st, nil
}

// summarizeColumn computes the geomean row entry of col: the geometric mean
// of its centers and, for columns other than the base, of its ratios to the
// base (not the ratio of the geomeans, which would mislead when the two
// columns hold different sets of benchmarks).
func summarizeColumn(t *statTable, col benchproc.Key, isBase bool) *colSummary {
	s := &colSummary{}
	nBase := 0
	for _, row := range t.Rows {
		if _, ok := t.Cells[cellKey{row, t.Cols[0]}]; ok {
			nBase++
		}
	}
	var centers, ratios []float64
	badRatio := false
	for _, row := range t.Rows {
		c, ok := t.Cells[cellKey{row, col}]
		if !ok {
			continue
		}
		centers = append(centers, c.Summary.Center)
		if c.Base == nil {
			continue
		}
		a, b := c.Summary.Center, c.Base.Summary.Center
		switch {
		case a == b:
			ratios = append(ratios, 1)
		case b == 0:
			badRatio = true
			ratios = append(ratios, 0)
		default:
			ratios = append(ratios, a/b)
		}
	}
	if !isBase && nBase != len(ratios) {
		s.Warnings = append(s.Warnings, errors.New("benchmark set differs from baseline; geomeans may not be comparable"))
	}
	if gm := mstats.GeoMean(centers); math.IsNaN(gm) {
		s.Warnings = append(s.Warnings, errors.New("summaries must be >0 to compute geomean"))
	} else {
		s.HasCenter, s.Center = true, gm
	}
	if !isBase && !badRatio {
		if gm := mstats.GeoMean(ratios); math.IsNaN(gm) {
			s.Warnings = append(s.Warnings, errors.New("ratios must be >0 to compute geomean"))
		} else {
			s.HasRatio, s.Ratio = true, gm
		}
	}
	return s
}

func sortedKeys[V any](m map[benchproc.Key]V) []benchproc.Key {
	keys := make([]benchproc.Key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	benchproc.SortKeys(keys)
	return keys
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
