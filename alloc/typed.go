package alloc

import (
	"fmt"
	"reflect"
	"unsafe"
)

// Typed is a cache of values of type T, which must hold no Go pointers: the
// garbage collector does not see off-heap memory, so a pointer stored there
// would not keep its target alive.
type Typed[T any] struct {
	c *Cache
}

// NewTyped creates a cache for T. It returns an error if T holds Go pointers
// (pointers, strings, slices, maps, channels, funcs, interfaces).
func NewTyped[T any](name string, cfg Config) (*Typed[T], error) {
	t := reflect.TypeFor[T]()
	if path, ok := pointerPath(t, t.String()); ok {
		return nil, fmt.Errorf("alloc: NewTyped %s: %s holds Go pointers (%s); the garbage collector cannot see them off-heap", name, t, path)
	}
	var zero T
	if cfg.Align == 0 {
		cfg.Align = int(unsafe.Alignof(zero))
	}
	c, err := NewCache(name, max(int(unsafe.Sizeof(zero)), 1), cfg)
	if err != nil {
		return nil, err
	}
	return &Typed[T]{c: c}, nil
}

// pointerPath finds a pointerful part of t and names it.
func pointerPath(t reflect.Type, path string) (string, bool) {
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice,
		reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
		return path + " is a " + t.Kind().String(), true
	case reflect.Array:
		if t.Len() == 0 {
			return "", false
		}
		return pointerPath(t.Elem(), path+"[0]")
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if p, ok := pointerPath(f.Type, path+"."+f.Name); ok {
				return p, true
			}
		}
	}
	return "", false
}

// New returns a new T (zeroed unless the cache has a constructor), or nil
// when memory is exhausted.
func (t *Typed[T]) New() *T {
	t.checkMade()
	p := t.c.Alloc()
	if p == nil {
		return nil
	}
	if t.c.ctor == nil {
		clear(unsafe.Slice((*byte)(p), t.c.objectSize))
	}
	return (*T)(p)
}

// Free frees a T that New returned.
func (t *Typed[T]) Free(p *T) {
	t.checkMade()
	t.c.Free(unsafe.Pointer(p))
}

// Cache returns the underlying cache (for Stats, Shrink, Validate, Destroy).
func (t *Typed[T]) Cache() *Cache {
	t.checkMade()
	return t.c
}

// checkMade panics for a nil Typed or one NewTyped did not make.
func (t *Typed[T]) checkMade() {
	if t == nil || t.c == nil {
		panic(fmt.Sprintf("alloc: a nil or zero Typed[%s]: make one with NewTyped", reflect.TypeFor[T]()))
	}
}
