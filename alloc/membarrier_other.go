//go:build !linux

package alloc

// Without membarrier the owner side of localLock fences itself.
var ownerFence = true

func asymmetricFence() {}
