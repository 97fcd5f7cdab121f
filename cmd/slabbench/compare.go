package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// The compare command.

// byDesign compares the designs within each file, as
// `benchstat -col /design FILE` does.
var byDesign = projections{Table: ".config", Row: ".fullname", Col: "/design"}

// byFile compares the files (machines, runs), each benchmark and design on
// its own row, as `benchstat -table "" -col .file FILE...` does.
var byFile = projections{Table: "", Row: ".fullname", Col: ".file"}

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
	d, err := loadResults(paths, stderr)
	if err != nil {
		return err
	}
	st, err := computeStats(d, p, opts)
	if err != nil {
		return err
	}
	if len(st.Tables) == 0 {
		return errors.New("no results")
	}
	if p.Col == ".file" {
		writeLegend(stdout, d)
	}
	return writeText(stdout, st)
}

// writeLegend says which machine and run each file label stands for.
func writeLegend(w io.Writer, d *resultData) {
	fmt.Fprintln(w, "files:")
	width := 0
	for _, l := range d.labels {
		width = max(width, len(l))
	}
	for _, l := range d.labels {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l, d.legend(l))
	}
	fmt.Fprintln(w)
}

// legend describes the file labelled label in one line: the legendKeys of
// its configuration.
func (d *resultData) legend(label string) string {
	if _, ok := d.configs[label]; !ok {
		return "(no results in " + d.paths[label] + ")"
	}
	var parts []string
	for _, k := range legendKeys {
		if v := d.config(label, k); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}
