package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goslub/slub/bench"
)

// The run command: the suite, interleaved, into a result file.

// runOptions are the flags of the run and list commands.
type runOptions struct {
	bench     string
	designs   string
	count     int
	benchtime string
	cpu       string
	out       string
	idle      time.Duration
	published bool
	params    paramFlags
	report    bool
}

func (o *runOptions) register(fs *flag.FlagSet, full bool) {
	fs.StringVar(&o.bench, "bench", ".", "run only benchmarks whose name (Pair/size=64/design=sheaves) matches `regexp`")
	fs.StringVar(&o.designs, "designs", "all", "comma-separated `designs` (alloc, baselines: groups); have: "+strings.Join(bench.DesignNames(), ", "))
	fs.StringVar(&o.cpu, "cpu", "", "comma-separated GOMAXPROCS `values` (default: current)")
	fs.BoolVar(&o.published, "published", false, "use the workloads' published parameters (a much longer run)")
	fs.Var(&o.params, "param", "set a workload parameter, `Name=value` (bench.Params field; lists comma-separated); repeatable")
	if !full {
		return
	}
	fs.IntVar(&o.count, "count", 20, "run each benchmark `n` times")
	fs.StringVar(&o.benchtime, "benchtime", "20ms", "run each benchmark for `d` (a duration, or Nx for N iterations)")
	fs.StringVar(&o.out, "o", "", "write results to `file` (default: results/MACHINE_DATE_TIME.txt)")
	fs.DurationVar(&o.idle, "idle", 10*time.Second, "wait up to `d` for the machine to be idle; 0: don't check")
	fs.BoolVar(&o.report, "report", false, "also write the HTML report beside the result file (its name with .html)")
}

// paramFlags collects -param settings.
type paramFlags []string

func (p *paramFlags) String() string { return strings.Join(*p, " ") }
func (p *paramFlags) Set(s string) error {
	if _, _, ok := strings.Cut(s, "="); !ok {
		return errors.New("want Name=value")
	}
	*p = append(*p, s)
	return nil
}

// applyParams sets the named fields of p.
func applyParams(p *bench.Params, settings []string) error {
	v := reflect.ValueOf(p).Elem()
	for _, s := range settings {
		name, val, _ := strings.Cut(s, "=")
		sf, ok := v.Type().FieldByName(name)
		if !ok || !sf.IsExported() {
			return fmt.Errorf("-param %s: no parameter %q", s, name)
		}
		f := v.FieldByIndex(sf.Index)
		var ints []int
		for _, x := range strings.Split(val, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil || n <= 0 {
				return fmt.Errorf("-param %s: %q is not a positive integer", s, x)
			}
			ints = append(ints, n)
		}
		switch f.Kind() {
		case reflect.Int:
			if len(ints) != 1 {
				return fmt.Errorf("-param %s: want one value", s)
			}
			f.SetInt(int64(ints[0]))
		case reflect.Slice:
			f.Set(reflect.ValueOf(ints))
		}
	}
	return nil
}

// plan is the benchmarks to run at one GOMAXPROCS, grouped by workload
// variant.
type plan struct {
	procs  int
	groups [][]bench.Benchmark
	skips  []bench.Benchmark
}

// makePlans lists the benchmarks for each GOMAXPROCS in cpus. In a sweep,
// the workloads that run on one goroutine run only at the largest value:
// more Ps would not change what they measure, and they would double the run.
func makePlans(o *runOptions, cpus []int) ([]plan, bench.Params, error) {
	params := bench.DefaultParams()
	if o.published {
		params = bench.Published()
	}
	if err := applyParams(&params, o.params); err != nil {
		return nil, params, err
	}
	designs, err := bench.SelectDesigns(o.designs)
	if err != nil {
		return nil, params, err
	}
	re, err := regexp.Compile(o.bench)
	if err != nil {
		return nil, params, fmt.Errorf("-bench: %v", err)
	}
	orig := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(orig)
	top := slices.Max(cpus)
	var plans []plan
	for _, procs := range cpus {
		runtime.GOMAXPROCS(procs)
		pl := plan{procs: procs}
		var group []bench.Benchmark
		flush := func() {
			if len(group) > 0 {
				pl.groups = append(pl.groups, group)
				group = nil
			}
		}
		prev := ""
		for _, bm := range bench.List(&params, designs) {
			if !re.MatchString(bm.Name) || procs != top && !bm.Workload.Threads {
				continue
			}
			if bm.Skip != "" {
				pl.skips = append(pl.skips, bm)
				continue
			}
			if key := bm.Workload.Name + "/" + bm.Variant; key != prev {
				flush()
				prev = key
			}
			group = append(group, bm)
		}
		flush()
		plans = append(plans, pl)
	}
	return plans, params, nil
}

// parseCPUs parses a -cpu list; "" is the current GOMAXPROCS.
func parseCPUs(s string) ([]int, error) {
	if s == "" {
		return []int{runtime.GOMAXPROCS(0)}, nil
	}
	var cpus []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-cpu: %q is not a positive integer", f)
		}
		cpus = append(cpus, n)
	}
	return cpus, nil
}

func cmdList(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("list", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: slabbench list [flags]\n\nLists the benchmarks a run with the same flags runs, one full name a line,\nthen the combinations it skips and why.\n\n")
		fs.PrintDefaults()
	}
	var o runOptions
	o.register(fs, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "slabbench list: unexpected argument %q (list takes only flags)\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	cpus, err := parseCPUs(o.cpu)
	if err != nil {
		return err
	}
	plans, _, err := makePlans(&o, cpus)
	if err != nil {
		return err
	}
	for _, pl := range plans {
		for _, g := range pl.groups {
			for _, bm := range g {
				fmt.Fprintln(stdout, bench.FullName(bm.Name, pl.procs))
			}
		}
		for _, bm := range pl.skips {
			fmt.Fprintf(stdout, "%s: skipped: %s\n", bench.FullName(bm.Name, pl.procs), bm.Skip)
		}
	}
	return nil
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("slabbench", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage+"\nflags of a run:\n")
		fs.PrintDefaults()
	}
	var o runOptions
	o.register(fs, true)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "slabbench: unexpected argument %q\n\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	if o.count < 1 {
		return errors.New("-count must be at least 1")
	}
	cpus, err := parseCPUs(o.cpu)
	if err != nil {
		return err
	}
	testing.Init()
	if err := flag.CommandLine.Set("test.benchtime", o.benchtime); err != nil {
		return fmt.Errorf("-benchtime: %v", err)
	}
	plans, params, err := makePlans(&o, cpus)
	if err != nil {
		return err
	}
	perRep, skipped := 0, 0
	for _, pl := range plans {
		skipped += len(pl.skips)
		for _, g := range pl.groups {
			perRep += len(g)
		}
	}
	if perRep == 0 {
		return errors.New("no benchmark matches")
	}

	cfg := bench.NewRunConfig(".", params)
	path := o.out
	if path == "" {
		dir := resultsDir()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		path = filepath.Join(dir, resultName(cfg.Machine.Name(), cfg.Runstamp))
	}
	fmt.Fprintf(stderr, "slabbench: machine %s, %s, dcas %s, commit %s\n",
		cfg.Machine.Name(), cfg.Go, cfg.Machine.DCAS, cfg.Commit)
	if strings.HasSuffix(cfg.Commit, "-dirty") {
		fmt.Fprintf(stderr, "slabbench: warning: the work tree has uncommitted changes\n")
	}
	if o.idle > 0 {
		waitIdle(o.idle, stderr)
	}
	msg := fmt.Sprintf("slabbench: %d benchmarks × %d runs", perRep, o.count)
	if skipped > 0 {
		msg += fmt.Sprintf(" (%d combinations skipped: slabbench list shows why)", skipped)
	}
	fmt.Fprintln(stderr, msg)
	fmt.Fprintf(stderr, "slabbench: writing %s\n", path)

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	n, failed, err := runPlans(f, plans, o.count, cfg, stderr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "slabbench: wrote %s (%d results)\n", path, n)
	if n > 0 {
		if err := closeRun(path, o.report, stdout, stderr); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d runs failed (run them under go test -bench to see why)", failed)
	}
	return nil
}

// resultName is the file name of a run's results: machine, date and time.
func resultName(machine string, t time.Time) string {
	return machine + "_" + t.Format("2006-01-02_150405") + ".txt"
}

// closeRun ends a run that wrote results to path: the summary on stdout
// and, with report, the HTML report beside the file.
func closeRun(path string, report bool, stdout, stderr io.Writer) error {
	d, err := loadResults([]string{path}, stderr)
	if err != nil {
		return err
	}
	if report {
		out := strings.TrimSuffix(path, filepath.Ext(path)) + ".html"
		if err := writeReport(out, d); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "slabbench: wrote %s\n", out)
	}
	if !d.hasDesigns() {
		return nil
	}
	fmt.Fprintln(stdout)
	return writeSummary(stdout, d, d.labels[0])
}

// runPlans runs count repetitions of every plan, writing results to w as they
// come. In each repetition every workload variant runs once on every design,
// starting with a different design each time. It returns the number of
// results written and of failed runs.
func runPlans(w io.Writer, plans []plan, count int, cfg bench.RunConfig, stderr io.Writer) (written, failed int, err error) {
	orig := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(orig)
	rw := bench.NewResultWriter(w, cfg)
	prog := newProgress(stderr, count, plans)
	for rep := range count {
		for _, pl := range plans {
			runtime.GOMAXPROCS(pl.procs)
			for _, g := range pl.groups {
				for i := range g {
					bm := g[(i+rep)%len(g)]
					prog.start(rep, bench.FullName(bm.Name, pl.procs))
					r := testing.Benchmark(bm.Run)
					if r.N == 0 {
						failed++
						prog.fail(bench.FullName(bm.Name, pl.procs))
						continue
					}
					if err := rw.Write(bm.Name, pl.procs, r); err != nil {
						return written, failed, err
					}
					written++
				}
			}
		}
		prog.repDone(rep)
	}
	prog.done()
	return written, failed, nil
}

// progress shows on stderr how far the run is: on a terminal a status line
// rewritten in place, otherwise a line per repetition.
type progress struct {
	w          io.Writer
	tty        bool
	count      int
	total, ran int
	begin      time.Time
}

func newProgress(w io.Writer, count int, plans []plan) *progress {
	p := &progress{w: w, count: count, begin: time.Now()}
	for _, pl := range plans {
		for _, g := range pl.groups {
			p.total += count * len(g)
		}
	}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) left() string {
	if p.ran == 0 {
		return "?"
	}
	el := time.Since(p.begin)
	left := time.Duration(float64(el) / float64(p.ran) * float64(p.total-p.ran))
	return left.Round(time.Second).String()
}

func (p *progress) start(rep int, name string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K[rep %d/%d  %2d%%  %s left] %s", rep+1, p.count, 100*p.ran/p.total, p.left(), name)
	}
	p.ran++
}

func (p *progress) fail(name string) {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "slabbench: FAIL %s\n", name)
}

func (p *progress) repDone(rep int) {
	if !p.tty {
		fmt.Fprintf(p.w, "slabbench: repetition %d/%d done after %v; about %s left\n",
			rep+1, p.count, time.Since(p.begin).Round(time.Second), p.left())
	}
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
