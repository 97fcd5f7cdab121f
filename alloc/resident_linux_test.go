//go:build linux

package alloc

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentPages asks the kernel (mincore) how many of the n pages at a are
// resident. ok is false where it cannot tell.
func residentPages(a uintptr, n int) (resident int, ok bool) {
	vec := make([]byte, n)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, a, uintptr(n)*pageSize, uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return 0, false
	}
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, true
}
