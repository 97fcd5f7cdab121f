//go:build !amd64 && !arm64

package cpuid

const dcasName = "none"

func hardwareDCAS() bool { return false }

// dcasFlag is Unknown: this module uses no double-word CAS on other
// architectures (386 has CX16 in its CPUID but cannot run CMPXCHG16B).
func dcasFlag() Opinion { return Unknown }
