package cpuid

import (
	"runtime"
	"strconv"
	"strings"

	kcpu "github.com/klauspost/cpuid/v2"
)

// Machine describes the machine a benchmark ran on, for the configuration
// lines of a result file. The description comes from
// github.com/klauspost/cpuid/v2, except the DCAS fields, which say what this
// module decided, and CPUs, which comes from the Go runtime.
type Machine struct {
	GOOS   string // runtime.GOOS
	GOARCH string // runtime.GOARCH

	// Brand is the CPU's brand name ("AMD EPYC 7B13 64-Core Processor").
	// Many arm64 CPUs report none, and under qemu-user there is none to read:
	// then it is "unknown".
	Brand string
	// Vendor is the CPU vendor ("AuthenticAMD", "Arm Limited"), or "unknown".
	Vendor string

	// PhysicalCores, LogicalCores and ThreadsPerCore describe the whole CPU
	// package as it reports itself, which in a virtual machine or container can
	// be far more than this process may use. 0 means unknown; ThreadsPerCore
	// is 1 when unknown.
	PhysicalCores  int
	LogicalCores   int
	ThreadsPerCore int
	// CPUs is runtime.NumCPU(): the logical CPUs this process may run on.
	CPUs int

	// L1D, L2 and L3 are cache sizes in bytes (per core or shared, as the CPU
	// reports them); -1 means unknown.
	L1D, L2, L3 int

	// DCAS is DCASInstruction(): "cmpxchg16b", "casp" or "none".
	DCAS string
	// HardwareDCAS is HardwareDCAS(): the CPU has the instruction, whether or
	// not this module uses it.
	HardwareDCAS bool
	// DCASFlag is a second opinion on HardwareDCAS: the CX16 (amd64) or ATOMICS
	// (arm64) feature flag as klauspost/cpuid reads it. Unknown on other
	// architectures and where the library could not read the features. It
	// disagrees with HardwareDCAS only when GODEBUG turned the feature off.
	DCASFlag Opinion
}

// Opinion is a yes or no that may be unknown.
type Opinion int8

const (
	Unknown Opinion = iota
	Yes
	No
)

func opinion(b bool) Opinion {
	if b {
		return Yes
	}
	return No
}

// String returns "unknown", "yes" or "no".
func (o Opinion) String() string {
	switch o {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "unknown"
}

// Describe returns the description of this machine. It reflects
// ForceNoDCAS at the time of the call.
func Describe() Machine {
	c := &kcpu.CPU
	return Machine{
		GOOS:           runtime.GOOS,
		GOARCH:         runtime.GOARCH,
		Brand:          orUnknown(c.BrandName),
		Vendor:         orUnknown(c.VendorString),
		PhysicalCores:  c.PhysicalCores,
		LogicalCores:   c.LogicalCores,
		ThreadsPerCore: max(c.ThreadsPerCore, 1),
		CPUs:           runtime.NumCPU(),
		L1D:            c.Cache.L1D,
		L2:             c.Cache.L2,
		L3:             c.Cache.L3,
		DCAS:           DCASInstruction(),
		HardwareDCAS:   HardwareDCAS(),
		DCASFlag:       dcasFlag(),
	}
}

func orUnknown(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "unknown"
	}
	return s
}

// Name returns a short name for the machine, usable in a file name: the
// brand as a slug (lower-case letters, digits and '-', without trademark
// signs, "CPU", "Processor", the core count, the clock and the integrated
// graphics) followed by the number of CPUs this process may use, as in
// "amd-epyc-7b13-8cpu" or "apple-m2-pro-12cpu". Without a brand it uses the vendor, and without
// either "unknown" and the architecture: "unknown-arm64-4cpu".
func (m Machine) Name() string {
	s := slug(m.Brand)
	if s == "" || s == "unknown" {
		s = slug(m.Vendor)
	}
	if s == "" || s == "unknown" {
		s = "unknown-" + slug(m.GOARCH)
	}
	return s + "-" + strconv.Itoa(max(m.CPUs, 1)) + "cpu"
}

// maxSlug bounds the brand part of Name so that file names stay short.
const maxSlug = 40

// slug turns a CPU brand string into lower-case words joined by '-',
// dropping the words that every brand string carries and that say nothing
// about the model.
func slug(brand string) string {
	brand = strings.ToLower(brand)
	for _, mark := range []string{"(r)", "(tm)", "(c)", "®", "™"} {
		brand = strings.ReplaceAll(brand, mark, " ")
	}
	for _, tail := range []string{"@", " with "} { // "@ 2.70GHz", "with Radeon Graphics"
		if i := strings.Index(brand, tail); i >= 0 {
			brand = brand[:i]
		}
	}
	words := strings.FieldsFunc(brand, func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-')
	})
	var kept []string
	for _, w := range words {
		w = strings.Trim(w, "-")
		switch {
		case w == "", w == "cpu", w == "processor",
			strings.HasSuffix(w, "-core"), strings.HasSuffix(w, "ghz"):
			continue
		}
		kept = append(kept, w)
	}
	s := strings.Join(kept, "-")
	for len(s) > maxSlug {
		i := strings.LastIndexByte(s[:maxSlug], '-')
		if i <= 0 {
			s = s[:maxSlug]
			break
		}
		s = s[:i]
	}
	return s
}
