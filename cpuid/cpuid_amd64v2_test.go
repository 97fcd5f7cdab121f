//go:build amd64.v2

package cpuid_test

import (
	"os"
	"testing"

	"github.com/goslub/slub/cpuid"
)

// TestCX16GOAMD64: GOAMD64=v2 and above require CMPXCHG16B; a binary built so
// does not start on a CPU without it.
func TestCX16GOAMD64(t *testing.T) {
	if !cpuid.HardwareDCAS() && !godebugOff(os.Getenv("GODEBUG"), "cx16") {
		t.Fatal("built for GOAMD64>=v2 but HardwareDCAS() is false")
	}
}
