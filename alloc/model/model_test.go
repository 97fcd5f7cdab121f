package model

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var fullFlag = flag.Bool("full", false, "also run the full bounds and the witnesses (minutes; same as GOSLUB_MODELS=full)")

// A check is one spin run: a model with -D settings, which must pass
// (want is nil) or must fail with a counterexample that violates one of the
// properties in want (a "violated: ..." message the replayed trail prints,
// or pan's own "non-progress cycle", "invalid end state").
type check struct {
	name     string
	model    string
	defs     []string
	progress bool // non-progress cycles with weak fairness (pan -l -f), not safety
	want     []string
	full     bool // only in full runs
}

// The lost-or-corrupt family: what a broken exclusion shows as.
var corrupt = []string{
	"handed out twice",
	"lost or on two lists",
	"install CAS",
	"cpu freelist without a cpu slab",
	"loaded over a non-empty one",
	"inuse != objects",
	"pinned, locked CAS failed",
	"cycle",
}

var checks = []check{
	// cpuslab_locked.pml: three bounded configurations that together reach
	// every witness.
	{name: "locked/migrate", model: "cpuslab_locked.pml", defs: []string{"HOOK=0", "FLUSHES=0", "OPS=3"}},
	{name: "locked/flush", model: "cpuslab_locked.pml", defs: []string{"HOOK=0", "OPS=2"}},
	{name: "locked/hook", model: "cpuslab_locked.pml", defs: []string{"FLUSHES=0", "OPS=1"}},
	{name: "locked/progress", model: "cpuslab_locked.pml", defs: []string{"HOOK=0", "FLUSHES=0", "OPS=2"}, progress: true, full: true},
	{name: "locked/mutant-notid", model: "cpuslab_locked.pml", defs: []string{"NOTID", "HOOK=0", "FLUSHES=0", "OPS=3"},
		want: []string{"handed out twice", "lost or on two lists", "install CAS"}},
	{name: "locked/mutant-nonil", model: "cpuslab_locked.pml", defs: []string{"NONIL", "HOOK=0", "FLUSHES=0", "OPS=3"},
		want: []string{"install CAS"}},
	{name: "locked/mutant-swap", model: "cpuslab_locked.pml", defs: []string{"SWAP", "HOOK=0", "OPS=1"},
		want: []string{"cpu freelist without a cpu slab", "install CAS"}},
	{name: "locked/all", model: "cpuslab_locked.pml", defs: []string{"OPS=1"}, full: true},
	{name: "locked/migrate4", model: "cpuslab_locked.pml", defs: []string{"HOOK=0", "FLUSHES=0", "OPS=4"}, full: true},
	{name: "locked/flush3", model: "cpuslab_locked.pml", defs: []string{"HOOK=0", "OPS=3"}, full: true},
	{name: "locked/hook2", model: "cpuslab_locked.pml", defs: []string{"FLUSHES=0", "OPS=2"}, full: true},
	{name: "locked/all-progress", model: "cpuslab_locked.pml", defs: []string{"OPS=1"}, progress: true, full: true},

	// cpuslab_pinned.pml
	{name: "pinned", model: "cpuslab_pinned.pml", defs: []string{"OPS=1"}},
	{name: "pinned/mutant-nolockremote", model: "cpuslab_pinned.pml", defs: []string{"NOLOCKREMOTE", "OPS=1"}, want: corrupt},
	{name: "pinned/mutant-nobarrier", model: "cpuslab_pinned.pml", defs: []string{"NOBARRIER", "OPS=1"},
		want: []string{"owner and remote locker both hold"}},
	{name: "pinned/mutant-notid", model: "cpuslab_pinned.pml", defs: []string{"NOTID", "OPS=1"},
		want: []string{"an interrupted CAS succeeded"}},
	{name: "pinned/mutant-retry", model: "cpuslab_pinned.pml", defs: []string{"RETRY", "OPS=1"}, progress: true,
		want: []string{"non-progress cycle"}},
	{name: "pinned/ops2", model: "cpuslab_pinned.pml", defs: []string{"OPS=2"}, full: true},
	{name: "pinned/flushes2", model: "cpuslab_pinned.pml", defs: []string{"OPS=1", "FLUSHES=2", "BUF=4"}, full: true},
	{name: "pinned/progress", model: "cpuslab_pinned.pml", defs: []string{"OPS=1"}, progress: true, full: true},

	// slabfree.pml
	{name: "slabfree/sheaves", model: "slabfree.pml"},
	{name: "slabfree/sheaves-nodcas", model: "slabfree.pml", defs: []string{"NODCAS"}},
	{name: "slabfree/cpuslab", model: "slabfree.pml", defs: []string{"CPUSLAB", "OTHERS=1"}},
	{name: "slabfree/progress", model: "slabfree.pml", progress: true},
	{name: "slabfree/mutant-stalelock", model: "slabfree.pml", defs: []string{"STALELOCK"},
		want: []string{"on no list"}},
	{name: "slabfree/mutant-nolockpair", model: "slabfree.pml", defs: []string{"CPUSLAB", "NODCAS", "NOLOCKPAIR"},
		want: []string{"inuse != objects", "an object lost", "handed out twice", "cycle"}},
	{name: "slabfree/cpuslab-others", model: "slabfree.pml", defs: []string{"CPUSLAB"}, full: true},
	{name: "slabfree/cpuslab-nodcas", model: "slabfree.pml", defs: []string{"CPUSLAB", "NODCAS"}, full: true},
	{name: "slabfree/cpuslab-progress", model: "slabfree.pml", defs: []string{"CPUSLAB"}, progress: true, full: true},
	{name: "slabfree/mutant-stalelock-cpuslab", model: "slabfree.pml", defs: []string{"CPUSLAB", "STALELOCK"},
		want: []string{"on no list", "on two lists"}, full: true},

	// locallock.pml
	{name: "locallock", model: "locallock.pml"},
	{name: "locallock/ownerfence", model: "locallock.pml", defs: []string{"OWNERFENCE"}},
	{name: "locallock/mutant-nobarrier", model: "locallock.pml", defs: []string{"NOBARRIER"},
		want: []string{"owner and remote locker both hold"}},
	{name: "locallock/att3-buf3", model: "locallock.pml", defs: []string{"ATT=3", "BUF=3"}, full: true},
	{name: "locallock/progress", model: "locallock.pml", progress: true, full: true},

	// deferred.pml
	{name: "deferred", model: "deferred.pml"},
	{name: "deferred/progress", model: "deferred.pml", progress: true},
	{name: "deferred/mutant-drainload", model: "deferred.pml", defs: []string{"DRAINLOAD"},
		want: []string{"a deferred object lost", "count differs"}},
	{name: "deferred/mutant-nextlate", model: "deferred.pml", defs: []string{"NEXTLATE"},
		want: []string{"freed twice", "a deferred object lost", "count differs"}},
	{name: "deferred/mutant-countlate", model: "deferred.pml", defs: []string{"COUNTLATE"},
		want: []string{"count went negative"}},
	{name: "deferred/mutant-noreread", model: "deferred.pml", defs: []string{"NOREREAD"}, progress: true,
		want: []string{"non-progress cycle"}},

	// rcu.pml: three configurations. The default is kfree_rcu: a callback
	// queued after an unpublish, the domain goroutine and Barrier (BARRIER=0
	// leaves Barrier out). CB=0 SYNC=2 is two Synchronize calls and no
	// callback: the cheap one in which a reader can be stale across a flip.
	// SYNC=1 BARRIER=0 is Synchronize and the domain goroutine sharing
	// grace periods.
	{name: "rcu", model: "rcu.pml", defs: []string{"BARRIER=0"}},
	{name: "rcu/sync", model: "rcu.pml", defs: []string{"CB=0", "SYNC=2", "SECS=2"}},
	{name: "rcu/sync-progress", model: "rcu.pml", defs: []string{"CB=0", "SYNC=2"}, progress: true},
	{name: "rcu/mutant-nobarrier", model: "rcu.pml", defs: []string{"NOBARRIER", "BARRIER=0"}, want: rcuEarly},
	{name: "rcu/mutant-nofirstwait", model: "rcu.pml", defs: []string{"NOFIRSTWAIT", "CB=0", "SYNC=2"}, want: rcuEarly},
	{name: "rcu/mutant-locksfirst", model: "rcu.pml", defs: []string{"LOCKSFIRST", "MISUSEPOLL", "CB=0", "SYNC=2", "SECS=2"}, want: rcuEarly},
	{name: "rcu/mutant-perslot", model: "rcu.pml", defs: []string{"PERSLOT", "MISUSEPOLL", "CB=0", "SYNC=2", "SECS=2"}, want: rcuEarly},
	{name: "rcu/barrier", model: "rcu.pml", full: true},
	{name: "rcu/shared", model: "rcu.pml", defs: []string{"SYNC=1", "BARRIER=0", "READERS=1"}, full: true},
	{name: "rcu/perslot-nomove", model: "rcu.pml", defs: []string{"PERSLOT", "MISUSEPOLL", "CB=0", "SYNC=2", "SECS=2", "NOMOVE"}, full: true},
	{name: "rcu/noflip", model: "rcu.pml", defs: []string{"NOFLIP", "CB=0", "SYNC=2", "SECS=2"}, full: true},
	{name: "rcu/atomiccount", model: "rcu.pml", defs: []string{"ATOMICCOUNT"}, full: true},
	{name: "rcu/nest", model: "rcu.pml", defs: []string{"NEST"}, full: true},
	{name: "rcu/secs2", model: "rcu.pml", defs: []string{"SECS=2"}, full: true},
	{name: "rcu/movers2-buf2", model: "rcu.pml", defs: []string{"MOVERS=2", "BUF=2"}, full: true},
	{name: "rcu/sync-all", model: "rcu.pml", defs: []string{"CB=0", "SYNC=3", "SECS=2", "MOVERS=2", "BUF=2", "NEST"}, full: true},
	{name: "rcu/shared2", model: "rcu.pml", defs: []string{"SYNC=1", "BARRIER=0"}, full: true},
	{name: "rcu/shared-barrier", model: "rcu.pml", defs: []string{"SYNC=1", "READERS=1"}, full: true},
	{name: "rcu/progress", model: "rcu.pml", progress: true, full: true},
	{name: "rcu/shared-progress", model: "rcu.pml", defs: []string{"SYNC=1", "BARRIER=0", "READERS=1"}, progress: true, full: true},
	{name: "rcu/mutant-nosecondwait", model: "rcu.pml", defs: []string{"NOSECONDWAIT"}, want: rcuEarly, full: true},
	{name: "rcu/mutant-snapshare", model: "rcu.pml", defs: []string{"SNAPSHARE", "SYNC=1", "BARRIER=0", "READERS=1"}, want: rcuEarly, full: true},
	{name: "rcu/mutant-nobarrier-noghost", model: "rcu.pml", defs: []string{"NOBARRIER", "NOGHOST"},
		want: []string{"a reader used an object after its callback freed it"}, full: true},
	{name: "rcu/mutant-locksfirst-stop", model: "rcu.pml", defs: []string{"LOCKSFIRST"},
		want: []string{"more unlocks than locks"}, full: true},
	{name: "rcu/mutant-perslot-stop", model: "rcu.pml", defs: []string{"PERSLOT"},
		want: []string{"more unlocks than locks"}, full: true},
	{name: "rcu/mutant-nounlockwake", model: "rcu.pml", defs: []string{"NOUNLOCKWAKE", "SYNC=1", "BARRIER=0", "READERS=1"},
		want: []string{"a queued callback never ran", "invalid end state"}, full: true},
	{name: "rcu/mutant-noreverse", model: "rcu.pml", defs: []string{"NOREVERSE"},
		want: []string{"Barrier returned before a callback queued before it ran"}, full: true},
	{name: "rcu/mutant-pendearly", model: "rcu.pml", defs: []string{"PENDEARLY"},
		want: []string{"Barrier returned before a callback queued before it ran"}, full: true},
	{name: "rcu/mutant-norecheck", model: "rcu.pml", defs: []string{"NORECHECK", "BARRIER=0"},
		want: []string{"a queued callback never ran"}, full: true},
}

// What a grace period that ends too early shows as in rcu.pml.
var rcuEarly = []string{
	"a callback ran while a reader that began before it was queued was still inside",
	"Synchronize returned while a reader that began before it was called was still inside",
	"a reader used an object after its callback freed it",
}

// witnesses lists, per model configuration, the REACH(n) branches its bound
// must reach (full runs only): each run must fail at "witness: n".
var witnesses = []struct {
	model string
	defs  []string
	n     []int
}{
	{"cpuslab_locked.pml", []string{"HOOK=0", "FLUSHES=0", "OPS=3"}, []int{1, 2, 4, 5, 6}},
	{"cpuslab_locked.pml", []string{"OPS=1"}, []int{3}},
	{"cpuslab_pinned.pml", []string{"OPS=1"}, []int{1, 2, 3, 4, 5}},
	{"slabfree.pml", nil, []int{1, 2, 3, 4}},
	{"slabfree.pml", []string{"NODCAS"}, []int{1, 2, 3, 4}},
	{"slabfree.pml", []string{"CPUSLAB", "OTHERS=1"}, []int{2, 3, 5, 6, 7}},
	{"locallock.pml", nil, []int{1, 2}},
	{"locallock.pml", []string{"OWNERFENCE"}, []int{1, 2}},
	{"deferred.pml", nil, []int{1, 2, 3, 4}},
	{"rcu.pml", nil, []int{1, 2, 3, 5, 7, 8}},
	{"rcu.pml", []string{"SYNC=1", "BARRIER=0", "READERS=1"}, []int{4, 6}},
}

// tools finds spin and a C compiler, or skips the test saying what is
// missing.
func tools(t *testing.T) (spin, cc string) {
	t.Helper()
	switch mode() {
	case "off":
		t.Skip("GOSLUB_MODELS=off: the spin models are not run")
	}
	spin, err := exec.LookPath("spin")
	if err != nil {
		t.Skip("spin is not on PATH: the models are not checked (Debian: apt-get install spin)")
	}
	for _, name := range []string{os.Getenv("CC"), "cc", "gcc", "clang"} {
		if name == "" {
			continue
		}
		if cc, err = exec.LookPath(name); err == nil {
			return spin, cc
		}
	}
	t.Skip("no C compiler (cc, gcc, clang or $CC) on PATH: spin's verifiers cannot be built")
	return "", ""
}

func mode() string {
	m := os.Getenv("GOSLUB_MODELS")
	if *fullFlag && m == "" {
		m = "full"
	}
	return m
}

func TestModels(t *testing.T) {
	spin, cc := tools(t)
	full := mode() == "full"
	switch m := mode(); m {
	case "", "bounded", "full":
	default:
		t.Fatalf("GOSLUB_MODELS=%q: want bounded, full or off", m)
	}
	for _, c := range checks {
		if c.full && !full {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runCheck(t, spin, cc, c, full)
		})
	}
	if !full {
		return
	}
	for _, w := range witnesses {
		for _, n := range w.n {
			c := check{
				name:  fmt.Sprintf("witness/%s%s/%d", strings.TrimSuffix(w.model, ".pml"), defsName(w.defs), n),
				model: w.model,
				defs:  append(append([]string{}, w.defs...), fmt.Sprintf("WITNESS=%d", n)),
				want:  []string{fmt.Sprintf("witness: %d", n)},
			}
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				runCheck(t, spin, cc, c, full)
			})
		}
	}
}

func defsName(defs []string) string {
	if len(defs) == 0 {
		return ""
	}
	return "-" + strings.ToLower(strings.Join(defs, "-"))
}

var (
	errorsRE = regexp.MustCompile(`errors: (\d+)`)
	statesRE = regexp.MustCompile(`(?m)^\s*(\d+) states, stored`)
	depthRE  = regexp.MustCompile(`depth reached (\d+)`)
)

// runCheck builds the verifier of one check in a fresh directory, runs it
// and judges its output.
func runCheck(t *testing.T, spin, cc string, c check, full bool) {
	src, err := os.ReadFile(c.model)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, c.model), src, 0o644); err != nil {
		t.Fatal(err)
	}
	limit := 5 * time.Minute
	if full {
		limit = 2 * time.Hour
	}
	if d, ok := t.Deadline(); ok && time.Until(d)-5*time.Second < limit {
		limit = max(time.Until(d)-5*time.Second, time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var cpu time.Duration // spin, cc and pan together
	run := func(name string, args ...string) string {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState != nil {
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		if ctx.Err() != nil {
			t.Fatalf("%s %s: no result within %v", name, strings.Join(args, " "), limit)
		}
		// pan exits 0 with and without errors; anything else is a failure
		// to build or to run.
		if err != nil && name != "./pan" {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var dflags []string
	for _, d := range c.defs {
		dflags = append(dflags, "-D"+d)
	}
	start := time.Now()
	run(spin, append(append([]string{"-a"}, dflags...), c.model)...)
	// -O0: most runs are small, and building pan.c takes longer than
	// searching with it; the large bounds are worth the optimizer.
	ccArgs := []string{"-O0", "-w", "-o", "pan", "pan.c", "-DMEMLIM=2048"}
	panArgs := []string{"-m20000", "-w20", "-n"}
	if c.full {
		ccArgs = []string{"-O2", "-w", "-o", "pan", "pan.c", "-DMEMLIM=4096", "-DCOLLAPSE"}
		panArgs = []string{"-m100000", "-w24", "-n"}
	}
	if c.progress {
		ccArgs = append(ccArgs, "-DNP", "-DNFAIR=3")
		panArgs = append(panArgs, "-l", "-f")
	} else {
		ccArgs = append(ccArgs, "-DSAFETY")
	}
	run(cc, ccArgs...)
	out := run("./pan", panArgs...)
	elapsed := time.Since(start)
	m := errorsRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pan printed no error count:\n%s", out)
	}
	nerr, _ := strconv.Atoi(m[1])
	for _, bad := range []string{"max search depth too small", "reached -DMEMLIM bound", "out of memory", "too many processes"} {
		if strings.Contains(out, bad) {
			t.Fatalf("the search did not cover the bound (%s):\n%s", bad, out)
		}
	}
	states, depth := "?", "?"
	if m := statesRE.FindStringSubmatch(out); m != nil {
		states = m[1]
	}
	if m := depthRE.FindStringSubmatch(out); m != nil {
		depth = m[1]
	}
	if c.want == nil {
		if nerr != 0 {
			trail := run(spin, append(append([]string{"-t", "-p"}, dflags...), c.model)...)
			t.Fatalf("%s %v: %d errors; pan:\n%s\ncounterexample (the end of spin -t -p):\n%s",
				c.model, c.defs, nerr, out, tail(trail, 80))
		}
		t.Logf("%s %v: no errors, %s states, depth %s, %.1fs (%.1fs CPU)", c.model, c.defs, states, depth, elapsed.Seconds(), cpu.Seconds())
		return
	}
	if nerr == 0 {
		t.Fatalf("%s %v must fail with one of %q, but spin found no error in %s states:\n%s",
			c.model, c.defs, c.want, states, out)
	}
	// Replay the counterexample: it must show the property this check is
	// about, not some other failure.
	trail := run(spin, append(append([]string{"-t"}, dflags...), c.model)...)
	var shown []string // the properties the trail reports broken
	for _, line := range strings.Split(trail, "\n") {
		if strings.Contains(line, "violated:") || strings.Contains(line, "witness:") {
			shown = append(shown, strings.TrimSpace(line))
		}
	}
	for _, w := range c.want {
		found := strings.Contains(out, w)
		for _, s := range shown {
			found = found || strings.Contains(s, w)
		}
		if found {
			t.Logf("%s %v: counterexample %q at depth %s, %.1fs (%.1fs CPU)", c.model, c.defs, w, depth, elapsed.Seconds(), cpu.Seconds())
			return
		}
	}
	t.Fatalf("%s %v: the counterexample shows none of %q; pan:\n%s\nreplay:\n%s",
		c.model, c.defs, c.want, out, tail(trail, 40))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := bytes.Split([]byte(strings.TrimRight(s, "\n")), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
