package cpuid_test

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/goslub/slub/cpuid"
)

// envWantDCAS, when set, names the instruction DCASInstruction must report.
// scripts/test-all.sh sets it for the runs whose answer it knows (qemu's
// -cpu max: casp; -cpu cortex-a57 and GOSLUB_NODCAS=1: none).
const envWantDCAS = "GOSLUB_TEST_WANT_DCAS"

func TestWantDCAS(t *testing.T) {
	want := os.Getenv(envWantDCAS)
	if want == "" {
		t.Skip(envWantDCAS + " not set")
	}
	if got := cpuid.DCASInstruction(); got != want {
		t.Fatalf("DCASInstruction() = %q, %s wants %q (HardwareDCAS=%v Forced=%v)",
			got, envWantDCAS, want, cpuid.HardwareDCAS(), cpuid.Forced())
	}
}

func TestParseNoDCAS(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"", false},
		{"0", false},
		{"false", false},
		{"no", false},
		{"off", false},
		{"2", false},
		{"1", true},
		{"true", true},
		{"TRUE", true},
		{"yes", true},
		{"on", true},
		{" 1 ", true},
	} {
		if got := cpuid.ParseNoDCAS(tc.v); got != tc.want {
			t.Errorf("ParseNoDCAS(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// TestEnvNoDCAS runs this test binary again with EnvNoDCAS set, to check
// that the variable is read at start-up.
func TestEnvNoDCAS(t *testing.T) {
	if os.Getenv("GOSLUB_TEST_CHILD") == "1" {
		// The child: report what start-up decided.
		if !cpuid.Forced() || cpuid.HasDCAS() || cpuid.DCASInstruction() != "none" {
			t.Fatalf("with %s=1: Forced=%v HasDCAS=%v DCASInstruction=%q",
				cpuid.EnvNoDCAS, cpuid.Forced(), cpuid.HasDCAS(), cpuid.DCASInstruction())
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEnvNoDCAS$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GOSLUB_TEST_CHILD=1", cpuid.EnvNoDCAS+"=1")
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.ENOEXEC) {
		// Under qemu-user without binfmt_misc the binary cannot start itself.
		t.Skipf("cannot run the test binary again: %v", err)
	}
	if err != nil {
		t.Fatalf("child with %s=1 failed: %v\n%s", cpuid.EnvNoDCAS, err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Fatalf("child did not pass:\n%s", out)
	}
}

func TestForceNoDCAS(t *testing.T) {
	was := cpuid.Forced()
	t.Cleanup(func() { cpuid.ForceNoDCAS(was) })
	hw := cpuid.HardwareDCAS()

	cpuid.ForceNoDCAS(true)
	if !cpuid.Forced() || cpuid.HasDCAS() || cpuid.DCASInstruction() != "none" {
		t.Fatalf("forced: Forced=%v HasDCAS=%v DCASInstruction=%q",
			cpuid.Forced(), cpuid.HasDCAS(), cpuid.DCASInstruction())
	}
	if cpuid.HardwareDCAS() != hw {
		t.Fatalf("ForceNoDCAS changed HardwareDCAS from %v", hw)
	}
	if m := cpuid.Describe(); m.DCAS != "none" || m.HardwareDCAS != hw {
		t.Fatalf("forced: Describe().DCAS=%q HardwareDCAS=%v", m.DCAS, m.HardwareDCAS)
	}

	cpuid.ForceNoDCAS(false)
	if cpuid.Forced() {
		t.Fatal("Forced() after ForceNoDCAS(false)")
	}
	if cpuid.HasDCAS() != (hw && cpuid.AsmBuilt) {
		t.Fatalf("unforced: HasDCAS=%v, HardwareDCAS=%v, assembly built=%v",
			cpuid.HasDCAS(), hw, cpuid.AsmBuilt)
	}
}

// TestInstructionNames checks that the name follows from the architecture
// and HasDCAS.
func TestInstructionNames(t *testing.T) {
	want := "none"
	if cpuid.HasDCAS() {
		switch runtime.GOARCH {
		case "amd64":
			want = "cmpxchg16b"
		case "arm64":
			want = "casp"
		default:
			t.Fatalf("HasDCAS() on %s", runtime.GOARCH)
		}
	}
	if got := cpuid.DCASInstruction(); got != want {
		t.Fatalf("DCASInstruction() = %q, want %q", got, want)
	}
	if cpuid.HasDCAS() && (!cpuid.HardwareDCAS() || cpuid.Forced() || !cpuid.AsmBuilt) {
		t.Fatal("HasDCAS() without hardware, or while forced, or without assembly")
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" && cpuid.HardwareDCAS() {
		t.Fatalf("HardwareDCAS() on %s", runtime.GOARCH)
	}
}

// godebugOff reports whether GODEBUG turns off the x/sys/cpu feature named
// name, reading the settings as x/sys/cpu does: later ones win, and "all"
// names every feature.
func godebugOff(godebug, name string) bool {
	off := false
	for _, f := range strings.Split(godebug, ",") {
		key, value, ok := strings.Cut(f, "=")
		if !ok || (key != "cpu."+name && key != "cpu.all") {
			continue
		}
		switch value {
		case "off":
			off = true
		case "on":
			off = false
		}
	}
	return off
}

func TestGodebugOff(t *testing.T) {
	for _, tc := range []struct {
		godebug string
		want    bool
	}{
		{"", false},
		{"cpu.cx16=off", true},
		{"madvdontneed=1,cpu.cx16=off", true},
		{"cpu.all=off", true},
		{"cpu.all=off,cpu.cx16=on", false},
		{"cpu.cx16=off,cpu.cx16=on", false},
		{"cpu.atomics=off", false},
	} {
		if got := godebugOff(tc.godebug, "cx16"); got != tc.want {
			t.Errorf("godebugOff(%q, cx16) = %v, want %v", tc.godebug, got, tc.want)
		}
	}
}

// TestSecondOpinion checks x/sys/cpu against klauspost/cpuid where the
// second one knows: they read the same CPUID bit or HWCAP word, and differ
// only when GODEBUG turned the feature off for x/sys/cpu.
func TestSecondOpinion(t *testing.T) {
	m := cpuid.Describe()
	feature := map[string]string{"amd64": "cx16", "arm64": "atomics"}[runtime.GOARCH]
	switch m.DCASFlag {
	case cpuid.Unknown:
		if runtime.GOARCH == "amd64" {
			t.Fatal("klauspost/cpuid has no opinion on CX16 on amd64")
		}
		t.Skipf("no second opinion on %s", runtime.GOARCH)
	case cpuid.No:
		if m.HardwareDCAS {
			t.Fatalf("x/sys/cpu reports %s, klauspost/cpuid does not", feature)
		}
	case cpuid.Yes:
		off := godebugOff(os.Getenv("GODEBUG"), feature)
		if m.HardwareDCAS == off {
			t.Fatalf("klauspost/cpuid reports %s, x/sys/cpu says %v with GODEBUG=%q",
				feature, m.HardwareDCAS, os.Getenv("GODEBUG"))
		}
	}
}

func TestOpinionString(t *testing.T) {
	for o, want := range map[cpuid.Opinion]string{cpuid.Unknown: "unknown", cpuid.Yes: "yes", cpuid.No: "no"} {
		if got := o.String(); got != want {
			t.Errorf("Opinion(%d).String() = %q, want %q", o, got, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	m := cpuid.Describe()
	t.Logf("%+v", m)
	t.Logf("Name() = %q", m.Name())
	if m.GOOS != runtime.GOOS || m.GOARCH != runtime.GOARCH {
		t.Errorf("GOOS/GOARCH = %s/%s, want %s/%s", m.GOOS, m.GOARCH, runtime.GOOS, runtime.GOARCH)
	}
	if m.Brand == "" || m.Vendor == "" {
		t.Errorf("Brand %q, Vendor %q: want a name or \"unknown\"", m.Brand, m.Vendor)
	}
	if m.CPUs != runtime.NumCPU() {
		t.Errorf("CPUs = %d, want runtime.NumCPU() = %d", m.CPUs, runtime.NumCPU())
	}
	if m.ThreadsPerCore < 1 || m.PhysicalCores < 0 || m.LogicalCores < 0 {
		t.Errorf("cores: physical %d logical %d threads/core %d", m.PhysicalCores, m.LogicalCores, m.ThreadsPerCore)
	}
	if m.PhysicalCores > 0 && m.LogicalCores < m.PhysicalCores {
		t.Errorf("LogicalCores %d < PhysicalCores %d", m.LogicalCores, m.PhysicalCores)
	}
	for name, size := range map[string]int{"L1D": m.L1D, "L2": m.L2, "L3": m.L3} {
		if size != -1 && size < 1024 {
			t.Errorf("%s = %d bytes: want -1 (unknown) or at least 1 KiB", name, size)
		}
	}
	if m.DCAS != cpuid.DCASInstruction() || m.HardwareDCAS != cpuid.HardwareDCAS() {
		t.Errorf("DCAS %q HardwareDCAS %v, want %q %v", m.DCAS, m.HardwareDCAS, cpuid.DCASInstruction(), cpuid.HardwareDCAS())
	}
	if !regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*-[1-9][0-9]*cpu$`).MatchString(m.Name()) {
		t.Errorf("Name() = %q: not a slug ending in the CPU count", m.Name())
	}
}

func TestName(t *testing.T) {
	for _, tc := range []struct {
		m    cpuid.Machine
		want string
	}{
		{cpuid.Machine{Brand: "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", CPUs: 8}, "intel-xeon-platinum-8481c-8cpu"},
		{cpuid.Machine{Brand: "AMD EPYC 7B13 64-Core Processor", CPUs: 2}, "amd-epyc-7b13-2cpu"},
		{cpuid.Machine{Brand: "AMD Ryzen 7 5800H with Radeon Graphics", CPUs: 16}, "amd-ryzen-7-5800h-16cpu"},
		{cpuid.Machine{Brand: "Apple M2 Pro", CPUs: 12}, "apple-m2-pro-12cpu"},
		{cpuid.Machine{Brand: "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", CPUs: 8}, "11th-gen-intel-core-i7-1165g7-8cpu"},
		{cpuid.Machine{Brand: "unknown", Vendor: "Arm Limited", GOARCH: "arm64", CPUs: 4}, "arm-limited-4cpu"},
		{cpuid.Machine{Brand: "unknown", Vendor: "unknown", GOARCH: "arm64", CPUs: 4}, "unknown-arm64-4cpu"},
		{cpuid.Machine{GOARCH: "riscv64"}, "unknown-riscv64-1cpu"},
	} {
		if got := tc.m.Name(); got != tc.want {
			t.Errorf("Name() of brand %q = %q, want %q", tc.m.Brand, got, tc.want)
		}
	}
}

func TestSlugLength(t *testing.T) {
	long := strings.Repeat("abcdefgh ", 20)
	s := cpuid.Slug(long)
	if len(s) > cpuid.MaxSlug || strings.HasSuffix(s, "-") || s == "" {
		t.Fatalf("Slug of a long brand = %q (%d bytes), want at most %d bytes ending in a word", s, len(s), cpuid.MaxSlug)
	}
	if s := cpuid.Slug(strings.Repeat("x", 100)); len(s) != cpuid.MaxSlug {
		t.Fatalf("Slug of one long word has %d bytes, want %d", len(s), cpuid.MaxSlug)
	}
}
