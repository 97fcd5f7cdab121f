// Command slabbench runs goslub's benchmark suite, saves the results and
// compares the allocator designs with benchstat's statistics.
//
// Usage:
//
//	slabbench [flags]                 run the suite (see below)
//	slabbench compare [flags] FILE... compare results by design, or across files
//	slabbench summary [FILE]          what a run ends with: targets, headline ratios, kernel table
//	slabbench targets [-check] [FILE] check the project's performance targets
//	slabbench kernel [FILE...]        the kernel's batch table beside the same cells measured here
//	slabbench report [flags] FILE...  write an HTML report with plots
//	slabbench list [flags]            list the benchmarks and what is skipped
//
// # Running
//
// With no arguments slabbench runs every workload of package bench on every
// design, twenty times, with the designs interleaved: each repetition runs each
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
// and then prints a summary on standard output (what `slabbench summary
// FILE` prints), in at most 120 columns: the targets met and missed, each
// design's time over that of sheaves, and the kernel's batch table beside
// ours. The full tables are `slabbench compare FILE`. Progress goes to
// standard error. With -report the run also writes the HTML report beside
// the result file.
//
// Flags:
//
//	-bench regexp   run only benchmarks whose name matches, as in
//	                "Pair/size=64/design=sheaves" (default: all)
//	-designs list   comma-separated designs; "alloc" and "baselines" name groups
//	-count n        repetitions (default 20; benchstat wants at least 10)
//	-benchtime d    time (or "Nx" iterations) per run (default 20ms)
//	-cpu list       GOMAXPROCS values to run at, as go test -cpu (default: current);
//	                in a sweep the one-goroutine workloads run at the largest only
//	-o file         result file (default: results/MACHINE_DATE_TIME.txt)
//	-idle d         wait up to d for the machine to be idle (default 10s; 0: don't)
//	-published      the workloads' published parameters (much longer)
//	-param k=v      set one parameter of bench.Params, e.g. -param LarsonSlots=1000
//	                or -param BatchNs=1,10,100 (repeatable)
//	-report         also write the HTML report, as results/MACHINE_DATE_TIME.html
//
// Result files are in the Go benchmark format, written with
// golang.org/x/perf/benchfmt and readable by the benchstat command: `benchstat -col /design FILE` shows what `slabbench compare FILE`
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
// The stock benchstat command compares two machines the same way:
//
//	$ benchstat -table "" -col .file A=results/a.txt B=results/b.txt
//
// With no FILE, compare, summary, targets, kernel and report use the newest
// file in results/: the one whose runstamp line is latest (or, without one,
// the date and time in its name), never the file written last, since every
// file of a fresh clone is.
//
// # Targets
//
// `slabbench targets FILE` checks the project's performance targets: that
// the Pair of 64 bytes on sheaves costs at most 1.10 times floor and 0.85
// times sync.Pool, that the Heap pair costs at most 1.15 times the Cache
// pair, that sheaves is faster than cpuslab on Batch (significantly, by the
// U test), that Larson at GOMAXPROCS=2 runs at 3 times modernc's
// throughput, that the alloc designs make no Go-heap allocation per op in
// Pair, Batch and Bulk, and more. Each line gives the ratio of the two
// medians in the direction its sentence reads (a throughput target prints
// the throughput ratio) with a 95% bootstrap interval, the p-value where the
// target asks for a significant difference, and "met", by how much it was
// missed, or "no data" for a cell the file lacks. With -check the command
// exits with status 1 when a target is missed.
//
// # The kernel's table
//
// `slabbench kernel FILE` prints the table of the kernel's batch benchmark
// (the PS-v5 cover letter of the sheaves series: allocate N objects and free
// them, in order or shuffled, sheaf capacity 32, "sheaves better by" =
// 1 - t(new)/t(old)) beside the same cells measured in FILE: hybrid at
// capacity 32 against cpuslab (the kernel's own pairing: the sheaves of 6.18
// over cpu slabs against none), sheaves at 32 against cpuslab and against
// cpuslab-locked, and sheaves at the automatic capacity against cpuslab,
// each with a 95% bootstrap interval and whether the kernel's number lies in
// it.
//
// # Reporting
//
// `slabbench report -o report.html FILE...` writes one HTML page with plots
// (made with gonum.org/v1/plot, inline SVG): the time of each workload by
// design, the throughput of the concurrent workloads against GOMAXPROCS
// (when the files hold a -cpu sweep), memory per live byte, at the peak and
// after Shrink. Every design has one colour in every plot, every bar and
// point carries the 95% confidence interval of its median, and zeros are
// drawn. Several files (machines) are plotted side by side, each plot on the
// same axis. The page also holds each file's targets, headline ratios and
// kernel table, and the comparison tables.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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

// commands are the subcommands, by name.
var commands = map[string]func(args []string, stdout, stderr io.Writer) error{
	"run":     cmdRun,
	"compare": cmdCompare,
	"summary": cmdSummary,
	"targets": cmdTargets,
	"kernel":  cmdKernel,
	"report":  cmdReport,
	"list":    cmdList,
}

// slabbench runs the command with args and returns the exit status.
func slabbench(args []string, stdout, stderr io.Writer) int {
	cmd, rest := cmdRun, args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name := args[0]
		if name == "help" {
			fmt.Fprint(stdout, usage)
			return 0
		}
		c, ok := commands[name]
		if !ok {
			msg := fmt.Sprintf("slabbench: unknown command %q", name)
			if near := nearestCommand(name); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			fmt.Fprintf(stderr, "%s\n\n%s", msg, usage)
			return 2
		}
		cmd, rest = c, args[1:]
	}
	err := cmd(rest, stdout, stderr)
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

// nearestCommand returns the command within two edits of name, if one is.
func nearestCommand(name string) string {
	best, bestD := "", 3
	for c := range commands {
		if d := editDistance(name, c); d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

const usage = `usage:
  slabbench [flags]                 run the suite, save the results, print a summary
  slabbench compare [flags] FILE... compare results by design, or across files
  slabbench summary [FILE]          the summary a run ends with: targets, headline ratios, kernel table
  slabbench targets [-check] [FILE] check the project's performance targets
  slabbench kernel [FILE...]        the kernel's batch table beside the same cells measured here
  slabbench report [flags] FILE...  write an HTML report with plots
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
