package cpuid

import "golang.org/x/sys/cpu"

const dcasName = "cmpxchg16b"

func hardwareDCAS() bool { return cpu.X86.HasCX16 }
