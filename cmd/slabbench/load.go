package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// Reading result files: every command reads its files once, here, into a
// resultData, and computes what it prints from that: the benchstat tables
// (stats.go) from the records, targets, the kernel's table and the plots
// from the samples indexed by point.

// resultData is every result of a set of files.
type resultData struct {
	// records are the results as read, each a copy that shares nothing
	// with the reader (benchfmt reuses its buffers), with .file set to the
	// file's label.
	records []*benchfmt.Result
	units   benchfmt.UnitMetadataMap
	// labels are the file labels in the order given; paths and configs
	// map each to its path and to the configuration of its first result.
	labels  []string
	paths   map[string]string
	configs map[string][]benchfmt.Config

	// samples indexes the values of the results whose name has a
	// /design= key.
	samples   map[point][]float64
	workloads []string            // in order of first appearance
	variants  map[string][]string // workload -> variants, in order of first appearance
	designs   []string            // in order of first appearance
	procs     map[string][]int    // workload -> GOMAXPROCS values, ascending
	// topProcs is the largest GOMAXPROCS of each file and workload.
	topProcs map[[2]string]int
}

// point identifies one sample: a benchmark variant on a design at a
// GOMAXPROCS, in one file, in one unit.
type point struct {
	file, workload, variant string
	procs                   int
	design, unit            string
}

// loadResults reads the result files at paths ("label=path" or a path,
// labelled by labelPaths). Lines that are not valid results are reported on
// warn.
func loadResults(paths []string, warn io.Writer) (*resultData, error) {
	d := &resultData{
		paths:    map[string]string{},
		configs:  map[string][]benchfmt.Config{},
		samples:  map[point][]float64{},
		variants: map[string][]string{},
		procs:    map[string][]int{},
		topProcs: map[[2]string]int{},
	}
	labelled := labelPaths(paths)
	for _, lp := range labelled {
		label, path, _ := strings.Cut(lp, "=")
		d.labels = append(d.labels, label)
		d.paths[label] = path
	}
	files := benchfmt.Files{Paths: labelled, AllowLabels: true}
	for files.Scan() {
		switch rec := files.Result().(type) {
		case *benchfmt.SyntaxError:
			fmt.Fprintln(warn, rec)
		case *benchfmt.Result:
			rec = rec.Clone()
			d.records = append(d.records, rec)
			file := rec.GetConfig(".file")
			if _, ok := d.configs[file]; !ok {
				d.configs[file] = rec.Config
			}
			d.index(file, rec)
		}
	}
	if err := files.Err(); err != nil {
		return nil, err
	}
	d.units = files.Units()
	return d, nil
}

// index adds the values of rec to samples.
func (d *resultData) index(file string, rec *benchfmt.Result) {
	workload, variant, design, procs := splitName(rec.Name)
	if design == "" {
		return
	}
	addOnce(&d.workloads, workload)
	vs := d.variants[workload]
	addOnce(&vs, variant)
	d.variants[workload] = vs
	addOnce(&d.designs, design)
	if ps := d.procs[workload]; !slices.Contains(ps, procs) {
		ps = append(ps, procs)
		slices.Sort(ps)
		d.procs[workload] = ps
	}
	k := [2]string{file, workload}
	d.topProcs[k] = max(d.topProcs[k], procs)
	for _, v := range rec.Values {
		p := point{file, workload, variant, procs, design, v.Unit}
		d.samples[p] = append(d.samples[p], v.Value)
	}
}

// config returns the value of the configuration key in the file labelled
// label, "" if it has none.
func (d *resultData) config(label, key string) string {
	for _, c := range d.configs[label] {
		if c.Key == key && c.File {
			return string(c.Value)
		}
	}
	return ""
}

// hasDesigns reports whether any result has a /design= key.
func (d *resultData) hasDesigns() bool { return len(d.samples) > 0 }

// sample returns the sample at p as benchmath sees it (its own sorted
// copy), and whether there is one.
func (d *resultData) sample(p point) (*benchmath.Sample, bool) {
	vs := d.samples[p]
	if len(vs) == 0 {
		return nil, false
	}
	return benchmath.NewSample(slices.Clone(vs), &benchmath.DefaultThresholds), true
}

// summary returns the median of the samples at p with its confidence
// interval, as benchstat computes them, and whether there are any.
func (d *resultData) summary(p point) (benchmath.Summary, bool) {
	s, ok := d.sample(p)
	if !ok {
		return benchmath.Summary{}, false
	}
	return d.units.GetAssumption(p.unit).Summary(s, defaultStatOptions.Confidence), true
}

// fileTopProcs returns the largest GOMAXPROCS at which the file labelled
// file has a result of workload w, 0 if none.
func (d *resultData) fileTopProcs(file, w string) int { return d.topProcs[[2]string{file, w}] }

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

// labelPaths gives each path without a "label=" prefix the label of its base
// name without extension, so that columns by .file stay narrow. Paths with a
// label keep it.
func labelPaths(paths []string) []string {
	seen := map[string]int{}
	out := make([]string, len(paths))
	for i, p := range paths {
		if strings.Contains(p, "=") {
			out[i] = p
			continue
		}
		label := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		if n := seen[label]; n > 0 {
			label = fmt.Sprintf("%s#%d", label, n)
		}
		seen[label]++
		out[i] = label + "=" + p
	}
	return out
}

// inputFiles returns args, or when there are none the newest result file.
func inputFiles(args []string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	newest, err := newestResult(resultsDir())
	if err != nil {
		return nil, err
	}
	return []string{newest}, nil
}

// newestResult returns the .txt file in dir whose run started last: by the
// runstamp line in the file, else by the date and time in its name
// (MACHINE_YYYY-MM-DD_HHMMSS.txt, local time). Modification times say
// nothing: a fresh clone gives every file the same one.
func newestResult(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("no result file given and %v", err)
	}
	var best string
	var bestT time.Time
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".txt") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		t, ok := runStart(path)
		if !ok {
			continue
		}
		if best == "" || t.After(bestT) || t.Equal(bestT) && path > best {
			best, bestT = path, t
		}
	}
	if best == "" {
		return "", fmt.Errorf("no result file given and none with a runstamp or a dated name in %s", dir)
	}
	return best, nil
}

// runStart returns when the run of the result file at path started.
func runStart(path string) (time.Time, bool) {
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for i := 0; i < 100 && sc.Scan(); i++ {
			line := sc.Text()
			if strings.HasPrefix(line, "Benchmark") {
				break
			}
			if v, ok := strings.CutPrefix(line, "runstamp:"); ok {
				if t, err := time.Parse(time.RFC3339, strings.TrimSpace(v)); err == nil {
					return t, true
				}
			}
		}
	}
	name := strings.TrimSuffix(filepath.Base(path), ".txt")
	if len(name) < len("2006-01-02_150405") {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("2006-01-02_150405", name[len(name)-len("2006-01-02_150405"):], time.Local)
	return t, err == nil
}

// resultsDir returns the results directory of the module around the
// current directory, or "results".
func resultsDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "results"
	}
	for dir := wd; ; {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/goslub/slub\n") {
			if rel, err := filepath.Rel(wd, filepath.Join(dir, "results")); err == nil {
				return rel
			}
			return filepath.Join(dir, "results")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "results"
		}
		dir = parent
	}
}
