package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// resultFacts are facts about a result file read from its text, without
// the code under test: for each workload the designs it ran, and the
// benchmark names (variant and design) at its largest GOMAXPROCS.
type resultFacts struct {
	designs map[string][]string // workload -> designs, sorted
	names   map[string][]string // workload -> names at the largest GOMAXPROCS
	units   map[string][]string // unit -> designs with a value in it, sorted
}

var resultLine = regexp.MustCompile(`^Benchmark([^/\s]+)(\S*)/design=([^\s]+?)(?:-(\d+))?\s`)

func readFacts(t *testing.T, path string) resultFacts {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := resultFacts{designs: map[string][]string{}, names: map[string][]string{}, units: map[string][]string{}}
	top := map[string]int{}
	type name struct {
		w, rest string
		procs   int
	}
	var all []name
	for _, line := range strings.Split(string(b), "\n") {
		m := resultLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		procs := 1
		if m[4] != "" {
			procs, _ = strconv.Atoi(m[4])
		}
		w, des := m[1], m[3]
		if !slices.Contains(f.designs[w], des) {
			f.designs[w] = append(f.designs[w], des)
		}
		top[w] = max(top[w], procs)
		all = append(all, name{w, m[2] + "/" + des, procs})
		fields := strings.Fields(line)
		for i := 3; i < len(fields); i += 2 {
			if u := fields[i]; !slices.Contains(f.units[u], des) {
				f.units[u] = append(f.units[u], des)
			}
		}
	}
	for _, n := range all {
		if n.procs == top[n.w] && !slices.Contains(f.names[n.w], n.rest) {
			f.names[n.w] = append(f.names[n.w], n.rest)
		}
	}
	for _, m := range []map[string][]string{f.designs, f.units} {
		for k := range m {
			slices.Sort(m[k])
		}
	}
	return f
}

// renderedFigure is what the check script reads off a figure in the page
// as Chromium laid it out.
type renderedFigure struct {
	File, Title string
	Texts       []string // the text of every text element with a size
	ErrorBars   int      // error-bar paths with a size
	Left, Top   float64
	Width       float64
	Height      float64
}

// figureFacts is what the page should show in a figure of the report of
// file: the designs of its legend and the number of its error bars.
func figureFacts(f resultFacts, title string) (designs []string, errorBars int, ok bool) {
	workload, _, _ := strings.Cut(title, " ")
	workload, _, _ = strings.Cut(workload, "/")
	for _, m := range memoryUnits {
		if strings.HasPrefix(title, m.title) {
			// One bar per design per workload that has the unit: in the
			// test files every design has every memory unit in every
			// workload where it ran, except the variants left out.
			return f.units[m.unit], -1, true
		}
	}
	if ds, ok := f.designs[workload]; ok {
		if strings.Contains(title, "/") { // a scaling plot: a point per design per GOMAXPROCS
			return ds, -1, true
		}
		return ds, len(f.names[workload]), true
	}
	return nil, 0, false
}

func TestReportPage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.html")
	_, errOut, code := run(t, "report", "-o", path, "testdata/small.txt", "testdata/synthetic.txt")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		// The legend of each file, as the file says it.
		"machine=oxide-virtual-turin-like-2cpu cpu=Oxide Virtual Turin-like Processor",
		"runstamp=2026-11-26T22:04:34Z", "machine=amd-ryzen-7-5700-16cpu", "commit=5700aaaabbbb",
		// The summary sections.
		"The kernel&#39;s batch benchmark", "sheaves@32", "Larson sheaves ≥ 3 × modernc throughput",
		"Comparison tables", "vs base",
	} {
		if !strings.Contains(string(page), s) {
			t.Errorf("report lacks %q", s)
		}
	}
	figures := regexp.MustCompile(`<figure class="plot" data-file="([^"]*)" data-title="([^"]*)"><svg`).FindAllStringSubmatch(string(page), -1)
	var titles []string
	for _, m := range figures {
		titles = append(titles, html.UnescapeString(m[2]))
	}
	for _, want := range []string{
		"Pair (GOMAXPROCS=2) — small", "Pair (GOMAXPROCS=2) — synthetic", "Batch (GOMAXPROCS=2) — synthetic",
		"PairParallel/size=64 — synthetic", "Still mapped after everything was freed and Shrink ran — small",
	} {
		if !slices.Contains(titles, want) {
			t.Errorf("no figure %q; have %q", want, titles)
		}
	}
}

// TestDesignColors: a design's colour does not depend on which other
// designs a report has, no two designs share one, and none is the colour
// of the error bars.
func TestDesignColors(t *testing.T) {
	alone := newPalette([]string{"goheap"})
	all := newPalette([]string{"sheaves", "cpuslab", "goheap", "newdesign"})
	if alone["goheap"] != all["goheap"] {
		t.Errorf("goheap is %v alone and %v with others", alone["goheap"], all["goheap"])
	}
	seen := map[color.RGBA]string{errorBarColor: "error bars"}
	for d, c := range all {
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share %v", d, other, c)
		}
		seen[c] = d
	}
}

func TestTicks(t *testing.T) {
	labels := func(k axisKind, lo, hi float64) string {
		var out []string
		for _, tk := range k.ticker().Ticks(lo, hi) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		kind   axisKind
		lo, hi float64
		want   string
	}{
		{timeAxis, 2e-9, 50e-9, "2 ns 5 ns 10 ns 20 ns 50 ns"},
		{timeAxis, 5e-9, 2e-3, "10 ns 100 ns 1 µs 10 µs 100 µs 1 ms"},
		{timeAxis, 100e-9, 500e-9, "100 ns 200 ns 300 ns 500 ns"},
		{logBytesAxis, 4096, 16 << 20, "4 KiB 16 KiB 64 KiB 256 KiB 1 MiB 4 MiB 16 MiB"},
		{bytesAxis, 0, 2.5 * (1 << 20), "0 512 KiB 1 MiB 1.5 MiB 2 MiB 2.5 MiB"},
		{rateAxis, 0, 400e6, "0 100 M/s 200 M/s 300 M/s 400 M/s"},
		{ratioAxis, 1, 100, "1 2 5 10 20 50 100"},
	} {
		if got := labels(c.kind, c.lo, c.hi); got != c.want {
			t.Errorf("ticks from %g to %g: %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
	if got := formatSeconds(1.5e-6); got != "1.5 µs" {
		t.Errorf("formatSeconds(1.5e-6) = %q", got)
	}
}

// chromium returns the path of a Chromium binary, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" && runtime.GOARCH == "amd64" {
		// CI installs chromium on the host; the other architectures' runs
		// (qemu, the 386 virtual machine) have none.
		t.Fatal("chromium is not installed; .ci/run installs it so that the report is rendered in CI")
	}
	t.Skip("chromium is not installed: the report is not rendered in a browser (apt-get install chromium; .ci/run does)")
	return ""
}

// checkScript reads every figure off the page as Chromium laid it out and
// puts what it found, as JSON, into a pre element that --dump-dom prints.
const checkScript = `<script>
(function () {
  const out = [];
  for (const fig of document.querySelectorAll('figure.plot')) {
    const svg = fig.querySelector('svg');
    const texts = [];
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBBox();
      if (b.width > 0 && b.height > 0) texts.push(t.textContent);
    }
    let bars = 0;
    for (const p of svg.querySelectorAll('path')) {
      if ((p.getAttribute('style') || '').includes('stroke:%s') && p.getBBox().width > 0) bars++;
    }
    const r = svg.getBoundingClientRect();
    out.push({File: fig.dataset.file, Title: fig.dataset.title, Texts: texts, ErrorBars: bars,
      Left: r.left, Top: r.top + window.scrollY, Width: r.width, Height: r.height});
  }
  const pre = document.createElement('pre');
  pre.id = 'check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`

// TestReportInChromium renders the report of two machines in headless
// Chromium and checks what it laid out: every figure has a size, its
// legend names exactly the designs the file ran, every bar has its error
// bar, zeros are drawn, and the two machines' figures stand side by side
// on the same axis.
func TestReportInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	files := map[string]string{"small": "testdata/small.txt", "synthetic": "testdata/synthetic.txt"}
	if _, errOut, code := run(t, "report", "-o", path, files["small"], files["synthetic"]); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errOut)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bar := fmt.Sprintf("#%02x%02x%02x", errorBarColor.R, errorBarColor.G, errorBarColor.B)
	checked := strings.Replace(string(page), "</body>", fmt.Sprintf(checkScript, bar)+"</body>", 1)
	checkPath := filepath.Join(dir, "check.html")
	if err := os.WriteFile(checkPath, []byte(checked), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// As root, without a network: no sandbox, no background connections.
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=2000,1200", "--dump-dom", "file://"+checkPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	m := regexp.MustCompile(`<pre id="check">([^<]*)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the check script left nothing in the page:\n%.2000s\n%s", dom, stderr.String())
	}
	var figs []renderedFigure
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &figs); err != nil {
		t.Fatal(err)
	}
	if len(figs) < 15 {
		t.Fatalf("%d figures rendered, want at least 15", len(figs))
	}
	facts := map[string]resultFacts{}
	for label, p := range files {
		facts[label] = readFacts(t, p)
	}
	every := append(designOrder(facts["small"].designs["Pair"]), designOrder(facts["synthetic"].designs["Pair"])...)
	byTitle := map[string]renderedFigure{}
	zeros := 0
	for _, f := range figs {
		byTitle[f.Title] = f
		if f.Width < 100 || f.Height < 100 {
			t.Errorf("%s: drawn %gx%g", f.Title, f.Width, f.Height)
		}
		base, _, _ := strings.Cut(f.Title, " — ")
		designs, bars, ok := figureFacts(facts[f.File], base)
		if !ok {
			t.Errorf("%s: a figure of nothing in %s", f.Title, f.File)
			continue
		}
		var legend []string
		for _, s := range f.Texts {
			if slices.Contains(every, s) {
				legend = append(legend, s)
			}
		}
		slices.Sort(legend)
		if !slices.Equal(legend, designs) {
			t.Errorf("%s: legend %q, want the designs the file ran: %q", f.Title, legend, designs)
		}
		if bars >= 0 && f.ErrorBars != bars {
			t.Errorf("%s: %d error bars, want one per bar: %d", f.Title, f.ErrorBars, bars)
		}
		if bars < 0 && f.ErrorBars < len(designs) {
			t.Errorf("%s: %d error bars for %d designs", f.Title, f.ErrorBars, len(designs))
		}
		if strings.HasPrefix(f.Title, "Still mapped") {
			for _, s := range f.Texts {
				if s == "0" {
					zeros++
				}
			}
		}
	}
	// small.txt: all 12 cells but syncpool's Xmalloc give everything back;
	// synthetic.txt: all but cpuslab's and modernc's Larson. Each zero is
	// a "0" over its mark, besides the axis's own "0".
	if zeros < 12 {
		t.Errorf("%d zeros drawn in the Still mapped figures, want the zero cells marked", zeros)
	}
	// Two machines side by side, one y axis.
	for _, w := range []string{"Pair (GOMAXPROCS=2)", "Still mapped after everything was freed and Shrink ran"} {
		a, okA := byTitle[w+" — small"]
		b, okB := byTitle[w+" — synthetic"]
		if !okA || !okB {
			t.Errorf("%s: not drawn for both files", w)
			continue
		}
		if a.Top != b.Top || b.Left < a.Left+a.Width {
			t.Errorf("%s: the two files' figures are not side by side: %+v %+v", w, a, b)
		}
		if ta, tb := axisLabels(a.Texts), axisLabels(b.Texts); !slices.Equal(ta, tb) {
			t.Errorf("%s: the two files' axes differ: %q and %q", w, ta, tb)
		}
	}
}

// axisLabels returns the texts that are tick labels with a unit.
func axisLabels(texts []string) []string {
	var out []string
	for _, s := range texts {
		if regexp.MustCompile(`^[0-9.]+ (ns|µs|ms|s|B|KiB|MiB|GiB)$`).MatchString(s) {
			out = append(out, s)
		}
	}
	return out
}
