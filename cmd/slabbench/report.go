package main

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"os"
	"strings"

	"github.com/goslub/slub/bench"
)

// The report command: one HTML page with the summary of each file, plots
// (plot.go) inline as SVG, and the comparison tables. With several files
// each plot is a row of panels, one per file, on the same y axis.

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: slabbench report [-o file.html] [[label=]FILE...]

Writes one HTML page about FILE (by default the newest file in results/), or
about several files side by side: each file's configuration, the targets met
and missed, each design's time over that of sheaves, the kernel's batch table
beside ours, plots of the time of every workload by design, of throughput
against GOMAXPROCS (for a -cpu sweep) and of memory, each median with its 95%
confidence interval, and the comparison tables of slabbench compare.

`)
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
	d, err := loadResults(paths, stderr)
	if err != nil {
		return err
	}
	if !d.hasDesigns() {
		return fmt.Errorf("no results with a /design= key in %s", strings.Join(paths, ", "))
	}
	if err := writeReport(*out, d); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "slabbench: wrote %s\n", *out)
	return nil
}

// writeReport writes the report of d to the file at path.
func writeReport(path string, d *resultData) error {
	page, err := d.html()
	if err != nil {
		return err
	}
	return os.WriteFile(path, page, 0o644)
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

type reportFile struct {
	Label, Path, Legend string
}

type swatch struct {
	Design string
	Color  template.CSS
}

type textBlock struct {
	Label, Text string
}

type figure struct {
	File, Title string
	SVG         template.HTML
}

type figureRow struct {
	Title   string
	Figures []figure
}

type plotSection struct {
	Title, Note string
	Rows        []figureRow
}

func cssColor(c color.RGBA) template.CSS {
	return template.CSS(fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B))
}

func (d *resultData) html() ([]byte, error) {
	pal := newPalette(d.designs)
	var files []reportFile
	for _, l := range d.labels {
		files = append(files, reportFile{l, d.paths[l], d.legend(l)})
	}
	var key []swatch
	for _, des := range designOrder(d.designs) {
		key = append(key, swatch{des, cssColor(pal[des])})
	}

	var targetsText, headlineText, kernelText []textBlock
	for _, l := range d.labels {
		if _, ok := d.configs[l]; !ok {
			continue
		}
		var t strings.Builder
		rs := d.checkTargets(l)
		n := countVerdicts(rs)
		fmt.Fprintf(&t, "%d met, %d missed, %d without data\n\n", n[met], n[missed], n[noData])
		if err := writeTargets(&t, rs, true); err != nil {
			return nil, err
		}
		targetsText = append(targetsText, textBlock{l, t.String()})
		var h strings.Builder
		writeHeadlines(&h, d.headlines(l))
		headlineText = append(headlineText, textBlock{l, h.String()})
		var k strings.Builder
		if err := writeKernelTable(&k, d, l); err != nil {
			return nil, err
		}
		kernelText = append(kernelText, textBlock{l, k.String()})
	}

	var secs []plotSection
	timeSec := plotSection{Title: "Time per operation", Note: "The median of each design, lower is better, at the largest " +
		"GOMAXPROCS the file has for the workload; Batch, Bulk and NoLockHook per object, the others per op."}
	scaleSec := plotSection{Title: "Scaling with GOMAXPROCS", Note: "Throughput of the workloads that run on GOMAXPROCS " +
		"goroutines, higher is better."}
	memSec := plotSection{Title: "Memory", Note: "For each workload the largest variant that most designs ran. Mapped bytes " +
		"are the allocator's own (see go doc ./bench); after Shrink, 0 means every page went back."}
	for _, w := range d.workloads {
		row, err := d.figureRow(pal, w, func(file string) *chart { return d.timeChart(file, w) })
		if err != nil {
			return nil, err
		}
		if len(row.Figures) > 0 {
			timeSec.Rows = append(timeSec.Rows, row)
		}
		if !threaded(w) {
			continue
		}
		for _, v := range d.variants[w] {
			row, err := d.figureRow(pal, w+"/"+v, func(file string) *chart { return d.scalingChart(file, w, v) })
			if err != nil {
				return nil, err
			}
			if len(row.Figures) > 0 {
				scaleSec.Rows = append(scaleSec.Rows, row)
			}
		}
	}
	if len(scaleSec.Rows) == 0 {
		scaleSec.Note = "These results hold one GOMAXPROCS value: run slabbench -cpu 1,2,4,... for scaling plots."
	}
	for _, m := range memoryUnits {
		row, err := d.figureRow(pal, m.title, func(file string) *chart { return d.memoryChart(file, m) })
		if err != nil {
			return nil, err
		}
		if len(row.Figures) > 0 {
			memSec.Rows = append(memSec.Rows, row)
		}
	}
	secs = append(secs, timeSec, scaleSec, memSec)

	proj := byDesign
	if len(d.labels) > 1 {
		proj = byFile
	}
	st, err := computeStats(d, proj, defaultStatOptions)
	if err != nil {
		return nil, err
	}
	var tables bytes.Buffer
	if proj.Col == ".file" {
		writeLegend(&tables, d)
	}
	if err := writeText(&tables, st); err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	err = reportTemplate.Execute(&buf, struct {
		Files                      []reportFile
		Key                        []swatch
		Targets, Headlines, Kernel []textBlock
		Sections                   []plotSection
		Tables                     string
		ErrorBarColor              template.CSS
		MinSamples                 int
		HeadlineBase               string
	}{files, key, targetsText, headlineText, kernelText, secs, tables.String(), cssColor(errorBarColor), minIntervalSamples, headlineBase})
	return buf.Bytes(), err
}

// figureRow draws the chart mk makes for each file side by side, on one y
// axis.
func (d *resultData) figureRow(pal palette, title string, mk func(file string) *chart) (figureRow, error) {
	row := figureRow{Title: title}
	var charts []*chart
	var labels []string
	for _, l := range d.labels {
		if ch := mk(l); ch != nil {
			charts = append(charts, ch)
			labels = append(labels, l)
		}
	}
	if len(charts) == 0 {
		return row, nil
	}
	setRanges(charts)
	for i, ch := range charts {
		if len(d.labels) > 1 {
			ch.title += " — " + labels[i]
		}
		svg, err := ch.svg(pal)
		if err != nil {
			return row, err
		}
		row.Figures = append(row.Figures, figure{File: labels[i], Title: ch.title, SVG: template.HTML(svg)})
	}
	return row, nil
}

// measure returns the median of the sample at p with its interval, mapped
// by f (which may invert them: f(x) = 1/x turns time into throughput).
func (d *resultData) measure(p point, f func(float64) float64) measurement {
	s, ok := d.summary(p)
	if !ok {
		return measurement{}
	}
	m := measurement{ok: true, v: f(s.Center)}
	if !math.IsInf(s.Lo, 0) && !math.IsInf(s.Hi, 0) {
		m.lo, m.hi, m.ci = f(s.Lo), f(s.Hi), true
		if m.lo > m.hi {
			m.lo, m.hi = m.hi, m.lo
		}
		m.ci = !math.IsInf(m.lo, 0) && !math.IsInf(m.hi, 0) && !math.IsNaN(m.lo) && !math.IsNaN(m.hi)
	}
	return m
}

func identity(x float64) float64 { return x }

// timeChart is the time of every variant of a workload in the file, a bar
// per design, at the largest GOMAXPROCS the file has for it.
func (d *resultData) timeChart(file, w string) *chart {
	procs := d.fileTopProcs(file, w)
	if procs == 0 {
		return nil
	}
	unit, ylabel := "sec/op", "time per op (log scale)"
	for _, v := range d.variants[w] {
		for _, des := range d.designs {
			if _, ok := d.samples[point{file, w, v, procs, des, "sec/obj"}]; ok {
				unit, ylabel = "sec/obj", "time per object (log scale)"
			}
		}
	}
	var variants []string
	for _, v := range d.variants[w] {
		for _, des := range d.designs {
			if _, ok := d.samples[point{file, w, v, procs, des, unit}]; ok {
				variants = append(variants, v)
				break
			}
		}
	}
	ch := &chart{title: w, ylabel: ylabel, axis: timeAxis, values: map[string][]measurement{}}
	if procs > 1 {
		ch.title += fmt.Sprintf(" (GOMAXPROCS=%d)", procs)
	}
	for _, v := range variants {
		ch.groups = append(ch.groups, orDefault(v, w))
	}
	d.fill(ch, len(variants), func(i int, des string) point {
		return point{file, w, variants[i], procs, des, unit}
	}, identity)
	return ch
}

// fill sets the values of ch for n groups from the points at(group,
// design), keeping the designs that have any.
func (d *resultData) fill(ch *chart, n int, at func(i int, design string) point, f func(float64) float64) {
	for _, des := range designOrder(d.designs) {
		ms := make([]measurement, n)
		has := false
		for i := range ms {
			ms[i] = d.measure(at(i, des), f)
			has = has || ms[i].ok
		}
		if has {
			ch.designs = append(ch.designs, des)
			ch.values[des] = ms
		}
	}
}

// scalingChart is the throughput of one variant against GOMAXPROCS, a line
// per design; nil when the file has one GOMAXPROCS for it.
func (d *resultData) scalingChart(file, w, v string) *chart {
	var xs []float64
	for _, p := range d.procs[w] {
		for _, des := range d.designs {
			if _, ok := d.samples[point{file, w, v, p, des, "sec/op"}]; ok {
				xs = append(xs, float64(p))
				break
			}
		}
	}
	if len(xs) < 2 {
		return nil
	}
	ch := &chart{title: w + "/" + v, ylabel: "ops per second", xlabel: "GOMAXPROCS", axis: rateAxis, xs: xs,
		values: map[string][]measurement{}}
	if v == "" {
		ch.title = w
	}
	d.fill(ch, len(xs), func(i int, des string) point {
		return point{file, w, v, int(xs[i]), des, "sec/op"}
	}, func(x float64) float64 { return 1 / x })
	return ch
}

// A memoryUnit is one memory plot.
type memoryUnit struct {
	unit, title, ylabel string
	axis                axisKind
}

var memoryUnits = []memoryUnit{
	{"mapped-B/live-B", "Mapped bytes per live byte at the peak", "mapped B / live B (log scale)", ratioAxis},
	{"peak-mapped-B", "Mapped at the peak", "mapped (log scale)", logBytesAxis},
	{"shrunk-mapped-B", "Still mapped after everything was freed and Shrink ran", "mapped", bytesAxis},
}

// memoryChart plots a memory unit for the last variant of each workload.
func (d *resultData) memoryChart(file string, m memoryUnit) *chart {
	ch := &chart{title: m.title, ylabel: m.ylabel, axis: m.axis, values: map[string][]measurement{}}
	var where []point
	for _, w := range d.workloads {
		// The last variant among those most designs have.
		var p point
		most := 0
		for _, v := range d.variants[w] {
			q := point{file: file, workload: w, variant: v, procs: d.fileTopProcs(file, w), unit: m.unit}
			n := 0
			for _, des := range d.designs {
				q.design = des
				if _, ok := d.samples[q]; ok {
					n++
				}
			}
			if n > 0 && n >= most {
				p, most = q, n
			}
		}
		if most == 0 {
			continue
		}
		v := p.variant
		label := w
		if v != "" {
			label += "/" + v
		}
		ch.groups = append(ch.groups, label)
		where = append(where, p)
	}
	if len(where) == 0 {
		return nil
	}
	d.fill(ch, len(where), func(i int, des string) point {
		p := where[i]
		p.design = des
		return p
	}, identity)
	return ch
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>slabbench report</title>
<style>
body { font-family: sans-serif; margin: 2em; }
.row { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0.5em 0; }
pre { font-size: 80%; overflow-x: auto; }
.swatch { display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin: 0 0.3em 0 1em; }
table.files td { padding: 0 1em 0 0; vertical-align: top; }
</style></head><body>
<h1>slabbench report</h1>
<table class="files">{{range .Files}}<tr><td><b>{{.Label}}</b></td><td><code>{{.Path}}</code></td><td><code>{{.Legend}}</code></td></tr>
{{end}}</table>
<p class="key">Designs:{{range .Key}}<span class="swatch" style="background: {{.Color}}"></span>{{.Design}}{{end}}</p>
<p>Every bar and point is a median; its error bar (<span class="swatch" style="background: {{.ErrorBarColor}}; width: 0.2em; margin-left: 0.2em"></span>)
is the 95% confidence interval of that median, as benchstat computes it; a sample of fewer than {{.MinSamples}} runs has none.
A value of zero is a thick mark on the axis with a "0" over it. Each design has the same colour in every plot.</p>

<h2 id="targets">Targets</h2>
<p>The project's performance targets (<code>slabbench targets</code>): each ratio of medians is of the quantity its sentence names, first over second, with a 95% bootstrap interval.</p>
{{range .Targets}}<h3>{{.Label}}</h3><pre class="targets">{{.Text}}</pre>
{{end}}
<h2 id="headline">Time against {{.HeadlineBase}}</h2>
<p>Each design's time over that of {{.HeadlineBase}}: the geometric mean over the benchmarks both ran of the ratio of their medians, with a 95% bootstrap interval; above 1 is slower than {{.HeadlineBase}}.</p>
{{range .Headlines}}<h3>{{.Label}}</h3><pre class="headline">{{.Text}}</pre>
{{end}}
<h2 id="kernel">The kernel's batch benchmark</h2>
{{range .Kernel}}<h3>{{.Label}}</h3><pre class="kernel">{{.Text}}</pre>
{{end}}
{{range .Sections}}<h2>{{.Title}}</h2>
<p>{{.Note}}</p>
{{range .Rows}}<div class="row" data-row="{{.Title}}">{{range .Figures}}<figure class="plot" data-file="{{.File}}" data-title="{{.Title}}">{{.SVG}}</figure>{{end}}</div>
{{end}}{{end}}
<h2 id="tables">Comparison tables</h2>
<p>Medians ± 95% confidence intervals; deltas against the first column with the p-value of the Mann-Whitney U test (~: not significant). The same as <code>slabbench compare</code>.</p>
<pre>{{.Tables}}</pre>
</body></html>
`))
