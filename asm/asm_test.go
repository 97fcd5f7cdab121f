package asm_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/goslub/slub/asm"
	"github.com/goslub/slub/cpuid"
)

// impl is one implementation of the two operations. local ones are
// CompareAndSwapLocal, correct only while one thread uses the pair.
type impl struct {
	name  string
	cas   func(p *asm.Pair, oldLo, oldHi, newLo, newHi uint64) bool
	load  func(p *asm.Pair) (lo, hi uint64)
	local bool
}

// impls returns every implementation this machine can run: the portable one,
// the instruction called directly (when the CPU has it, forced off or not),
// and the exported functions, which dispatch to one of the two.
func impls() []impl {
	list := []impl{
		{"portable", asm.PortableCAS, asm.PortableLoad, false},
		{"dispatch/" + asm.Instruction(), asm.CompareAndSwap, asm.Load, false},
		{"local/dispatch/" + asm.Instruction(), asm.CompareAndSwapLocal, asm.Load, true},
	}
	if asm.HaveAsm && cpuid.HardwareDCAS() {
		list = append(list,
			impl{"hardware", asm.HardwareCAS, asm.HardwareLoad, false},
			impl{"local/hardware", asm.HardwareCASLocal, asm.HardwareLoad, true},
			impl{"local/unchecked", asm.CompareAndSwapLocalUnchecked, asm.HardwareLoad, true})
	}
	return list
}

// forceNoDCAS sets cpuid.ForceNoDCAS for the rest of the test.
func forceNoDCAS(t testing.TB, off bool) {
	was := cpuid.Forced()
	cpuid.ForceNoDCAS(off)
	t.Cleanup(func() { cpuid.ForceNoDCAS(was) })
}

// envWantDCAS, when set, names the instruction Instruction must report;
// scripts/test-all.sh sets it for the runs whose answer it knows.
const envWantDCAS = "GOSLUB_TEST_WANT_DCAS"

func TestWantDCAS(t *testing.T) {
	want := os.Getenv(envWantDCAS)
	if want == "" {
		t.Skip(envWantDCAS + " not set")
	}
	if got := asm.Instruction(); got != want {
		t.Fatalf("Instruction() = %q, %s wants %q", got, envWantDCAS, want)
	}
	if asm.Lockless() != (want != "none") {
		t.Fatalf("Lockless() = %v with Instruction() = %q", asm.Lockless(), want)
	}
}

func TestInstruction(t *testing.T) {
	if asm.Lockless() != (asm.HaveAsm && cpuid.HasDCAS()) {
		t.Fatalf("Lockless() = %v, assembly %v, cpuid.HasDCAS() %v", asm.Lockless(), asm.HaveAsm, cpuid.HasDCAS())
	}
	want := "none"
	if asm.Lockless() {
		want = map[string]string{"amd64": "cmpxchg16b", "arm64": "casp"}[runtime.GOARCH]
	}
	if got := asm.Instruction(); got != want || got != cpuid.DCASInstruction() {
		t.Fatalf("Instruction() = %q, want %q, cpuid.DCASInstruction() = %q", got, want, cpuid.DCASInstruction())
	}

	forceNoDCAS(t, true)
	if asm.Lockless() || asm.Instruction() != "none" {
		t.Fatalf("forced off: Lockless() = %v, Instruction() = %q", asm.Lockless(), asm.Instruction())
	}
}

// casReturns reports whether cas on p returns within wait while the test
// holds the portable implementation's lock for p, and what it returned.
func casReturns(p *asm.Pair, wait time.Duration, cas func() bool) (returned, swapped bool) {
	unlock := asm.LockStripe(p)
	done := make(chan bool, 1)
	go func() { done <- cas() }()
	select {
	case swapped = <-done:
		returned = true
	case <-time.After(wait):
	}
	unlock()
	if !returned {
		swapped = <-done
	}
	return returned, swapped
}

// TestDispatchPath proves which implementation CompareAndSwap and Load run:
// with the portable lock for the pair held by the test, the instruction
// finishes and the portable path waits. The instruction gets ten seconds
// (a loaded machine may be slow to schedule the goroutine); the portable
// path, which would wait for ever, gets a fifth of a second to show that it
// does not wait.
func TestDispatchPath(t *testing.T) {
	check := func(t *testing.T, wantHardware bool) {
		wait := 200 * time.Millisecond
		if wantHardware {
			wait = 10 * time.Second
		}
		p := &asm.MakePairs(1)[0]
		returned, swapped := casReturns(p, wait, func() bool { return asm.CompareAndSwap(p, 0, 0, 1, 2) })
		if returned != wantHardware {
			t.Fatalf("CompareAndSwap finished while the portable lock was held: %v, want %v (Instruction() = %q)",
				returned, wantHardware, asm.Instruction())
		}
		if !swapped || p.Lo != 1 || p.Hi != 2 {
			t.Fatalf("CompareAndSwap: swapped %v, pair %+v, want true {1 2}", swapped, *p)
		}
		returned, _ = casReturns(p, wait, func() bool {
			lo, hi := asm.Load(p)
			return lo == 1 && hi == 2
		})
		if returned != wantHardware {
			t.Fatalf("Load finished while the portable lock was held: %v, want %v", returned, wantHardware)
		}
	}
	t.Run("current", func(t *testing.T) { check(t, asm.Lockless()) })
	t.Run("forced", func(t *testing.T) {
		forceNoDCAS(t, true)
		check(t, false)
	})
	if !asm.HaveAsm || !cpuid.HardwareDCAS() {
		return
	}
	t.Run("unforced", func(t *testing.T) {
		forceNoDCAS(t, false)
		if asm.Instruction() == "none" {
			t.Fatal("Instruction() is none with the hardware present and not forced off")
		}
		check(t, true)
	})
}

func TestCompareAndSwapTable(t *testing.T) {
	const ones = ^uint64(0)
	const top = uint64(1) << 63
	for _, tc := range []struct {
		name                       string
		lo, hi                     uint64 // the pair before
		oldLo, oldHi, newLo, newHi uint64
		want                       bool
	}{
		{"zero to values", 0, 0, 0, 0, 1, 2, true},
		{"values to zero", 1, 2, 1, 2, 0, 0, true},
		{"all ones", ones, ones, ones, ones, top, 1, true},
		{"same value", 7, 9, 7, 9, 7, 9, true},
		{"swap halves", 7, 9, 7, 9, 9, 7, true},
		{"high bits", top, top | 1, top, top | 1, 1, top, true},
		{"lo differs", 1, 2, 3, 2, 5, 6, false},
		{"hi differs", 1, 2, 1, 3, 5, 6, false},
		{"lo differs in the top bit", top, 0, 0, 0, 5, 6, false},
		{"hi differs in the top bit", 0, top, 0, 0, 5, 6, false},
		{"hi differs in the low bit", ones, ones - 1, ones, ones, 0, 0, false},
		{"both differ", 1, 2, 2, 1, 5, 6, false},
		{"zero pair, nonzero old", 0, 0, 0, 1, 0, 0, false},
	} {
		for _, im := range impls() {
			t.Run(tc.name+"/"+im.name, func(t *testing.T) {
				// Neighbours on both sides catch a write of the wrong width.
				ps := asm.MakePairs(3)
				ps[0] = asm.Pair{Lo: 0xa0, Hi: 0xa1}
				ps[2] = asm.Pair{Lo: 0xc0, Hi: 0xc1}
				ps[1] = asm.Pair{Lo: tc.lo, Hi: tc.hi}
				got := im.cas(&ps[1], tc.oldLo, tc.oldHi, tc.newLo, tc.newHi)
				want := asm.Pair{Lo: tc.lo, Hi: tc.hi} // a failed CAS leaves memory untouched
				if tc.want {
					want = asm.Pair{Lo: tc.newLo, Hi: tc.newHi}
				}
				if got != tc.want || ps[1] != want {
					t.Fatalf("CAS(%#x:%#x, old %#x:%#x, new %#x:%#x) = %v, pair %#x:%#x; want %v, %#x:%#x",
						tc.lo, tc.hi, tc.oldLo, tc.oldHi, tc.newLo, tc.newHi, got, ps[1].Lo, ps[1].Hi, tc.want, want.Lo, want.Hi)
				}
				if ps[0] != (asm.Pair{Lo: 0xa0, Hi: 0xa1}) || ps[2] != (asm.Pair{Lo: 0xc0, Hi: 0xc1}) {
					t.Fatalf("neighbours changed: %+v %+v", ps[0], ps[2])
				}
				if lo, hi := im.load(&ps[1]); lo != want.Lo || hi != want.Hi {
					t.Fatalf("Load after CAS = %#x:%#x, want %#x:%#x", lo, hi, want.Lo, want.Hi)
				}
			})
		}
	}
}

func TestLoadTable(t *testing.T) {
	for _, v := range []asm.Pair{{}, {Lo: 1}, {Hi: 1}, {Lo: ^uint64(0), Hi: ^uint64(0)}, {Lo: 0x0123456789abcdef, Hi: 0xfedcba9876543210}} {
		for _, im := range impls() {
			ps := asm.MakePairs(1)
			ps[0] = v
			lo, hi := im.load(&ps[0])
			if lo != v.Lo || hi != v.Hi || ps[0] != v {
				t.Errorf("%s: Load of %#x:%#x = %#x:%#x, pair after %#x:%#x", im.name, v.Lo, v.Hi, lo, hi, ps[0].Lo, ps[0].Hi)
			}
		}
	}
}

// TestImplementationsAgree runs one random script of operations on every
// implementation and requires the same results and the same memory.
func TestImplementationsAgree(t *testing.T) {
	list := impls()
	if len(list) < 2 {
		t.Fatal("fewer than two implementations")
	}
	pairs := make([][]asm.Pair, len(list))
	for i := range pairs {
		pairs[i] = asm.MakePairs(4)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	small := func() uint64 { return uint64(rng.IntN(3)) } // few values: many swaps succeed
	for step := range 20000 {
		k := rng.IntN(4)
		cur := pairs[0][k]
		oldLo, oldHi := small(), small()
		switch rng.IntN(3) {
		case 0:
			oldLo, oldHi = cur.Lo, cur.Hi
		case 1:
			oldLo = cur.Lo
		}
		newLo, newHi := small(), small()
		if rng.IntN(8) == 0 {
			newLo, newHi = rng.Uint64(), rng.Uint64()
		}
		want := list[0].cas(&pairs[0][k], oldLo, oldHi, newLo, newHi)
		wantLo, wantHi := list[0].load(&pairs[0][k])
		for i, im := range list[1:] {
			got := im.cas(&pairs[i+1][k], oldLo, oldHi, newLo, newHi)
			lo, hi := im.load(&pairs[i+1][k])
			if got != want || lo != wantLo || hi != wantHi {
				t.Fatalf("step %d: %s: CAS(%#x:%#x -> %#x:%#x) = %v, pair %#x:%#x; %s: %v, %#x:%#x",
					step, im.name, oldLo, oldHi, newLo, newHi, got, lo, hi, list[0].name, want, wantLo, wantHi)
			}
		}
	}
	for i := range list[1:] {
		for k := range pairs[0] {
			if pairs[i+1][k] != pairs[0][k] {
				t.Fatalf("pair %d: %s has %+v, %s has %+v", k, list[i+1].name, pairs[i+1][k], list[0].name, pairs[0][k])
			}
		}
	}
}

// mix is the multiplier that ties the halves together in TestConcurrent.
const mix = 0x9e3779b97f4a7c15

// TestConcurrent has goroutines increment a counter kept in both halves of
// a pair: the pair is always (n, n*mix). A torn read, a lost update or a
// half-applied swap breaks the equation or the final count.
func TestConcurrent(t *testing.T) {
	goroutines, perG := 8, 20000
	if testing.Short() {
		perG = 2000
	}
	for _, im := range impls() {
		if im.local {
			continue // atomic against nothing on other threads, by design
		}
		t.Run(im.name, func(t *testing.T) {
			p := &asm.MakePairs(1)[0]
			var failed, torn atomic.Uint64
			var wg sync.WaitGroup
			start := make(chan struct{}) // released together, so that they contend
			for range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for range perG {
						for {
							lo, hi := im.load(p)
							if hi != lo*mix {
								torn.Add(1)
							}
							if im.cas(p, lo, lo*mix, lo+1, (lo+1)*mix) {
								break
							}
							failed.Add(1)
						}
					}
				}()
			}
			close(start)
			wg.Wait()
			want := uint64(goroutines * perG)
			if p.Lo != want || p.Hi != want*mix || torn.Load() != 0 {
				t.Fatalf("pair %d:%#x, want %d:%#x; %d torn loads", p.Lo, p.Hi, want, want*mix, torn.Load())
			}
			t.Logf("%d increments, %d failed CAS", want, failed.Load())
		})
	}
}

// misalignedPair returns a pointer 8 bytes into an aligned pair: inside one
// allocation, but not 16-byte aligned.
func misalignedPair() (*asm.Pair, []asm.Pair) {
	ps := asm.MakePairs(2)
	ps[0] = asm.Pair{Lo: 1, Hi: 2}
	ps[1] = asm.Pair{Lo: 3, Hi: 4}
	return (*asm.Pair)(unsafe.Add(unsafe.Pointer(&ps[0]), 8)), ps
}

func TestMisalignedPanics(t *testing.T) {
	const want = "asm: 128-bit operation on an address that is not 16-byte aligned"
	ops := map[string]func(p *asm.Pair){
		"CompareAndSwap":      func(p *asm.Pair) { asm.CompareAndSwap(p, 2, 3, 5, 6) },
		"CompareAndSwapLocal": func(p *asm.Pair) { asm.CompareAndSwapLocal(p, 2, 3, 5, 6) },
		"Load":                func(p *asm.Pair) { asm.Load(p) },
	}
	for _, forced := range []bool{false, true} {
		for name, op := range ops {
			t.Run(fmt.Sprintf("%s/forced=%v", name, forced), func(t *testing.T) {
				forceNoDCAS(t, forced)
				p, ps := misalignedPair()
				if asm.Aligned(p) {
					t.Fatal("Aligned() of a misaligned pair")
				}
				var got any
				func() {
					defer func() { got = recover() }()
					op(p)
				}()
				if got != want {
					t.Fatalf("panic value %q, want %q", got, want)
				}
				if ps[0] != (asm.Pair{Lo: 1, Hi: 2}) || ps[1] != (asm.Pair{Lo: 3, Hi: 4}) {
					t.Fatalf("memory changed: %+v", ps)
				}
			})
		}
	}
}

func TestMakePairs(t *testing.T) {
	for n := range 9 {
		ps := asm.MakePairs(n)
		if len(ps) != n || cap(ps) != n {
			t.Fatalf("MakePairs(%d): len %d cap %d", n, len(ps), cap(ps))
		}
		for i := range ps {
			if !asm.Aligned(&ps[i]) || ps[i] != (asm.Pair{}) {
				t.Fatalf("MakePairs(%d)[%d] at %p = %+v: want aligned and zero", n, i, &ps[i], ps[i])
			}
		}
	}
}
