package alloc

import (
	"errors"
	"fmt"
)

// The errors a program can test for with errors.Is. The errors and panic
// values that carry them have messages of their own, naming the cache and
// the addresses; these values only classify them.
var (
	// ErrLeak: Destroy found objects still allocated and freed nothing.
	ErrLeak = errors.New("alloc: objects still allocated")

	// ErrDestroyed: a cache (or a heap) was used after a successful
	// Destroy. It is a programmer error, so it comes as a panic whose value
	// is an error that wraps ErrDestroyed.
	ErrDestroyed = errors.New("alloc: cache used after Destroy")

	// ErrMemoryLimit: an allocation would have taken the slab memory of a
	// cache or heap past its Config.MemoryLimit.
	ErrMemoryLimit = errors.New("alloc: over MemoryLimit")

	// ErrOutOfMemory: an allocation failed for any other reason: the OS
	// refused memory, or failslab fault injection failed it.
	ErrOutOfMemory = errors.New("alloc: out of memory")
)

// kindError is an error with its own message that errors.Is matches to one
// of the values above.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// errorOf returns an error with the formatted message that wraps kind.
func errorOf(kind error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// noMemoryKind says why an allocation of need more bytes of slab memory
// under limit l failed: ErrMemoryLimit when the limit leaves less than that,
// else ErrOutOfMemory.
func noMemoryKind(l *memLimit, need int64) error {
	if l.max > 0 && l.used.Load()+need > l.max {
		return ErrMemoryLimit
	}
	return ErrOutOfMemory
}

// noMemory is noMemoryKind for a cache that could not get a new slab.
func (c *Cache) noMemory() error {
	return noMemoryKind(c.limit, int64(c.slabPages)*pageSize)
}
