//go:build !race

package asm

// No-ops outside race detector builds; see race.go.

func raceRelease(*Pair) {}

func raceAcquire(*Pair) {}
