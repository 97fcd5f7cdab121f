package cpuid_test

import (
	"os"
	"testing"

	kcpu "github.com/klauspost/cpuid/v2"

	"github.com/goslub/slub/cpuid"
)

// TestCX16Implied: CMPXCHG16B is older than SSE4.2 (every x86-64 CPU since
// 2008 has both), so a CPU with SSE4.2 has CX16, and x/sys/cpu sees it unless
// GODEBUG turned it off.
func TestCX16Implied(t *testing.T) {
	if !kcpu.CPU.Supports(kcpu.SSE42) {
		t.Skip("CPU without SSE4.2")
	}
	if !kcpu.CPU.Supports(kcpu.CX16) {
		t.Fatal("CPU has SSE4.2 but not CX16")
	}
	if !cpuid.HardwareDCAS() && !godebugOff(os.Getenv("GODEBUG"), "cx16") {
		t.Fatal("CPU has SSE4.2 but HardwareDCAS() is false")
	}
}
