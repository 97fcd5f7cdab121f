//go:build unix || windows

package alloc

import (
	"runtime"
	"testing"
)

// The page heap's memory is outside the Go heap: mapping a chunk of it does
// not grow what the runtime counts (and GOMEMLIMIT limits).
func TestOffHeap(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	a, err := sysReserve(chunkSize, chunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if a%chunkSize != 0 {
		t.Errorf("sysReserve(%d, %d) = %#x: not aligned", chunkSize, chunkSize, a)
	}
	b := mem(a, chunkSize)
	for i := 0; i < len(b); i += pageSize {
		if b[i] != 0 {
			t.Fatalf("fresh memory at +%#x reads %#x", i, b[i])
		}
		b[i] = 1
	}
	sysRelease(a, chunkSize)
	runtime.ReadMemStats(&after)
	if grown := int64(after.Sys) - int64(before.Sys); grown > chunkSize/4 {
		t.Errorf("mapping %d bytes off-heap grew runtime.MemStats.Sys by %d", chunkSize, grown)
	}
	b[0] = 2 // released memory stays mapped and writable
	if b[0] != 2 {
		t.Error("released memory does not keep a write")
	}
	sysRelease(a, chunkSize)
}
