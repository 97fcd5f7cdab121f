package cpuid

import "golang.org/x/sys/cpu"

const dcasName = "casp"

func hardwareDCAS() bool { return cpu.ARM64.HasATOMICS }
