package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/goslub/slub/bench"
)

// The report command: an HTML page of plots made with gonum.org/v1/plot, as
// SVG images, and the comparison tables.

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: slabbench report [-o file.html] [label=]FILE...\n")
		fs.PrintDefaults()
	}
	out := fs.String("o", "slabbench-report.html", "write the report to `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	paths, err := inputFiles(fs.Args())
	if err != nil {
		return err
	}
	data, err := loadReport(paths, stderr)
	if err != nil {
		return err
	}
	var tables bytes.Buffer
	proj := byDesign
	if len(paths) > 1 {
		proj = byFile
	}
	st, err := computeStats(paths, proj, defaultStatOptions, stderr)
	if err != nil {
		return err
	}
	if proj.Col == ".file" {
		writeLegend(&tables, st)
	}
	if err := writeText(&tables, st); err != nil {
		return err
	}
	page, err := data.html(tables.String())
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, page, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "slabbench: wrote %s\n", *out)
	return nil
}

// point identifies one sample: a benchmark variant on a design at a
// GOMAXPROCS, in one file, in one unit.
type point struct {
	file, workload, variant string
	procs                   int
	design, unit            string
}

// reportData is every sample of the files, with the orders in which files,
// workloads, variants and designs first appear.
type reportData struct {
	samples   map[point][]float64
	units     benchfmt.UnitMetadataMap
	files     []string
	configs   map[string]string // file label -> a one-line description
	workloads []string
	variants  map[string][]string // workload -> variants
	designs   []string
	procs     map[string][]int // workload -> GOMAXPROCS values
}

func loadReport(paths []string, warn io.Writer) (*reportData, error) {
	d := &reportData{
		samples:  map[point][]float64{},
		configs:  map[string]string{},
		variants: map[string][]string{},
		procs:    map[string][]int{},
	}
	files := benchfmt.Files{Paths: labelPaths(paths), AllowLabels: true}
	for files.Scan() {
		switch rec := files.Result().(type) {
		case *benchfmt.SyntaxError:
			fmt.Fprintln(warn, rec)
		case *benchfmt.Result:
			file := rec.GetConfig(".file")
			if _, ok := d.configs[file]; !ok {
				d.files = append(d.files, file)
				var desc []string
				for _, k := range legendKeys {
					if v := rec.GetConfig(k); v != "" {
						desc = append(desc, k+"="+v)
					}
				}
				d.configs[file] = strings.Join(desc, " ")
			}
			workload, variant, design, procs := splitName(rec.Name)
			if design == "" {
				continue
			}
			addOnce(&d.workloads, workload)
			vs := d.variants[workload]
			addOnce(&vs, variant)
			d.variants[workload] = vs
			addOnce(&d.designs, design)
			ps := d.procs[workload]
			if !slices.Contains(ps, procs) {
				ps = append(ps, procs)
				slices.Sort(ps)
				d.procs[workload] = ps
			}
			for _, v := range rec.Values {
				p := point{file, workload, variant, procs, design, v.Unit}
				d.samples[p] = append(d.samples[p], v.Value)
			}
		}
	}
	if err := files.Err(); err != nil {
		return nil, err
	}
	if len(d.samples) == 0 {
		return nil, fmt.Errorf("no results with a /design= key in %s", strings.Join(paths, ", "))
	}
	d.units = files.Units()
	return d, nil
}

func addOnce(list *[]string, s string) {
	if !slices.Contains(*list, s) {
		*list = append(*list, s)
	}
}

// splitName splits "Batch/n=100/order=shuffled/design=sheaves-2" into
// "Batch", "n=100/order=shuffled", "sheaves" and 2. A variant "threads=N"
// with N equal to GOMAXPROCS becomes "threads=P", so that the variant keeps
// its name across a GOMAXPROCS sweep.
func splitName(name benchfmt.Name) (workload, variant, design string, procs int) {
	base, parts := name.Parts()
	workload, procs = string(base), 1
	var vparts []string
	for _, p := range parts {
		s := string(p)
		switch {
		case strings.HasPrefix(s, "-"):
			procs, _ = strconv.Atoi(s[1:])
		case strings.HasPrefix(s, "/design="):
			design = strings.TrimPrefix(s, "/design=")
		default:
			vparts = append(vparts, strings.TrimPrefix(s, "/"))
		}
	}
	for i, v := range vparts {
		if v == "threads="+strconv.Itoa(procs) && procs > 1 {
			vparts[i] = "threads=P"
		}
	}
	return workload, strings.Join(vparts, "/"), design, procs
}

// median returns the median of the samples of p (benchstat's center), and
// whether there are any.
func (d *reportData) median(p point) (float64, bool) {
	vs := d.samples[p]
	if len(vs) == 0 {
		return 0, false
	}
	s := benchmath.NewSample(vs, &benchmath.DefaultThresholds)
	return d.units.GetAssumption(p.unit).Summary(s, 0.95).Center, true
}

// threaded reports whether the workload runs on GOMAXPROCS goroutines.
func threaded(workload string) bool {
	for _, w := range bench.Workloads() {
		if w.Name == workload {
			return w.Threads
		}
	}
	return false
}

// A figure is one plot of the report.
type figure struct {
	Title   string
	Caption string
	SVG     template.URL // data: URL
}

type section struct {
	Title   string
	Note    string
	Figures []figure
}

func (d *reportData) html(tables string) ([]byte, error) {
	var secs []section
	for _, file := range d.files {
		prefix := ""
		if len(d.files) > 1 {
			prefix = file + ": "
		}
		timeSec := section{Title: prefix + "Time per operation", Note: "Medians of each design; lower is better. " +
			"Batch, Bulk and NoLockHook show ns per object, the others ns per op."}
		scaleSec := section{Title: prefix + "Scaling with GOMAXPROCS", Note: "Throughput of the workloads that run on " +
			"GOMAXPROCS goroutines; higher is better."}
		memSec := section{Title: prefix + "Memory", Note: "The largest variant of each workload. Mapped bytes " +
			"are the allocator's own (see go doc ./bench); after Shrink, near 0 means the pages went back."}
		for _, w := range d.workloads {
			procs := d.procs[w]
			top := procs[len(procs)-1]
			if f, err := d.timeFigure(file, w, top); err != nil {
				return nil, err
			} else if f != nil {
				timeSec.Figures = append(timeSec.Figures, *f)
			}
			if threaded(w) && len(procs) > 1 {
				for _, v := range d.variants[w] {
					f, err := d.scalingFigure(file, w, v)
					if err != nil {
						return nil, err
					}
					if f != nil {
						scaleSec.Figures = append(scaleSec.Figures, *f)
					}
				}
			}
		}
		if len(scaleSec.Figures) == 0 {
			scaleSec.Note = "These results hold one GOMAXPROCS value: run slabbench -cpu 1,2,4,... for scaling plots."
		}
		for _, m := range []struct{ unit, title, ylabel string }{
			{"mapped-B/live-B", "Mapped bytes per live byte at the peak", "mapped B / live B"},
			{"peak-mapped-B", "Mapped at the peak", "KiB"},
			{"shrunk-mapped-B", "Still mapped after everything was freed and Shrink ran", "KiB"},
		} {
			f, err := d.memoryFigure(file, m.unit, m.title, m.ylabel)
			if err != nil {
				return nil, err
			}
			if f != nil {
				memSec.Figures = append(memSec.Figures, *f)
			}
		}
		secs = append(secs, timeSec, scaleSec, memSec)
	}
	var legend []string
	for _, f := range d.files {
		legend = append(legend, f+": "+d.configs[f])
	}
	var buf bytes.Buffer
	err := reportTemplate.Execute(&buf, struct {
		Files    []string
		Sections []section
		Tables   string
	}{legend, secs, tables})
	return buf.Bytes(), err
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>slabbench report</title>
<style>
body { font-family: sans-serif; margin: 2em; }
figure { display: inline-block; margin: 1em; vertical-align: top; }
figcaption { font-size: 90%; color: #444; }
pre { font-size: 80%; }
</style></head><body>
<h1>slabbench report</h1>
<ul>{{range .Files}}<li><code>{{.}}</code></li>{{end}}</ul>
{{range .Sections}}<h2>{{.Title}}</h2>
<p>{{.Note}}</p>
{{range .Figures}}<figure><img src="{{.SVG}}" alt="{{.Title}}"><figcaption>{{.Caption}}</figcaption></figure>
{{end}}{{end}}
<h2>Comparison tables</h2>
<p>Medians ± 95% confidence intervals; deltas against the first column with the p-value of the Mann-Whitney U test (~: not significant). The same as <code>slabbench compare</code>.</p>
<pre>{{.Tables}}</pre>
</body></html>
`))

// timeFigure plots the time per op (or per object) of every variant of a
// workload, a bar per design.
func (d *reportData) timeFigure(file, w string, procs int) (*figure, error) {
	unit, scale, ylabel := "sec/op", 1e9, "ns/op"
	for _, v := range d.variants[w] {
		for _, des := range d.designs {
			if _, ok := d.samples[point{file, w, v, procs, des, "sec/obj"}]; ok {
				unit, ylabel = "sec/obj", "ns/obj"
			}
		}
	}
	title := w
	if procs > 1 {
		title += fmt.Sprintf(" (GOMAXPROCS=%d)", procs)
	}
	return d.barFigure(title, ylabel+" (log scale)", true, d.variants[w], func(v, des string) (float64, bool) {
		m, ok := d.median(point{file, w, v, procs, des, unit})
		return m * scale, ok
	})
}

// memoryFigure plots a memory unit for the last variant of each workload:
// ratios on a log scale, byte counts (which are 0 when all is given back)
// on a linear one.
func (d *reportData) memoryFigure(file, unit, title, ylabel string) (*figure, error) {
	scale, logY := 1.0, true
	if ylabel == "KiB" {
		scale, logY = 1.0/1024, false
	}
	var groups []string
	where := map[string]point{}
	for _, w := range d.workloads {
		vs := d.variants[w]
		ps := d.procs[w]
		v := vs[len(vs)-1]
		label := w
		if v != "" {
			label += "/" + v
		}
		groups = append(groups, label)
		where[label] = point{file: file, workload: w, variant: v, procs: ps[len(ps)-1], unit: unit}
	}
	if logY {
		ylabel += " (log scale)"
	}
	return d.barFigure(title, ylabel, logY, groups, func(g, des string) (float64, bool) {
		p := where[g]
		p.design = des
		m, ok := d.median(p)
		return m * scale, ok
	})
}

// barFigure draws grouped bars: a group per entry of groups, a bar per design
// that has a value. On a log scale the bars start at a power of ten below
// the smallest value (they are stacked on an invisible base there). The x
// axis runs on past the last group to leave the legend room.
func (d *reportData) barFigure(title, ylabel string, logY bool, groups []string, value func(group, design string) (float64, bool)) (*figure, error) {
	var designs []string
	lo, hi := math.Inf(1), 0.0
	for _, des := range d.designs {
		has := false
		for _, g := range groups {
			if v, ok := value(g, des); ok && v > 0 && !math.IsInf(v, 0) {
				has = true
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		if has {
			designs = append(designs, des)
		}
	}
	if len(designs) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	var base *plotter.BarChart
	if logY {
		floor := math.Pow(10, math.Floor(math.Log10(lo)))
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = floor, math.Pow(10, math.Ceil(math.Log10(hi*1.01)))
		vals := make(plotter.Values, len(groups))
		for i := range vals {
			vals[i] = floor
		}
		base, _ = plotter.NewBarChart(vals, 1)
	}
	barW := vg.Points(max(6, 60/float64(len(designs))))
	for i, des := range designs {
		vals := make(plotter.Values, len(groups))
		for j, g := range groups {
			if v, ok := value(g, des); ok && v > 0 && !math.IsInf(v, 0) {
				vals[j] = v
				if base != nil {
					vals[j] -= base.Values[j]
				}
			}
		}
		bars, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return nil, err
		}
		if base != nil {
			bars.StackOn(base)
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = barW * vg.Length(float64(i)-float64(len(designs)-1)/2)
		p.Add(bars)
		p.Legend.Add(des, bars)
	}
	p.NominalX(groups...)
	p.X.Max = float64(len(groups)) - 0.5 + 1.2
	if len(groups) > 4 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	width := max(vg.Length(len(groups)*len(designs))*barW*1.3+3*vg.Inch, 5*vg.Inch)
	return render(p, title, width, 4*vg.Inch)
}

// scalingFigure plots the throughput of one variant against GOMAXPROCS, a
// line per design.
func (d *reportData) scalingFigure(file, w, v string) (*figure, error) {
	p := plot.New()
	title := w
	if v != "" {
		title += "/" + v
	}
	p.Title.Text = title
	p.X.Label.Text = "GOMAXPROCS"
	p.Y.Label.Text = "ops/s"
	p.Legend.Top = true
	var lines []any
	for _, des := range d.designs {
		var xys plotter.XYs
		for _, procs := range d.procs[w] {
			if m, ok := d.median(point{file, w, v, procs, des, "sec/op"}); ok && m > 0 {
				xys = append(xys, plotter.XY{X: float64(procs), Y: 1 / m})
			}
		}
		if len(xys) > 1 {
			lines = append(lines, des, xys)
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return nil, err
	}
	procs := d.procs[w]
	var ticks []plot.Tick
	for _, n := range procs {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: strconv.Itoa(n)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	first, last := float64(procs[0]), float64(procs[len(procs)-1])
	p.X.Min, p.X.Max = first, last+(last-first)*0.45
	p.Y.Min = 0
	return render(p, title, 5*vg.Inch, 3.5*vg.Inch)
}

// render draws p as SVG into a data: URL.
func render(p *plot.Plot, title string, w, h vg.Length) (*figure, error) {
	wt, err := p.WriterTo(w, h, "svg")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	url := "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
	return &figure{Title: title, Caption: title, SVG: template.URL(url)}, nil
}
