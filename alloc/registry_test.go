package alloc

import (
	"slices"
	"sync"
	"testing"
)

// indexOf returns where c is in Caches(), or -1.
func indexOf(c *Cache) int { return slices.Index(Caches(), c) }

// A cache is in the registry from NewCache until a successful Destroy; a
// heap's caches from NewHeap until the heap's Destroy, in creation order.
func TestRegistry(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		a := mustCache(t, "reg-a", 32, cfg)
		h, err := NewHeap(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b := mustCache(t, "reg-b", 48, cfg)
		ia, ib := indexOf(a), indexOf(b)
		if ia < 0 || ib < 0 {
			t.Fatalf("new caches not registered: at %d and %d", ia, ib)
		}
		prev := ia
		for _, hc := range h.Caches() {
			i := indexOf(hc)
			if i <= prev || i >= ib {
				t.Fatalf("%s at %d: not between %d and %d in creation order", hc.Name(), i, prev, ib)
			}
			prev = i
			if hc.Heap() != h {
				t.Errorf("%s: Heap() = %p, want %p", hc.Name(), hc.Heap(), h)
			}
		}
		if a.Heap() != nil {
			t.Errorf("a standalone cache has heap %p", a.Heap())
		}

		p := a.Alloc()
		if a.Destroy() == nil {
			t.Fatal("Destroy with an object allocated succeeded")
		}
		if indexOf(a) < 0 {
			t.Error("a failed Destroy removed the cache from the registry")
		}
		a.Free(p)
		mustFinish(t, a)
		if indexOf(a) >= 0 {
			t.Error("a destroyed cache is still registered")
		}
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
		for _, hc := range h.Caches() {
			if indexOf(hc) >= 0 {
				t.Errorf("%s of a destroyed heap is still registered", hc.Name())
			}
		}
		mustDestroy(t, b)
	})
}

// A failed NewCache or NewHeap registers nothing.
func TestRegistryFailedCreate(t *testing.T) {
	n := len(Caches())
	if _, err := NewCache("bad", -1, Config{}); err == nil {
		t.Fatal("NewCache of size -1 succeeded")
	}
	if _, err := NewHeap(Config{Align: 3}); err == nil {
		t.Fatal("NewHeap with alignment 3 succeeded")
	}
	if got := len(Caches()); got != n {
		t.Errorf("%d caches registered after failed creations, want %d", got, n)
	}
}

// Caches may run while other goroutines create and destroy caches.
func TestRegistryConcurrent(t *testing.T) {
	var reader, churn sync.WaitGroup
	stop := make(chan struct{})
	reader.Add(1)
	go func() {
		defer reader.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, c := range Caches() {
				_ = c.Name()
			}
		}
	}()
	for range 4 {
		churn.Add(1)
		go func() {
			defer churn.Done()
			for range 50 {
				c, err := NewCache("reg-churn", 16, Config{})
				if err != nil {
					t.Error(err)
					return
				}
				if indexOf(c) < 0 {
					t.Error("a new cache is not registered")
				}
				if err := c.Destroy(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	churn.Wait()
	close(stop)
	reader.Wait()
}
