//go:build !amd64 && !arm64

package cpuid

const dcasName = "none"

func hardwareDCAS() bool { return false }
