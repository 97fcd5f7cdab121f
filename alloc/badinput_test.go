package alloc

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// rejects checks that f panics with a message naming the cache and the
// address, and that the cache is exactly as it was: same stats, still valid.
func rejects(t *testing.T, c *Cache, a unsafe.Pointer, f func(), why ...string) {
	t.Helper()
	before := c.Stats()
	msg := mustPanic(t, f)
	wantContains(t, msg, c.Name(), hexAddr(a))
	wantContains(t, msg, why...)
	if after := c.Stats(); !reflect.DeepEqual(before, after) {
		t.Errorf("a rejected call changed the cache:\nbefore %+v\nafter  %+v", before, after)
	}
	mustValidate(t, c)
}

func TestFreeBadPointers(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "victim", 48, cfg)
		other := mustCache(t, "bystander", 48, cfg)
		h := mustHeap(t, cfg)
		objs := allocN(t, c, 10)
		theirs := other.Alloc()
		large := h.Malloc(3 * pageSize)
		var goMem [64]byte
		cases := []struct {
			name string
			p    unsafe.Pointer
			why  string
		}{
			{"go-heap", unsafe.Pointer(&goMem[8]), "not allocated by this allocator"},
			{"guard", h.Malloc(0), "not allocated by this allocator"},
			{"interior", ptr(uintptr(objs[3]) + 16), "not the start of an object"},
			{"misaligned", ptr(uintptr(objs[4]) + 1), "not the start of an object"},
			{"last-byte", ptr(uintptr(objs[5]) + 47), "not the start of an object"},
			{"other-cache", theirs, "belongs to cache bystander"},
			{"large", large, "large heap allocation"},
		}
		// Past the last object of the slab, in its tail: not an object.
		s := lookupSlab(uintptr(objs[0]))
		if tail := s.start + uintptr(s.npages)*pageSize - 8; tail >= s.end {
			cases = append(cases, struct {
				name string
				p    unsafe.Pointer
				why  string
			}{"slab-tail", ptr(tail), "not the start of an object"})
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				rejects(t, c, tc.p, func() { c.Free(tc.p) }, "Free", tc.why)
				rejects(t, c, tc.p, func() { c.FreeNoLock(tc.p) }, "FreeNoLock", tc.why)
				rejects(t, c, tc.p, func() { c.FreeBulk([]unsafe.Pointer{objs[0], tc.p}) }, "FreeBulk", tc.why)
			})
		}
		if got := activeObjects(c); got != int64(len(objs)) {
			t.Errorf("ActiveObjects %d, want %d", got, len(objs))
		}
		freeAll(c, objs)
		other.Free(theirs)
		h.Free(large)
		mustValidate(t, c)
		mustDestroy(t, c)
		mustDestroy(t, other)
		mustDestroyHeap(t, h)
	})
}

// The cheap double frees: the object is already on top of the P's main
// sheaf, or at the head of the cpu freelist or of its slab's freelist.
func TestDoubleFree(t *testing.T) {
	withProcs(t, 1) // the second free must run on the P of the first
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "twice", 64, cfg)
		keep := allocN(t, c, 5)
		p := c.Alloc()
		c.Free(p)
		rejects(t, c, p, func() { c.Free(p) }, "double free")
		if slices.Contains(cpuSlabDesigns, cfg.Design) {
			// An object of a slab that is no longer the cpu slab goes to its
			// slab's freelist: freeing it again is caught there.
			old := allocN(t, c, c.objsPerSlab) // moves on to a new cpu slab
			cc, _ := c.thisCPU()
			var q unsafe.Pointer
			for _, o := range append(old, keep...) {
				if lookupSlab(uintptr(o)) != cc.slab.Load() {
					q = o
					break
				}
			}
			if q == nil {
				t.Fatal("no object outside the cpu slab")
			}
			c.Free(q)
			if lookupSlab(uintptr(q)).freelist() != uintptr(q) {
				t.Fatal("the freed object is not at the head of its slab's freelist")
			}
			rejects(t, c, q, func() { c.Free(q) }, "double free")
			for _, o := range old {
				if o != q {
					c.Free(o)
				}
			}
			keep = filterOut(keep, q)
		}
		freeAll(c, keep)
		if n := activeObjects(c); n != 0 {
			t.Errorf("ActiveObjects %d", n)
		}
		mustDestroy(t, c)
	})
}

func filterOut(ps []unsafe.Pointer, q unsafe.Pointer) []unsafe.Pointer {
	var out []unsafe.Pointer
	for _, p := range ps {
		if p != q {
			out = append(out, p)
		}
	}
	return out
}

// Destroy with live objects frees nothing, names the cache and the objects'
// addresses, and leaves the cache usable.
func TestDestroyWithLiveObjects(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "leaky", 32, cfg)
		objs := allocN(t, c, 3)
		err := c.Destroy()
		if err == nil {
			t.Fatal("Destroy with live objects succeeded")
		}
		wantContains(t, err.Error(), "leaky", "3 objects still allocated")
		for _, p := range objs {
			wantContains(t, err.Error(), hexAddr(p))
		}
		// Still usable.
		objs = append(objs, allocN(t, c, 40)...)
		mustValidate(t, c)
		err = c.Destroy()
		if err == nil {
			t.Fatal("Destroy with live objects succeeded")
		}
		wantContains(t, err.Error(), fmt.Sprintf("%d objects still allocated", len(objs)), fmt.Sprintf("(and %d more)", len(objs)-16))
		if n := strings.Count(err.Error(), " 0x"); n != 16 {
			t.Errorf("error lists %d addresses, want 16: %v", n, err)
		}
		freeAll(c, objs)
		mustDestroy(t, c)
	})
}
