//go:build race

package asm

import (
	"runtime"
	"unsafe"
)

// The race detector does not see the hardware instruction synchronize. These
// annotations make it behave like a sync/atomic operation on the pair's
// first word: a compare-and-swap publishes what the caller wrote before it
// and sees what earlier operations on the pair published.

func raceRelease(p *Pair) { runtime.RaceReleaseMerge(unsafe.Pointer(p)) }

func raceAcquire(p *Pair) { runtime.RaceAcquire(unsafe.Pointer(p)) }
