package alloc_test

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/goslub/slub/alloc"
)

// ExampleRCU replaces a record in off-heap memory while readers may still
// hold the old one: the writer publishes the new record, waits for a grace
// period, and only then frees the old one.
func ExampleRCU() {
	type config struct{ version, limit int64 }
	cache, err := alloc.NewCache("config", int(unsafe.Sizeof(config{})), alloc.Config{})
	if err != nil {
		panic(err)
	}
	rcu := alloc.NewRCU()
	defer rcu.Close()

	var current atomic.Pointer[config]
	first := (*config)(cache.Alloc())
	*first = config{version: 1, limit: 100}
	current.Store(first)

	read := func() int64 {
		t := rcu.ReadLock()
		defer rcu.ReadUnlock(t)
		return current.Load().limit // the record stays valid until ReadUnlock
	}
	update := func(limit int64) {
		old := current.Load()
		next := (*config)(cache.Alloc())
		*next = config{version: old.version + 1, limit: limit}
		current.Store(next)
		rcu.Synchronize() // every reader that could see old has left
		cache.Free(unsafe.Pointer(old))
	}

	fmt.Println(read())
	update(200)
	fmt.Println(read(), current.Load().version)
	cache.Free(unsafe.Pointer(current.Load()))
	if err := cache.Destroy(); err != nil {
		panic(err)
	}
	// Output:
	// 100
	// 200 2
}
