//go:build race

package alloc

// raceEnabled scales the stress tests down under the race detector.
const raceEnabled = true
