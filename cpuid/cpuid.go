// Package cpuid says what the CPU can do for the allocator: whether a hardware
// double-word (128-bit) compare-and-swap exists, which instruction it is, and a
// description of the machine for benchmark result files.
package cpuid

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// EnvNoDCAS names the environment variable that, set to 1 (or true), forces
// "no double-word CAS" on any machine. It is read once, at start-up.
const EnvNoDCAS = "GOSLUB_NODCAS"

var forced atomic.Bool

func init() {
	switch os.Getenv(EnvNoDCAS) {
	case "1", "true", "yes", "on":
		forced.Store(true)
	}
}

// HardwareDCAS reports whether the CPU has a double-word CAS instruction
// (amd64: CMPXCHG16B; arm64: CASP from the LSE atomics), whatever ForceNoDCAS says.
func HardwareDCAS() bool { return hardwareDCAS() }

// HasDCAS reports whether the double-word CAS may be used: the hardware has it
// and it is not forced off.
func HasDCAS() bool { return hardwareDCAS() && !forced.Load() }

// Forced reports whether the double-word CAS is forced off.
func Forced() bool { return forced.Load() }

// ForceNoDCAS forces "no double-word CAS" (off == true) or lifts the force.
// Callers decide their path when they are set up (an allocator cache when it is
// created), so flip it only while nothing is using those paths.
func ForceNoDCAS(off bool) { forced.Store(off) }

// DCASInstruction names the double-word CAS that will be used: "cmpxchg16b",
// "casp", or "none".
func DCASInstruction() string {
	if !HasDCAS() {
		return "none"
	}
	return dcasName
}

var _ = cpu.X86
