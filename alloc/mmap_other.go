//go:build !unix && !windows

package alloc

import (
	"sync"
	"unsafe"
)

// Without mmap the page heap takes its chunks from the Go heap as
// pointer-free byte slices, which the garbage collector never moves and
// never scans. keep holds them so they stay alive.
var keep struct {
	sync.Mutex
	chunks [][]byte
}

func sysReserve(n, align uintptr) (uintptr, error) {
	b := make([]byte, n+align)
	keep.Lock()
	keep.chunks = append(keep.chunks, b)
	keep.Unlock()
	base := uintptr(unsafe.Pointer(&b[0]))
	return (base + align - 1) &^ (align - 1), nil
}

// sysRelease cannot give memory back here; it zeroes it so released pages
// read as zeros, as they do after MADV_DONTNEED.
func sysRelease(a, n uintptr) {
	clear(unsafe.Slice((*byte)(ptr(a)), n))
}

func sysGuard() uintptr {
	a, _ := sysReserve(pageSize, pageSize)
	return a
}

const releaseZeroes = true
