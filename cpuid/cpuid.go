// Package cpuid says what the CPU can do for the allocator: whether a hardware
// double-word (128-bit) compare-and-swap exists, which instruction the
// allocator will use, and a description of the machine for benchmark result
// files (see Describe).
//
// Dispatch decisions come from golang.org/x/sys/cpu (X86.HasCX16 on amd64,
// ARM64.HasATOMICS on arm64), so GODEBUG=cpu.cx16=off and
// GODEBUG=cpu.atomics=off turn the instruction off as they do for the Go
// runtime (which itself does not know cx16 and prints a warning that it
// ignores the setting; x/sys/cpu honours it). The environment variable
// GOSLUB_NODCAS and ForceNoDCAS turn it off for this module alone, so that
// the fallback paths can be tested on any machine.
package cpuid

import (
	"os"
	"strings"
	"sync/atomic"
)

// EnvNoDCAS names the environment variable that, set to 1, true, yes or on
// (any case), forces "no double-word CAS" on any machine. It is read once,
// at start-up; 0, false, no, off and the empty string leave the hardware
// decide.
const EnvNoDCAS = "GOSLUB_NODCAS"

// forced is set at start-up from EnvNoDCAS and changed only by ForceNoDCAS.
var forced atomic.Bool

func init() { forced.Store(parseNoDCAS(os.Getenv(EnvNoDCAS))) }

// parseNoDCAS reports whether the value of EnvNoDCAS asks for "no
// double-word CAS". Values it does not know leave the hardware decide.
func parseNoDCAS(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// HardwareDCAS reports whether the CPU, as Go sees it, has a double-word CAS
// instruction (amd64: CMPXCHG16B; arm64: CASP from the LSE atomics), whatever
// ForceNoDCAS, EnvNoDCAS or the purego build tag say. A GODEBUG setting that
// turns the CPU feature off makes it false.
func HardwareDCAS() bool { return hardwareDCAS() }

// HasDCAS reports whether the double-word CAS may be used: the hardware has
// it, this build has the assembly for it (no purego tag), and it is not
// forced off.
func HasDCAS() bool { return asmBuilt && hardwareDCAS() && !forced.Load() }

// Forced reports whether the double-word CAS is forced off.
func Forced() bool { return forced.Load() }

// ForceNoDCAS forces "no double-word CAS" (off == true) or lifts the force.
// Callers decide their path when they are set up (an allocator cache when it
// is created), and the hardware and the portable CAS must never work on the
// same words at the same time, so flip it only while nothing is using those
// paths.
func ForceNoDCAS(off bool) { forced.Store(off) }

// DCASInstruction names the double-word CAS that will be used: "cmpxchg16b",
// "casp", or "none" when HasDCAS is false.
func DCASInstruction() string {
	if !HasDCAS() {
		return "none"
	}
	return dcasName
}
