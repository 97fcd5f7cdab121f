package alloc

import (
	"sync/atomic"
	"unsafe"

	"github.com/goslub/slub/asm"
)

// pairSlot holds a double-word pair (a slab's freelist and counters, a
// P's freelist and tid) at a 16-byte-aligned address wherever the slot
// lies. Go aligns no type to 16 bytes: whether new(T) returns a
// 16-byte-aligned address depends on T's size class and on the header the
// Go heap puts before larger pointerful objects, and on 32-bit platforms
// a uint64 is only 4-byte aligned. A slot is 8-byte aligned on every
// platform (it holds a 64-bit atomic, which the compiler aligns), so its
// three words always hold a 16-byte-aligned pair, at offset 0 or 8.
//
// Where the pair sits depends on the slot's address, so a slot must not be
// copied: it lives in structs on the Go heap (slab, kmemCacheCPU), which
// never move.
type pairSlot struct {
	_ [0]atomic.Uint64
	w [3]uint64
}

// get returns the slot's pair: an AND and an ADD on the slot's address.
func (p *pairSlot) get() *asm.Pair {
	return (*asm.Pair)(unsafe.Add(unsafe.Pointer(p), uintptr(unsafe.Pointer(p))&8))
}
