package alloc

import (
	"strings"
	"testing"
	"unsafe"
)

type point struct {
	X, Y  int64
	Tag   [5]byte
	Flags uint16
}

type withString struct {
	N    int
	Name string
}

type nested struct {
	A [3]struct {
		B int
		C *int
	}
}

func TestTypedRefusesPointers(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{newTypedErr[*int](), "*int is a ptr"},
		{newTypedErr[string](), "string is a string"},
		{newTypedErr[[]byte](), "is a slice"},
		{newTypedErr[map[int]int](), "is a map"},
		{newTypedErr[chan int](), "is a chan"},
		{newTypedErr[func()](), "is a func"},
		{newTypedErr[any](), "is a interface"},
		{newTypedErr[unsafe.Pointer](), "is a unsafe.Pointer"},
		{newTypedErr[withString](), "withString.Name is a string"},
		{newTypedErr[nested](), ".A[0].C is a ptr"},
		{newTypedErr[[2]*byte](), "[0] is a ptr"},
	} {
		if tc.err == nil {
			t.Errorf("want an error containing %q", tc.want)
			continue
		}
		msg := tc.err.Error()
		if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "typed-refuse") || !strings.Contains(msg, "Go pointers") {
			t.Errorf("error %q, want it to name the cache and contain %q", msg, tc.want)
		}
	}
	// Pointer-free types, including empty ones, are fine.
	for _, err := range []error{newTypedErr[point](), newTypedErr[[0]*int](), newTypedErr[struct{}](), newTypedErr[[4]uintptr]()} {
		if err != nil {
			t.Error(err)
		}
	}
}

func newTypedErr[T any]() error {
	tc, err := NewTyped[T]("typed-refuse", Config{})
	if err == nil {
		tc.Cache().Destroy()
	}
	return err
}

func TestTyped(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		tc, err := NewTyped[point]("points", cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := tc.Cache()
		if c.Name() != "points" || c.ObjectSize() != int(unsafe.Sizeof(point{})) {
			t.Errorf("cache %s of %d bytes", c.Name(), c.ObjectSize())
		}
		var ps []*point
		for i := 0; i < 500; i++ {
			p := tc.New()
			if p == nil {
				t.Fatal("New returned nil")
			}
			if *p != (point{}) {
				t.Fatalf("New returned %+v, not a zero value", *p)
			}
			if uintptr(unsafe.Pointer(p))%unsafe.Alignof(point{}) != 0 {
				t.Fatalf("%p misaligned", p)
			}
			p.X, p.Y, p.Tag[4], p.Flags = int64(i), -int64(i), byte(i), 0xffff
			ps = append(ps, p)
		}
		for i, p := range ps {
			if p.X != int64(i) || p.Y != -int64(i) || p.Tag[4] != byte(i) {
				t.Fatalf("point %d is %+v", i, *p)
			}
		}
		for _, p := range ps[:250] {
			tc.Free(p)
		}
		for i := 0; i < 250; i++ { // reused objects are zeroed again
			p := tc.New()
			if *p != (point{}) {
				t.Fatalf("reused New returned %+v", *p)
			}
			ps[i] = p
		}
		for _, p := range ps {
			tc.Free(p)
		}
		tc.Free(nil)
		mustValidate(t, c)
		mustDestroy(t, c)
	})
	// A typed cache with a constructor keeps the constructed state.
	tc, err := NewTyped[point]("ctor-points", Config{Ctor: func(p unsafe.Pointer) { (*point)(p).Flags = 7 }})
	if err != nil {
		t.Fatal(err)
	}
	p := tc.New()
	if p.Flags != 7 {
		t.Errorf("constructed Flags %d, want 7", p.Flags)
	}
	tc.Free(p)
	mustDestroy(t, tc.Cache())
	// Zero-size types get one byte.
	ez, err := NewTyped[struct{}]("empty", Config{})
	if err != nil {
		t.Fatal(err)
	}
	e1, e2 := ez.New(), ez.New()
	if e1 == nil || e2 == nil || e1 == e2 {
		t.Error("zero-size New")
	}
	ez.Free(e1)
	ez.Free(e2)
	mustDestroy(t, ez.Cache())
	if _, err := NewTyped[point]("", Config{}); err == nil {
		t.Error("NewTyped with an empty name succeeded")
	}
}
