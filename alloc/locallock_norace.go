//go:build !race

package alloc

// ownerAcquire is a no-op outside race detector builds; see
// locallock_race.go.
func ownerAcquire(*localLock) {}
