package cpuid

import (
	kcpu "github.com/klauspost/cpuid/v2"
	"golang.org/x/sys/cpu"
)

const dcasName = "cmpxchg16b"

func hardwareDCAS() bool { return cpu.X86.HasCX16 }

// dcasFlag reads CX16 with the CPUID instruction, which always answers on
// amd64.
func dcasFlag() Opinion { return opinion(kcpu.CPU.Supports(kcpu.CX16)) }
