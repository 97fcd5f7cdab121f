package alloc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Destroy with objects still allocated: an error that errors.Is matches to
// ErrLeak and that keeps its message (the cache name and the address).
func TestErrLeak(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "leaky", 64, cfg)
		p := c.Alloc()
		err := c.Destroy()
		if !errors.Is(err, ErrLeak) {
			t.Fatalf("Destroy = %v, want an error that is ErrLeak", err)
		}
		want := fmt.Sprintf("alloc: leaky: Destroy: 1 objects still allocated: %#x", uintptr(p))
		if err.Error() != want {
			t.Errorf("Destroy error %q, want %q", err, want)
		}
		if errors.Is(err, ErrDestroyed) || errors.Is(err, ErrMemoryLimit) {
			t.Errorf("%v matches another kind", err)
		}
		c.Free(p)
		mustFinish(t, c)

		h, err := NewHeap(cfg)
		if err != nil {
			t.Fatal(err)
		}
		small, large := h.Malloc(10), h.Malloc(3*KmallocMaxCacheSize)
		err = h.Destroy()
		if !errors.Is(err, ErrLeak) {
			t.Fatalf("Heap.Destroy = %v, want an error that is ErrLeak", err)
		}
		for _, s := range []string{"kmalloc-16", fmt.Sprintf("%#x", uintptr(small)), fmt.Sprintf("large allocation of %d bytes at %#x", 3*KmallocMaxCacheSize, uintptr(large))} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Heap.Destroy error %q does not name %q", err, s)
			}
		}
		h.Free(small)
		h.Free(large)
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
	})
}

// Using a destroyed cache panics with an error that is ErrDestroyed.
func TestErrDestroyed(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "gone", 32, cfg)
		mustDestroy(t, c)
		for name, f := range map[string]func(){
			"Validate":     func() { c.Validate() },
			"Shrink":       func() { c.Shrink() },
			"Destroy":      func() { c.Destroy() },
			"PrefillSheaf": func() { c.PrefillSheaf(1) },
		} {
			v := func() (v any) {
				defer func() { v = recover() }()
				f()
				return nil
			}()
			err, ok := v.(error)
			if !ok || !errors.Is(err, ErrDestroyed) {
				t.Errorf("%s after Destroy panicked with %v (%T), want an error that is ErrDestroyed", name, v, v)
				continue
			}
			if want := "alloc: gone: cache used after Destroy"; err.Error() != want {
				t.Errorf("%s: panic %q, want %q", name, err, want)
			}
		}
	})
}

// A prefill that would pass MemoryLimit fails with an error that is
// ErrMemoryLimit; the cache stays usable.
func TestErrMemoryLimit(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		probe := mustCache(t, "probe", 256, cfg)
		slab := int64(probe.slabPages) * pageSize
		perSlab := probe.objsPerSlab
		mustDestroy(t, probe)

		cfg.MemoryLimit = slab
		c := mustCache(t, "limited", 256, cfg)
		sh, err := c.PrefillSheaf(3 * perSlab)
		if sh != nil || !errors.Is(err, ErrMemoryLimit) {
			t.Fatalf("PrefillSheaf past the limit = %v, %v; want an error that is ErrMemoryLimit", sh, err)
		}
		if errors.Is(err, ErrOutOfMemory) {
			t.Errorf("%v is also ErrOutOfMemory", err)
		}
		if !strings.Contains(err.Error(), "alloc: limited: PrefillSheaf(") || !strings.Contains(err.Error(), "memory limit") {
			t.Errorf("error %q lost its message", err)
		}
		p := c.Alloc()
		if p == nil {
			t.Fatal("the cache is not usable after the failed prefill")
		}
		c.Free(p)
		mustFinish(t, c)
	})
}

// noMemoryKind blames the limit only when the limit is what stands in the
// way.
func TestNoMemoryKind(t *testing.T) {
	l := &memLimit{max: 1 << 20}
	l.used.Store(1<<20 - pageSize)
	for _, tc := range []struct {
		l    *memLimit
		need int64
		want error
	}{
		{l, 2 * pageSize, ErrMemoryLimit},
		{l, pageSize, ErrOutOfMemory},
		{&memLimit{}, 1 << 40, ErrOutOfMemory},
	} {
		if got := noMemoryKind(tc.l, tc.need); got != tc.want {
			t.Errorf("noMemoryKind(max %d used %d, need %d) = %v, want %v", tc.l.max, tc.l.used.Load(), tc.need, got, tc.want)
		}
	}
}
