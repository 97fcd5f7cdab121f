package alloc_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/goslub/slub/alloc"
)

// entry is a node of offHeapMap, in off-heap memory. Its link points to
// off-heap memory too, which the garbage collector ignores, so it may have
// a pointer type; an entry must never point into the Go heap.
type entry struct {
	key, val uint64
	next     atomic.Pointer[entry]
}

// offHeapMap is a hash map whose entries live outside the Go heap. Readers
// look keys up without a lock, inside an RCU read-side section. Writers
// take a mutex, never change an entry that readers can reach (they publish
// a new one instead), and free what they unlink with FreeRCU, which
// reuses the memory only once every reader that might hold it has left.
type offHeapMap struct {
	rcu     *alloc.RCU
	entries *alloc.Cache
	mu      sync.Mutex // serializes writers
	buckets []atomic.Pointer[entry]
}

func newOffHeapMap(nbuckets int) (*offHeapMap, error) {
	rcu := alloc.NewRCU()
	entries, err := alloc.NewCache("map-entries", int(unsafe.Sizeof(entry{})), alloc.Config{RCU: rcu})
	if err != nil {
		rcu.Close()
		return nil, err
	}
	return &offHeapMap{rcu: rcu, entries: entries, buckets: make([]atomic.Pointer[entry], nbuckets)}, nil
}

func (m *offHeapMap) bucket(key uint64) *atomic.Pointer[entry] {
	return &m.buckets[(key*0x9e3779b97f4a7c15)%uint64(len(m.buckets))]
}

// Get is lock-free: an entry it finds stays valid until ReadUnlock.
func (m *offHeapMap) Get(key uint64) (uint64, bool) {
	t := m.rcu.ReadLock()
	defer m.rcu.ReadUnlock(t)
	for e := m.bucket(key).Load(); e != nil; e = e.next.Load() {
		if e.key == key {
			return e.val, true
		}
	}
	return 0, false
}

// Put inserts or replaces key. It returns false when memory is exhausted.
func (m *offHeapMap) Put(key, val uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	link := m.bucket(key)
	for e := link.Load(); e != nil; link, e = &e.next, e.next.Load() {
		if e.key == key {
			n := m.newEntry(key, val, e.next.Load())
			if n == nil {
				return false
			}
			link.Store(n)                        // new readers find n ...
			m.entries.FreeRCU(unsafe.Pointer(e)) // ... and those that hold e keep it
			return true
		}
	}
	head := m.bucket(key)
	n := m.newEntry(key, val, head.Load())
	if n == nil {
		return false
	}
	head.Store(n)
	return true
}

// Delete removes key.
func (m *offHeapMap) Delete(key uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	link := m.bucket(key)
	for e := link.Load(); e != nil; link, e = &e.next, e.next.Load() {
		if e.key == key {
			link.Store(e.next.Load()) // a reader on e still finds the rest
			m.entries.FreeRCU(unsafe.Pointer(e))
			return true
		}
	}
	return false
}

// newEntry makes an entry; the atomic Store that publishes it makes its
// fields visible to the readers that load it.
func (m *offHeapMap) newEntry(key, val uint64, next *entry) *entry {
	e := (*entry)(m.entries.Alloc())
	if e == nil {
		return nil
	}
	e.key, e.val = key, val
	e.next.Store(next)
	return e
}

// Close frees the map; no reader may use it any more. Destroy waits for
// the grace periods of the entries freed with FreeRCU.
func (m *offHeapMap) Close() error {
	for i := range m.buckets {
		for e := m.buckets[i].Swap(nil); e != nil; {
			next := e.next.Load()
			m.entries.Free(unsafe.Pointer(e))
			e = next
		}
	}
	err := m.entries.Destroy()
	m.rcu.Close()
	return err
}

// ExampleCache_FreeRCU is a lock-free hash map in off-heap memory: readers
// on four goroutines look keys up while a writer replaces every entry ten
// times over, and none of them ever sees an entry freed or reused.
func ExampleCache_FreeRCU() {
	m, err := newOffHeapMap(256)
	if err != nil {
		panic(err)
	}
	const keys = 1000
	for k := uint64(0); k < keys; k++ {
		m.Put(k, k)
	}
	var stop atomic.Bool
	var bad atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 0))
			for !stop.Load() {
				k := r.Uint64N(keys)
				if v, ok := m.Get(k); !ok || v%keys != k {
					bad.Add(1)
				}
			}
		}()
	}
	for round := uint64(1); round <= 10; round++ {
		for k := uint64(0); k < keys; k++ {
			m.Put(k, round*keys+k)
		}
	}
	stop.Store(true)
	wg.Wait()
	v, _ := m.Get(7)
	fmt.Println(v, bad.Load())
	m.Delete(7)
	_, ok := m.Get(7)
	fmt.Println(ok)
	if err := m.Close(); err != nil {
		panic(err)
	}
	// Output:
	// 10007 0
	// false
}
