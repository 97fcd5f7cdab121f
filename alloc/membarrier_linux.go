package alloc

import (
	"golang.org/x/sys/unix"
)

const (
	membarrierCmdPrivateExpedited         = 8
	membarrierCmdRegisterPrivateExpedited = 16
)

// ownerFence is true when the owner side of localLock must fence itself
// because the process could not register for expedited membarrier.
var ownerFence = !registerMembarrier()

func registerMembarrier() bool {
	_, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdRegisterPrivateExpedited, 0, 0)
	return errno == 0
}

// asymmetricFence makes every store that a thread of this process made
// before now visible to the caller's following loads: membarrier(2) runs a
// full memory barrier on each CPU that runs one of its threads.
func asymmetricFence() {
	if ownerFence {
		return
	}
	_, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdPrivateExpedited, 0, 0)
	if errno != 0 {
		panic("alloc: membarrier failed after registration: " + errno.Error())
	}
}
