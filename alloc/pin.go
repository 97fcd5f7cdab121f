package alloc

import (
	"unsafe"
	_ "unsafe" // for go:linkname
)

// procPin disables preemption of the calling goroutine and returns the id of
// the P it runs on, like preempt_disable plus smp_processor_id. A pinned
// section must be short and must never block, allocate from the OS, call a
// trace hook or user code: the scheduler cannot run anything else on that P
// until procUnpin.
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// ptr turns an address of off-heap memory into an unsafe.Pointer. The
// allocator keeps object addresses as uintptr (the garbage collector must not
// scan sheaves and freelists); only the public API hands out unsafe.Pointer.
func ptr(a uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&a))
}

// loadWord and storeWord read and write the word at address a of slab memory.
func loadWord(a uintptr) uintptr { return *(*uintptr)(ptr(a)) }

func storeWord(a, v uintptr) { *(*uintptr)(ptr(a)) = v }
