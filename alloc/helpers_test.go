package alloc

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// Helpers shared by the alloc tests. Tests that change GOMAXPROCS never call
// t.Parallel: the setting is process-wide.

// withProcs sets GOMAXPROCS to n for the rest of the test. With n == 1 every
// goroutine runs on P 0, which makes per-P counters exact.
func withProcs(t testing.TB, n int) {
	t.Helper()
	old := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// counter reads one statistics counter.
func counter(c *Cache, i StatItem) uint64 { return c.Stats().Counters[i] }

// mustPanic runs f and returns the panic message; it fails the test if f
// returns normally.
func mustPanic(t testing.TB, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("no panic")
		}
		msg = fmt.Sprint(r)
	}()
	f()
	return ""
}

// watchdog fails the whole test binary with a dump of every goroutine if
// the test is still running after d, instead of letting a deadlock hang it
// until the go test timeout. Call the returned function when done.
func watchdog(t testing.TB, d time.Duration) (stop func()) {
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		buf := make([]byte, 8<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s: still running after %v (deadlock?); goroutines:\n%s\n", name, d, buf)
		panic(name + ": deadline exceeded")
	})
	return func() { timer.Stop() }
}

// fillPattern writes a pattern derived from the object's address and a tag
// into the first n bytes of p; checkPattern verifies it.
func fillPattern(p unsafe.Pointer, n int, tag byte) {
	b := unsafe.Slice((*byte)(p), n)
	seed := byte(uintptr(p)>>3) ^ tag
	for i := range b {
		b[i] = seed + byte(i)
	}
}

func checkPattern(p unsafe.Pointer, n int, tag byte) error {
	b := unsafe.Slice((*byte)(p), n)
	seed := byte(uintptr(p)>>3) ^ tag
	for i := range b {
		if b[i] != seed+byte(i) {
			return fmt.Errorf("object %#x byte %d is %#x, want %#x", uintptr(p), i, b[i], seed+byte(i))
		}
	}
	return nil
}

// hexAddr formats an address the way panic messages do.
func hexAddr(p unsafe.Pointer) string { return fmt.Sprintf("%#x", uintptr(p)) }

// wantContains fails unless s contains every one of subs.
func wantContains(t testing.TB, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}

// allocN allocates n objects and fails the test on nil.
func allocN(t testing.TB, c *Cache, n int) []unsafe.Pointer {
	t.Helper()
	objs := make([]unsafe.Pointer, n)
	for i := range objs {
		if objs[i] = c.Alloc(); objs[i] == nil {
			t.Fatalf("%s: Alloc %d of %d returned nil", c.Name(), i, n)
		}
	}
	return objs
}

func freeAll(c *Cache, objs []unsafe.Pointer) {
	for _, p := range objs {
		c.Free(p)
	}
}

// activeObjects is Stats().ActiveObjects.
func activeObjects(c *Cache) int64 { return c.Stats().ActiveObjects }
