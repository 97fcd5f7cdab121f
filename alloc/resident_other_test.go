//go:build !linux

package alloc

// residentPages cannot tell outside Linux.
func residentPages(a uintptr, n int) (resident int, ok bool) { return 0, false }
