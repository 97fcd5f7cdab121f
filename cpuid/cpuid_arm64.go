package cpuid

import (
	kcpu "github.com/klauspost/cpuid/v2"
	"golang.org/x/sys/cpu"
)

const dcasName = "casp"

func hardwareDCAS() bool { return cpu.ARM64.HasATOMICS }

// dcasFlag reads ATOMICS as klauspost/cpuid found it (HWCAP on Linux, sysctl
// on Darwin). Every arm64 CPU has floating point and Advanced SIMD, so when
// neither is reported the library could not read the CPU's features and its
// answer is unknown.
func dcasFlag() Opinion {
	if !kcpu.CPU.Supports(kcpu.FP) && !kcpu.CPU.Supports(kcpu.ASIMD) {
		return Unknown
	}
	return opinion(kcpu.CPU.Supports(kcpu.ATOMICS))
}
