// Command slabbench runs goslub's benchmark suite, saves the results and
// compares the allocator designs with benchstat's statistics.
//
// Usage:
//
//	slabbench [flags]                 run the suite (see below)
//	slabbench compare [flags] FILE... compare results by design, or across files
//	slabbench report [flags] FILE...  write an HTML report with plots
//	slabbench targets [FILE]          check the project's performance targets
//	slabbench list [flags]            list the benchmarks and what is skipped
//
// # Running
//
// With no arguments slabbench runs every workload of package bench on every
// design, ten times, with the designs interleaved: each repetition runs each
// workload variant once on every design, starting with a different design each
// time, so that a change in the machine's state spreads over all designs
// instead of landing on one. On 2 cores the default run takes a few minutes:
//
//	$ go run ./cmd/slabbench
//	slabbench: machine oxide-virtual-turin-like-2cpu, go1.26.8, dcas cmpxchg16b, commit 1a2b3c4d5e6f
//	slabbench: machine is idle (2% busy)
//	slabbench: 152 benchmarks × 10 runs (44 combinations skipped: slabbench list shows why)
//	slabbench: writing results/oxide-virtual-turin-like-2cpu_2026-01-05_101500.txt
//	[rep 3/10  27%  2m05s left] Batch/n=100/order=shuffled/design=mcache-2
//	...
//	slabbench: wrote results/oxide-virtual-turin-like-2cpu_2026-01-05_101500.txt (1480 results)
//
// and then prints the comparison by design (what `slabbench compare FILE`
// prints) on standard output. Progress goes to standard error.
//
// Flags:
//
//	-bench regexp   run only benchmarks whose name matches, as in
//	                "Pair/size=64/design=sheaves" (default: all)
//	-designs list   comma-separated designs; "alloc" and "baselines" name groups
//	-count n        repetitions (default 10; benchstat wants at least 10)
//	-benchtime d    time (or "Nx" iterations) per run (default 50ms)
//	-cpu list       GOMAXPROCS values to run at, as go test -cpu (default: current);
//	                in a sweep the one-goroutine workloads run at the largest only
//	-o file         result file (default: results/MACHINE_DATE_TIME.txt)
//	-idle d         wait up to d for the machine to be idle (default 10s; 0: don't)
//	-published      the workloads' published parameters (much longer)
//	-param k=v      set one parameter of bench.Params, e.g. -param LarsonSlots=1000
//	                or -param BatchNs=1,10,100 (repeatable)
//
// Result files are in the Go benchmark format, readable by the benchstat
// command: `benchstat -col /design FILE` shows what `slabbench compare FILE`
// shows. Their configuration lines are goos, goarch, pkg, cpu, cores (logical
// CPUs this process may use), gomaxprocs, dcas, go, commit, runstamp and
// machine.
//
// # Comparing
//
// `slabbench compare FILE` puts the designs side by side, the first design
// (sheaves) as the base: each cell is the median with its 95% confidence
// interval, and each column after the first the change from the base with
// the Mann-Whitney U test's p-value, "~" where the difference is not
// significant (p >= 0.05). With several files it compares the files instead
// (columns per file, a row per benchmark and design): results from two
// machines side by side. -by design or -by file picks either; -table, -row,
// -col, -ignore and -filter take benchstat's projection and filter syntax.
//
//	$ slabbench compare results/amd-ryzen-7-5700-16cpu_2026-01-05_101500.txt
//	$ slabbench compare laptop=results/a.txt server=results/b.txt
//	$ slabbench compare -filter '/design:(sheaves OR cpuslab)' results/a.txt
//
// With no FILE, compare, report and targets use the newest file in results/.
//
// # Targets
//
// `slabbench targets FILE` checks the targets of the benchmark issue: for
// example that Pair/size=64 on sheaves costs at most 1.5 times floor, that
// sheaves is faster than cpuslab on Batch with n=100 and 1000 (significantly,
// by the U test), and that Larson's memory goes back after Shrink. Each line
// gives the ratio of the two medians, the bound, the p-value where the
// target asks for a significant difference, and "met" or by how much it was
// missed.
//
// # Reporting
//
// `slabbench report -o report.html FILE...` writes one HTML page with plots
// (made with gonum.org/v1/plot): ns/op of each workload by design, the
// throughput of the concurrent workloads against GOMAXPROCS (when the files
// hold a -cpu sweep), memory per live byte and what Shrink gives back, and
// the comparison tables.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(slabbench(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command-line error; the flag package has already said
// what it is. errHelp marks a request for help, already answered.
var (
	errUsage = errors.New("usage")
	errHelp  = errors.New("help")
)

// slabbench runs the command with args and returns the exit status.
func slabbench(args []string, stdout, stderr io.Writer) int {
	cmd, rest := "run", args
	if len(args) > 0 {
		switch args[0] {
		case "compare", "report", "targets", "list", "run":
			cmd, rest = args[0], args[1:]
		case "help":
			fmt.Fprint(stdout, usage)
			return 0
		}
	}
	var err error
	switch cmd {
	case "compare":
		err = cmdCompare(rest, stdout, stderr)
	case "report":
		err = cmdReport(rest, stdout, stderr)
	case "targets":
		err = cmdTargets(rest, stdout, stderr)
	case "list":
		err = cmdList(rest, stdout, stderr)
	default:
		err = cmdRun(rest, stdout, stderr)
	}
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "slabbench: %v\n", err)
		return 1
	}
}

const usage = `usage:
  slabbench [flags]                 run the suite, save results, print the comparison
  slabbench compare [flags] FILE... compare results by design, or across files
  slabbench report [flags] FILE...  write an HTML report with plots
  slabbench targets [FILE]          check the project's performance targets
  slabbench list [flags]            list the benchmarks and what is skipped
Run "slabbench CMD -h" for the flags of each; "go doc ./cmd/slabbench" for more.
`

// newFlagSet returns a flag set that reports errors on stderr and returns
// them instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, mapping a flag error (already printed) to errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	default:
		return errUsage
	}
}
