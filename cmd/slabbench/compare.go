package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The compare command.

// byDesign compares the designs within each file, as
// `benchstat -col /design FILE` does.
var byDesign = projections{Table: ".config", Row: ".fullname", Col: "/design"}

// byFile compares the files (machines, runs), each benchmark and design on
// its own row, as `benchstat -table "" -col .file FILE...` does.
var byFile = projections{Table: "", Row: ".fullname", Col: ".file"}

// runUnits are the units the run command shows when it is done: time,
// throughput, no-lock failures and memory per live byte. The result file
// has them all.
var runUnits = []string{"ns/op", "ns/obj", "allocs/s", "frees/s", "nil/op", "nil/hook-call", "mapped-B/live-B", "shrunk-mapped-B"}

// legendKeys are the configuration keys shown for each file when comparing
// files.
var legendKeys = []string{"machine", "cpu", "goarch", "cores", "dcas", "go", "commit", "runstamp"}

func cmdCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: slabbench compare [flags] [label=]FILE...\n")
		fs.PrintDefaults()
	}
	by := fs.String("by", "", "`design`: designs as columns, each file on its own; file: files as columns\n(default: design for one file, file for several)")
	var proj projections
	fs.StringVar(&proj.Table, "table", "", "split results into tables by `projection` (overrides -by)")
	fs.StringVar(&proj.Row, "row", "", "split results into rows by `projection` (overrides -by)")
	fs.StringVar(&proj.Col, "col", "", "split results into columns by `projection` (overrides -by)")
	fs.StringVar(&proj.Ignore, "ignore", "", "ignore variations in `keys`")
	fs.StringVar(&proj.Filter, "filter", "*", "use only benchmarks matching benchfilter `query`")
	units := fs.String("units", "", "comma-separated `units` to show, as in the files (ns/op,allocs/s); default: all")
	opts := defaultStatOptions
	fs.Float64Var(&opts.Alpha, "alpha", opts.Alpha, "consider a change significant if p < `α`")
	fs.Float64Var(&opts.Confidence, "confidence", opts.Confidence, "confidence `level` of the ranges")
	if err := parse(fs, args); err != nil {
		return err
	}
	paths, err := inputFiles(fs.Args())
	if err != nil {
		return err
	}
	mode := *by
	if mode == "" {
		mode = "design"
		if len(paths) > 1 {
			mode = "file"
		}
	}
	var p projections
	switch mode {
	case "design":
		p = byDesign
	case "file":
		p = byFile
	default:
		return fmt.Errorf("-by %q: want design or file", mode)
	}
	p.Ignore, p.Filter = proj.Ignore, proj.Filter
	if *units != "" {
		p.Units = strings.Split(*units, ",")
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "table":
			p.Table = proj.Table
		case "row":
			p.Row = proj.Row
		case "col":
			p.Col = proj.Col
		}
	})
	if opts.Alpha < 0 || opts.Alpha > 1 || opts.Confidence < 0 || opts.Confidence > 1 {
		return errors.New("-alpha and -confidence must be in [0, 1]")
	}
	st, err := computeStats(paths, p, opts, stderr)
	if err != nil {
		return err
	}
	if len(st.Tables) == 0 {
		return errors.New("no results")
	}
	if p.Col == ".file" {
		writeLegend(stdout, st)
	}
	return writeText(stdout, st)
}

// writeLegend says which machine and run each file label stands for.
func writeLegend(w io.Writer, st *stats) {
	fmt.Fprintln(w, "files:")
	width := 0
	for _, l := range st.Labels {
		width = max(width, len(l))
	}
	for _, l := range st.Labels {
		var parts []string
		for _, k := range legendKeys {
			for _, c := range st.Configs[l] {
				if c.Key == k && c.File {
					parts = append(parts, k+"="+string(c.Value))
				}
			}
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, l, strings.Join(parts, " "))
	}
	fmt.Fprintln(w)
}

// inputFiles returns args, or when there are none the newest result file.
func inputFiles(args []string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	dir := resultsDir()
	newest, err := newestResult(dir)
	if err != nil {
		return nil, err
	}
	return []string{newest}, nil
}

// newestResult returns the most recently written .txt file in dir.
func newestResult(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("no result file given and %v", err)
	}
	var best string
	var bestT int64
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".txt") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if t := info.ModTime().UnixNano(); best == "" || t > bestT {
			best, bestT = filepath.Join(dir, e.Name()), t
		}
	}
	if best == "" {
		return "", fmt.Errorf("no result file given and none in %s", dir)
	}
	return best, nil
}

// resultsDir returns the results directory of the module around the
// current directory, or "results".
func resultsDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return "results"
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/goslub/slub\n") {
			rel, err := filepath.Rel(mustGetwd(), filepath.Join(dir, "results"))
			if err != nil {
				return filepath.Join(dir, "results")
			}
			return rel
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "results"
		}
		dir = parent
	}
}

func mustGetwd() string {
	wd, _ := os.Getwd()
	return wd
}
