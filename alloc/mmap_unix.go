//go:build unix

package alloc

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysReserve maps n bytes of zeroed, readable and writable anonymous memory
// aligned to align (a power of two), without reserving swap.
func sysReserve(n, align uintptr) (uintptr, error) {
	p, err := unix.MmapPtr(-1, 0, nil, n+align, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return 0, err
	}
	base := uintptr(p)
	start := (base + align - 1) &^ (align - 1)
	if head := start - base; head > 0 {
		unix.MunmapPtr(p, head)
	}
	if tail := base + n + align - (start + n); tail > 0 {
		unix.MunmapPtr(ptr(start+n), tail)
	}
	return start, nil
}

// sysRelease gives the pages of [a, a+n) back to the OS; the range stays
// mapped and reads as zeros afterwards (MADV_DONTNEED on anonymous memory).
func sysRelease(a, n uintptr) {
	unix.Madvise(unsafe.Slice((*byte)(ptr(a)), n), unix.MADV_DONTNEED)
}

// sysGuard maps one inaccessible page: the address that Malloc(0) returns.
func sysGuard() uintptr {
	p, err := unix.MmapPtr(-1, 0, nil, pageSize, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		panic("alloc: cannot map the zero-size guard page: " + err.Error())
	}
	return uintptr(p)
}

// releaseZeroes says whether released memory reads as zeros.
const releaseZeroes = true
