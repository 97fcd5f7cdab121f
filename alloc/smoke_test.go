package alloc

import (
	"testing"
	"unsafe"
)

func TestSmokeAllocFree(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "smoke", 64, cfg)
		seen := map[uintptr]bool{}
		var objs []unsafe.Pointer
		for i := 0; i < 5000; i++ {
			p := c.Alloc()
			if p == nil {
				t.Fatal("nil")
			}
			if seen[uintptr(p)] {
				t.Fatalf("handed out twice: %p", p)
			}
			seen[uintptr(p)] = true
			*(*uint64)(p) = uint64(i)
			objs = append(objs, p)
		}
		mustValidate(t, c)
		for i, p := range objs {
			if *(*uint64)(p) != uint64(i) {
				t.Fatal("corrupt")
			}
			c.Free(p)
		}
		mustValidate(t, c)
		st := c.Stats()
		if st.ActiveObjects != 0 {
			t.Fatalf("active %d", st.ActiveObjects)
		}
		c.Shrink()
		if st := c.Stats(); st.Slabs != 0 {
			t.Fatalf("slabs after shrink %d", st.Slabs)
		}
		mustDestroy(t, c)
	})
}
