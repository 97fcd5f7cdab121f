package main

import (
	"bytes"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/goslub/slub/bench"
)

// The plots of the report, drawn with gonum.org/v1/plot as SVG. Every
// design has one colour in every plot (designColor); every bar and point
// carries its median's 95% confidence interval as an error bar in
// errorBarColor; a zero is drawn as a mark on the axis with a "0", not left
// out; log axes are labelled at 1, 2 and 5 (or 1 and 3, or 1) times each
// power of ten, every label with its unit ("20 ns", "1.5 µs", "512 KiB").

// knownDesigns gives the designs of the suite their colours, in the order
// plots and legends list them: reds for the sheaves of 7.0, blues for the
// cpu slabs, purple for the hybrid of 6.18, and other colours for the
// baselines.
var knownDesigns = []struct {
	name  string
	color color.RGBA
}{
	{"sheaves", color.RGBA{0xd6, 0x27, 0x28, 0xff}},
	{"cpuslab", color.RGBA{0x1f, 0x77, 0xb4, 0xff}},
	{"cpuslab-locked", color.RGBA{0x6b, 0xae, 0xd6, 0xff}},
	{"hybrid", color.RGBA{0x94, 0x67, 0xbd, 0xff}},
	{"goheap", color.RGBA{0x7f, 0x7f, 0x7f, 0xff}},
	{"syncpool", color.RGBA{0x2c, 0xa0, 0x2c, 0xff}},
	{"modernc", color.RGBA{0xff, 0x7f, 0x0e, 0xff}},
	{"mcache", color.RGBA{0x8c, 0x56, 0x4b, 0xff}},
	{"floor", color.RGBA{0xbc, 0xbd, 0x22, 0xff}},
}

// spareColors are given, in order, to designs not in knownDesigns, sorted
// by name.
var spareColors = []color.RGBA{
	{0xe3, 0x77, 0xc2, 0xff},
	{0x17, 0xbe, 0xcf, 0xff},
	{0x39, 0x3b, 0x79, 0xff},
	{0x63, 0x79, 0x39, 0xff},
}

// errorBarColor draws the confidence intervals, and nothing else.
var errorBarColor = color.RGBA{0x30, 0x30, 0x30, 0xff}

// palette maps each design of a report to its colour.
type palette map[string]color.RGBA

// newPalette gives every design its colour: its own if it is known,
// otherwise a spare one in name order.
func newPalette(designs []string) palette {
	p := palette{}
	for _, k := range knownDesigns {
		p[k.name] = k.color
	}
	var unknown []string
	for _, d := range designs {
		if _, ok := p[d]; !ok {
			unknown = append(unknown, d)
		}
	}
	slices.Sort(unknown)
	for i, d := range unknown {
		p[d] = spareColors[i%len(spareColors)]
	}
	return p
}

// designOrder sorts designs as knownDesigns lists them, then as bench does,
// then by name.
func designOrder(designs []string) []string {
	rank := map[string]int{}
	for _, k := range knownDesigns {
		rank[k.name] = len(rank) + 1
	}
	for _, n := range bench.DesignNames() {
		if rank[n] == 0 {
			rank[n] = len(rank) + 1
		}
	}
	out := slices.Clone(designs)
	slices.SortStableFunc(out, func(a, b string) int {
		ra, rb := rank[a], rank[b]
		switch {
		case ra != 0 && rb != 0:
			return ra - rb
		case ra != 0:
			return -1
		case rb != 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}

// An axisKind is how values are laid out and labelled on an axis.
type axisKind struct {
	log bool
	// binary: round values are powers of two (bytes), not 1, 2 and 5
	// times powers of ten; linear axes count in units of 1024^k, not
	// 1000^k.
	binary bool
	// format writes a value with its unit.
	format func(float64) string
}

var (
	timeAxis     = axisKind{log: true, format: formatSeconds}
	ratioAxis    = axisKind{log: true, format: formatPlain}
	bytesAxis    = axisKind{binary: true, format: formatBytes}
	logBytesAxis = axisKind{log: true, binary: true, format: formatBytes}
	rateAxis     = axisKind{format: formatRate}
)

// A measurement is a median with its confidence interval.
type measurement struct {
	ok     bool // there is a sample
	v      float64
	lo, hi float64
	ci     bool // the interval is finite
}

// span returns the smallest and largest of the values and finite
// interval ends in ms, counting only positive ones on a log axis.
func span(ms []measurement, log bool) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	add := func(x float64) {
		if math.IsInf(x, 0) || math.IsNaN(x) || log && x <= 0 {
			return
		}
		lo, hi, ok = min(lo, x), max(hi, x), true
	}
	for _, m := range ms {
		if !m.ok {
			continue
		}
		add(m.v)
		if m.ci {
			add(m.lo)
			add(m.hi)
		}
	}
	return lo, hi, ok
}

// axisRange returns the range of an axis of kind k for values from lo to
// hi: on a log axis from the round value below lo to the one above hi, on
// a linear axis from 0 to a whole step above hi.
func (k axisKind) axisRange(lo, hi float64) (float64, float64) {
	switch {
	case k.log && k.binary:
		bottom := math.Exp2(math.Floor(math.Log2(lo / 1.05)))
		return bottom, max(math.Exp2(math.Ceil(math.Log2(hi*1.05))), 2*bottom)
	case k.log:
		bottom := niceBelow(lo / 1.05)
		return bottom, max(niceAbove(hi*1.05), niceAbove(bottom*1.5))
	case hi <= 0:
		return 0, 1
	}
	step := k.linearStep(0, hi)
	return 0, math.Ceil(hi*1.05/step) * step
}

// linearStep is the distance between labelled ticks from lo to hi: 1, 2
// or 5 times a power of ten, in the unit values are labelled in.
func (k axisKind) linearStep(lo, hi float64) float64 {
	base := 1000.0
	if k.binary {
		base = 1024
	}
	unit := 1.0
	for hi/unit >= base {
		unit *= base
	}
	return niceAbove((hi-lo)/unit/6) * unit
}

// niceBelow returns the largest 1, 2 or 5 times a power of ten <= x.
func niceBelow(x float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{5, 2, 1} {
		if m*e <= x*(1+1e-9) {
			return m * e
		}
	}
	return e
}

// niceAbove returns the smallest 1, 2 or 5 times a power of ten >= x.
func niceAbove(x float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= x*(1-1e-9) {
			return m * e
		}
	}
	return 10 * e
}

// ticker returns the tick marks of an axis of kind k.
func (k axisKind) ticker() plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		switch {
		case k.log && k.binary:
			return log2Ticks(lo, hi, k.format)
		case k.log:
			return logTicks(lo, hi, k.format)
		}
		return linearTicks(lo, hi, k.linearStep(lo, hi), k.format)
	})
}

// logTicks labels 1, 2, 3, 5 and 7 times each power of ten over about a
// decade, 1, 2 and 5 over two, 1 and 3 over four, 1 beyond, with minor
// ticks at the other integers times each power.
func logTicks(lo, hi float64, format func(float64) string) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	labelled := []float64{1}
	switch decades := math.Log10(hi / lo); {
	case decades <= 1.21:
		labelled = []float64{1, 2, 3, 5, 7}
	case decades <= 2.01:
		labelled = []float64{1, 2, 5}
	case decades <= 4.01:
		labelled = []float64{1, 3}
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for m := 1.0; m <= 9; m++ {
			v := m * p
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if slices.Contains(labelled, m) {
				t.Label = format(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// log2Ticks marks every power of two from lo to hi and labels every
// first, second, fifth or tenth of them, so that at most eight are.
func log2Ticks(lo, hi float64, format func(float64) string) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	first, last := math.Ceil(math.Log2(lo)-1e-9), math.Floor(math.Log2(hi)+1e-9)
	every := 1.0
	for _, e := range []float64{1, 2, 5, 10, 20} {
		every = e
		if (last-first)/e < 8 {
			break
		}
	}
	var ticks []plot.Tick
	for e := first; e <= last; e++ {
		t := plot.Tick{Value: math.Exp2(e)}
		if math.Mod(e, every) == 0 {
			t.Label = format(t.Value)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// linearTicks labels every step from lo to hi, with a minor tick halfway.
func linearTicks(lo, hi, step float64, format func(float64) string) []plot.Tick {
	if hi <= lo || step <= 0 {
		return nil
	}
	var ticks []plot.Tick
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi*(1+1e-9); i++ {
		v := i * step
		ticks = append(ticks, plot.Tick{Value: v, Label: format(v)})
		if minor := v + step/2; minor < hi {
			ticks = append(ticks, plot.Tick{Value: minor})
		}
	}
	return ticks
}

// formatNumber writes x with at most three significant digits and no
// exponent: 20, 1.5, 0.25.
func formatNumber(x float64) string {
	if x == 0 {
		return "0"
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 3, 64), 64)
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// scaled writes x in the largest of the units (each with its factor) that
// keeps it at 1 or more.
func scaled(x float64, units []string, factors []float64) string {
	if x == 0 {
		return "0"
	}
	i := 0
	for i+1 < len(factors) && math.Abs(x) >= factors[i+1]*(1-1e-9) {
		i++
	}
	return formatNumber(x/factors[i]) + " " + units[i]
}

func formatSeconds(x float64) string {
	return scaled(x, []string{"ps", "ns", "µs", "ms", "s"}, []float64{1e-12, 1e-9, 1e-6, 1e-3, 1})
}

func formatBytes(x float64) string {
	return scaled(x, []string{"B", "KiB", "MiB", "GiB", "TiB"}, []float64{1, 1 << 10, 1 << 20, 1 << 30, 1 << 40})
}

func formatRate(x float64) string {
	return scaled(x, []string{"/s", "k/s", "M/s", "G/s"}, []float64{1, 1e3, 1e6, 1e9})
}

func formatPlain(x float64) string { return formatNumber(x) }

// bars is one design's bars in a grouped bar chart: a bar per group, each
// with its error bar. In each group the designs that have a value stand
// side by side, in legend order: slot[g] of slots[g].
type bars struct {
	design      string
	color       color.Color
	values      []measurement // one per group
	slot, slots []int
	zeroLabel   text.Style
}

// barWidth is the width of one group's bars together, in groups.
const barWidth = 0.8

// width is the width of one bar in group g, in groups: a lone bar is as
// wide as one of two.
func (b *bars) width(g int) float64 { return barWidth / float64(max(b.slots[g], 2)) }

func (b *bars) x(g int) float64 {
	return float64(g) + (float64(b.slot[g])-float64(b.slots[g]-1)/2)*b.width(g)
}

// Plot draws the bars from the bottom of the axis, the error bars over
// them, and a thick mark with a "0" where the value is zero.
func (b *bars) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	clampY := func(y float64) vg.Length {
		y = min(max(y, plt.Y.Min), plt.Y.Max)
		return trY(y)
	}
	for g, m := range b.values {
		if !m.ok {
			continue
		}
		x := trX(b.x(g))
		half := (trX(b.width(g)) - trX(0)) / 2 * 0.9
		base := trY(plt.Y.Min)
		if m.v == 0 {
			mark := draw.LineStyle{Color: b.color, Width: vg.Points(3)}
			c.StrokeLine2(mark, x-half, base+vg.Points(1.5), x+half, base+vg.Points(1.5))
			c.FillText(b.zeroLabel, vg.Point{X: x, Y: base + vg.Points(4)}, "0")
		} else {
			top := clampY(m.v)
			c.FillPolygon(b.color, []vg.Point{{X: x - half, Y: base}, {X: x + half, Y: base}, {X: x + half, Y: top}, {X: x - half, Y: top}})
		}
		if m.ci {
			drawErrorBar(&c, x, clampY(m.lo), clampY(m.hi), min(half*0.6, vg.Points(5)))
		}
	}
}

// drawErrorBar draws an interval from lo to hi at x as one path: the bar
// and its two caps.
func drawErrorBar(c *draw.Canvas, x, lo, hi, capHalf vg.Length) {
	var p vg.Path
	p.Move(vg.Point{X: x, Y: lo})
	p.Line(vg.Point{X: x, Y: hi})
	p.Move(vg.Point{X: x - capHalf, Y: lo})
	p.Line(vg.Point{X: x + capHalf, Y: lo})
	p.Move(vg.Point{X: x - capHalf, Y: hi})
	p.Line(vg.Point{X: x + capHalf, Y: hi})
	c.SetLineStyle(draw.LineStyle{Color: errorBarColor, Width: vg.Points(1)})
	c.Stroke(p)
}

// Thumbnail draws the legend's swatch.
func (b *bars) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(b.color, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// line is one design's line in a line plot: a point per x with its error
// bar.
type line struct {
	design string
	color  color.Color
	xs     []float64
	values []measurement
}

func (l *line) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	var pts []vg.Point
	for i, m := range l.values {
		if m.ok {
			pts = append(pts, vg.Point{X: trX(l.xs[i]), Y: trY(m.v)})
		}
	}
	if len(pts) > 1 {
		c.StrokeLines(draw.LineStyle{Color: l.color, Width: vg.Points(1.5)}, pts)
	}
	for i, m := range l.values {
		if !m.ok {
			continue
		}
		pt := vg.Point{X: trX(l.xs[i]), Y: trY(m.v)}
		c.DrawGlyph(draw.GlyphStyle{Color: l.color, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}, pt)
		if m.ci {
			drawErrorBar(&c, pt.X, trY(m.lo), trY(m.hi), vg.Points(3))
		}
	}
}

func (l *line) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(draw.LineStyle{Color: l.color, Width: vg.Points(1.5)}, c.Min.X, y, c.Max.X, y)
	c.DrawGlyph(draw.GlyphStyle{Color: l.color, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: y})
}

// chart is what a figure shows, before it is drawn: a grouped bar chart
// (groups, a bar per design in each) or, with xs, a line per design.
type chart struct {
	title, ylabel string
	axis          axisKind
	groups        []string  // bar charts: the groups' names
	xs            []float64 // line plots: the x values (GOMAXPROCS)
	xlabel        string
	designs       []string                 // in legend order
	values        map[string][]measurement // design -> one per group or x
	// ylo, yhi is the range of the y axis; set by setRange.
	ylo, yhi float64
}

// dataSpan returns the span of every value of ch.
func (ch *chart) dataSpan() (lo, hi float64, ok bool) {
	var all []measurement
	for _, ms := range ch.values {
		all = append(all, ms...)
	}
	return span(all, ch.axis.log)
}

// setRanges gives the charts of one row (the same figure for several
// files) one y range, so that they can be read side by side.
func setRanges(row []*chart) {
	lo, hi, any := math.Inf(1), math.Inf(-1), false
	for _, ch := range row {
		if l, h, ok := ch.dataSpan(); ok {
			lo, hi, any = min(lo, l), max(hi, h), true
		}
	}
	if !any {
		lo, hi = 1, 10
		if !row[0].axis.log {
			lo, hi = 0, 1
		}
	}
	for _, ch := range row {
		ch.ylo, ch.yhi = ch.axis.axisRange(lo, hi)
	}
}

// svg draws ch as an SVG document, with the legend to the right of the
// plot.
func (ch *chart) svg(pal palette) (string, error) {
	p := plot.New()
	p.Title.Text = ch.title
	p.Y.Label.Text = ch.ylabel
	p.Y.Tick.Marker = ch.axis.ticker()
	p.Y.Min, p.Y.Max = ch.ylo, ch.yhi
	if ch.axis.log {
		p.Y.Scale = plot.LogScale{}
	}
	h := 3.6 * vg.Inch
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.TextStyle.Font.Size = vg.Points(10)
	var w vg.Length
	if ch.xs == nil {
		zero := text.Style{Color: color.Black, Font: font.From(plotter.DefaultFont, vg.Points(8)),
			Handler: plot.DefaultTextHandler, XAlign: draw.XCenter}
		slots := make([]int, len(ch.groups))
		slot := map[string][]int{}
		for _, des := range ch.designs {
			slot[des] = make([]int, len(ch.groups))
			for g, m := range ch.values[des] {
				if m.ok {
					slot[des][g] = slots[g]
					slots[g]++
				}
			}
		}
		for _, des := range ch.designs {
			b := &bars{design: des, color: pal[des], values: ch.values[des], slot: slot[des], slots: slots, zeroLabel: zero}
			p.Add(b)
			legend.Add(des, b)
		}
		p.NominalX(ch.groups...)
		p.X.Min, p.X.Max = -0.5, float64(len(ch.groups))-0.5
		nbars := 0
		for _, n := range slots {
			nbars += max(n, 2)
		}
		w = max(vg.Length(nbars)*vg.Points(12)+vg.Inch, 3.5*vg.Inch)
		// Long group names are written at a slant; the figure grows by
		// what they take, so that the plot keeps its size.
		labelW := vg.Length(0)
		for _, g := range ch.groups {
			labelW = max(labelW, p.X.Tick.Label.Width(g))
		}
		if len(ch.groups) > 1 && labelW*1.1 > w/vg.Length(len(ch.groups)) {
			const slant = math.Pi / 6
			p.X.Tick.Label.Rotation = slant
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
			w += labelW * vg.Length(math.Cos(slant))
			h += labelW * vg.Length(math.Sin(slant))
		}
	} else {
		for _, des := range ch.designs {
			l := &line{design: des, color: pal[des], xs: ch.xs, values: ch.values[des]}
			p.Add(l)
			legend.Add(des, l)
		}
		var ticks []plot.Tick
		for _, x := range ch.xs {
			ticks = append(ticks, plot.Tick{Value: x, Label: formatNumber(x)})
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.X.Label.Text = ch.xlabel
		first, last := ch.xs[0], ch.xs[len(ch.xs)-1]
		pad := max((last-first)*0.05, 0.5)
		p.X.Min, p.X.Max = first-pad, last+pad
		w = 3.5 * vg.Inch
	}
	legendW := legend.Rectangle(draw.Canvas{}).Size().X + vg.Points(12)
	w = max(w, p.Title.TextStyle.Width(ch.title)+vg.Inch) + legendW
	canvas := vgsvg.New(w, h)
	dc := draw.New(canvas)
	p.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	legend.Draw(draw.Crop(dc, w-legendW+vg.Points(8), 0, 0, -vg.Points(24)))
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return "", err
	}
	// Inline in HTML: no XML declaration.
	s := buf.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s, nil
}
