package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Waiting for an idle machine: the share of CPU time the whole machine spent
// busy (not idle, not waiting for I/O) is sampled from /proc/stat while this
// process sleeps, so all of it is someone else's.

// idleThreshold is the busy share of all CPUs above which the machine is
// not idle.
const idleThreshold = 0.10

// idleSample is how long one measurement of the busy share lasts.
const idleSample = 500 * time.Millisecond

// cpuTimes reads the busy and total jiffies of all CPUs from the first line
// of /proc/stat.
func cpuTimes() (busy, total uint64, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, 0, err
	}
	return parseCPULine(line)
}

// parseCPULine parses "cpu  user nice system idle iowait irq softirq steal
// guest guest_nice". Guest time is already counted in user and nice.
func parseCPULine(line string) (busy, total uint64, err error) {
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, errors.New("unexpected /proc/stat line")
	}
	var idle uint64
	for i, s := range f[1:] {
		if i >= 8 { // guest, guest_nice
			break
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, err
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return total - idle, total, nil
}

// busyShare measures the busy share of all CPUs over d.
func busyShare(d time.Duration) (float64, error) {
	b0, t0, err := cpuTimes()
	if err != nil {
		return 0, err
	}
	time.Sleep(d)
	b1, t1, err := cpuTimes()
	if err != nil {
		return 0, err
	}
	if t1 == t0 {
		return 0, nil
	}
	return float64(b1-b0) / float64(t1-t0), nil
}

// waitIdle waits up to maxWait for the machine to be idle, and says on
// stderr how it went. It reports whether the machine was idle.
func waitIdle(maxWait time.Duration, stderr io.Writer) bool {
	deadline := time.Now().Add(maxWait)
	said := false
	for {
		share, err := busyShare(idleSample)
		if err != nil {
			fmt.Fprintf(stderr, "slabbench: cannot tell whether the machine is idle: %v\n", err)
			return false
		}
		if share <= idleThreshold {
			fmt.Fprintf(stderr, "slabbench: machine is idle (%.0f%% busy)\n", share*100)
			return true
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "slabbench: warning: machine is not idle (%.0f%% of its CPUs busy); results will be noisy\n", share*100)
			return false
		}
		if !said {
			fmt.Fprintf(stderr, "slabbench: machine is busy (%.0f%%); waiting up to %v for it to calm down\n", share*100, maxWait)
			said = true
		}
		time.Sleep(time.Second)
	}
}
