//go:build windows

package alloc

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// Off-heap memory on Windows: VirtualAlloc, outside the Go heap, so the
// garbage collector neither scans it nor counts it against GOMEMLIMIT, as
// with mmap elsewhere. The memory is committed when it is mapped, so it
// counts against the system's commit limit (Linux maps it MAP_NORESERVE).

// sysReserve maps n bytes of zeroed, readable and writable memory aligned to
// align (a power of two). VirtualFree cannot release part of a mapping, so
// it reserves n+align bytes to find an aligned address, releases them and
// maps n bytes there; if another thread takes the address meanwhile it tries
// again, and in the end keeps the oversized reservation and commits the
// aligned part of it.
func sysReserve(n, align uintptr) (uintptr, error) {
	for try := 0; try < 8; try++ {
		base, err := windows.VirtualAlloc(0, n+align, windows.MEM_RESERVE, windows.PAGE_NOACCESS)
		if err != nil {
			return 0, err
		}
		start := (base + align - 1) &^ (align - 1)
		if err := windows.VirtualFree(base, 0, windows.MEM_RELEASE); err != nil {
			return 0, err
		}
		a, err := windows.VirtualAlloc(start, n, windows.MEM_RESERVE|windows.MEM_COMMIT, windows.PAGE_READWRITE)
		if err == nil && a == start {
			return start, nil
		}
		if err == nil {
			windows.VirtualFree(a, 0, windows.MEM_RELEASE)
		}
	}
	base, err := windows.VirtualAlloc(0, n+align, windows.MEM_RESERVE, windows.PAGE_NOACCESS)
	if err != nil {
		return 0, err
	}
	start := (base + align - 1) &^ (align - 1)
	if _, err := windows.VirtualAlloc(start, n, windows.MEM_COMMIT, windows.PAGE_READWRITE); err != nil {
		windows.VirtualFree(base, 0, windows.MEM_RELEASE)
		return 0, err
	}
	return start, nil
}

// sysRelease tells the OS that the contents of [a, a+n) no longer matter
// (MEM_RESET): it may drop the pages instead of writing them to the paging
// file. The range stays committed and readable, which the CPUSlab fast path
// needs, but unlike MADV_DONTNEED it does not read as zeros afterwards.
func sysRelease(a, n uintptr) {
	windows.VirtualAlloc(a, n, windows.MEM_RESET, windows.PAGE_READWRITE)
}

// sysGuard reserves one inaccessible page: the address that Malloc(0)
// returns.
func sysGuard() uintptr {
	a, err := windows.VirtualAlloc(0, pageSize, windows.MEM_RESERVE, windows.PAGE_NOACCESS)
	if err != nil {
		panic(fmt.Sprintf("alloc: cannot reserve the zero-size guard page: %v", err))
	}
	return a
}

// releaseZeroes says whether released memory reads as zeros: after
// MEM_RESET its contents are undefined.
const releaseZeroes = false
