//go:build !race

package bench

// raceEnabled reports whether this is a race-detector build.
const raceEnabled = false
