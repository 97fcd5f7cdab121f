package alloc

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// The classic kfree_rcu batching (kernel/rcu/tree.c before sheaves, and
// its fallback since): each P collects the objects FreeRCU frees in a
// page-sized batch of pointers (kvfree_rcu_bulk_data); a full batch is
// handed to the grace-period domain, and when its grace period has ended
// its objects are freed through the cache's normal bulk free path
// (kfree_bulk, kmem_cache_free_bulk). The cpu slab designs and debug
// caches use it for every FreeRCU, Sheaves and Hybrid when no rcu_free
// sheaf can take an object (FREE_RCU_SHEAF_FAIL).
//
// A P's batch is protected by a localLock of its own, taken pinned as the
// sheaves' lock is: the kernel's kfree_rcu takes its per-CPU lock with
// interrupts off in every configuration, so CPUSlabLocked pins here too.

// rcuBatchCap is KVFREE_BULK_MAX_ENTR: the pointers that fit a page beside
// the batch's 32-byte header.
const rcuBatchCap = (pageSize - 32) / 8

// rcuBatch is one batch of objects freed with FreeRCU.
type rcuBatch struct {
	head  rcuHead // first: rcuBatchDone converts the head's pointer
	cache *Cache
	next  *rcuBatch // a flush's list of taken batches
	n     int
	objs  [rcuBatchCap]uintptr
	snaps [][]byte // debug caches with the P letter: each object's bytes at FreeRCU (rcu_debug.go)
}

// rcuBatchPerP is one P's batch slot. Only the P's owner, pinned and
// holding lock, or a remote locker touches batch and freed.
type rcuBatchPerP struct {
	lock  localLock
	batch *rcuBatch
	_     [0]atomic.Uint64 // freed is 8-byte aligned on every platform
	freed uint64           // FREE_RCU_BATCH counted on this P; read atomically
	_     [64]byte
}

// rcuBatchArray is a cache's batch slots, indexed by P id, made for
// max(GOMAXPROCS, NumCPU) Ps on the first FreeRCU that needs one. It never
// grows (growing would wait on a lock): a P beyond it queues its objects
// one by one.
type rcuBatchArray struct {
	p     []rcuBatchPerP
	locks []*localLock
}

// rcuBatches returns the cache's batch slots, making them if need be
// without a lock.
func (c *Cache) rcuBatches() *rcuBatchArray {
	if a := c.rcu.batches.Load(); a != nil {
		return a
	}
	n := max(gomaxprocs(), runtime.NumCPU())
	a := &rcuBatchArray{p: make([]rcuBatchPerP, n), locks: make([]*localLock, n)}
	for i := range a.p {
		a.locks[i] = &a.p[i].lock
	}
	if c.rcu.batches.CompareAndSwap(nil, a) {
		return a
	}
	return c.rcu.batches.Load()
}

// batchFreeRCU puts a (with a debug cache's copy of it, snap) on this P's
// batch, taking one from the cache's pool when the P has none,
// and hands the batch over when it fills. A P beyond the slots, or one a
// remote locker holds, queues a on its own. The cheap double-free checks
// (a on top of the batch, or of the freelist of its slab s, which debug
// caches leave nil) panic before anything changes.
func (c *Cache) batchFreeRCU(s *slab, a uintptr, snap []byte) {
	if s != nil && s.freelist() == a {
		c.doubleFree("FreeRCU", a)
	}
	arr := c.rcuBatches()
	var fresh *rcuBatch
	for {
		pid := procPin()
		if pid >= len(arr.p) {
			procUnpin()
			break
		}
		p := &arr.p[pid]
		if !p.lock.tryLock() {
			procUnpin()
			break
		}
		b := p.batch
		if b == nil {
			if fresh == nil {
				p.lock.unlock()
				procUnpin()
				fresh = c.getRCUBatch()
				continue
			}
			b, fresh = fresh, nil
			p.batch = b
		}
		if b.n > 0 && b.objs[b.n-1] == a {
			p.lock.unlock()
			procUnpin()
			c.putRCUBatch(fresh)
			c.doubleFree("FreeRCU", a)
		}
		b.objs[b.n] = a
		if snap != nil {
			b.snaps[b.n] = snap
		}
		b.n++
		pstat(&p.freed)
		full := b.n == len(b.objs)
		if full {
			p.batch = nil
		}
		p.lock.unlock()
		procUnpin()
		c.putRCUBatch(fresh)
		if full {
			c.queueRCUBatch(b)
		}
		return
	}
	c.putRCUBatch(fresh)
	b := c.getRCUBatch()
	b.objs[0], b.n = a, 1
	if snap != nil {
		b.snaps[0] = snap
	}
	c.stat(FreeRCUBatch)
	c.queueRCUBatch(b)
}

// getRCUBatch returns an empty batch of the cache's pool, or a new one.
// The pool is the kernel's cache of pages for kfree_rcu batches (its
// shrinker trims it; the garbage collector trims this one): batches come
// back in bursts, a grace period's worth at a time, and are needed again
// as fast.
func (c *Cache) getRCUBatch() *rcuBatch {
	if b, _ := c.rcu.batchPool.Get().(*rcuBatch); b != nil {
		return b
	}
	b := &rcuBatch{cache: c}
	if c.isDebug() && c.debug&DebugPoison != 0 {
		b.snaps = make([][]byte, rcuBatchCap)
	}
	return b
}

// putRCUBatch returns an empty batch to the cache's pool; nil is a no-op.
func (c *Cache) putRCUBatch(b *rcuBatch) {
	if b != nil {
		c.rcu.batchPool.Put(b)
	}
}

// queueRCUBatch hands a batch that left its P to the domain. Its objects
// count as queued before the hand-over.
func (c *Cache) queueRCUBatch(b *rcuBatch) { c.handOverRCU(&b.head, b.n, rcuBatchDone) }

// handOverRCU hands the n objects that h heads (an rcu_free sheaf, a
// kfree_rcu batch) to the domain, with done to run after the grace
// period. They count as queued before the hand-over (RCU_QUEUE).
func (c *Cache) handOverRCU(h *rcuHead, n int, done func(*rcuHead)) {
	c.rcu.queued.Add(int64(n))
	c.stat(RCUQueue)
	c.rcuDomain().call(h, n, done)
	c.trace(EventRCUQueue, 0, n)
}

// rcuBatchDone runs on the domain's goroutine once the batch's grace
// period has ended: its objects are freed through the cache's normal bulk
// free path (for a debug cache, checked first), and the batch goes back
// to the pool.
func rcuBatchDone(h *rcuHead) {
	b := (*rcuBatch)(unsafe.Pointer(h))
	c := b.cache
	n := b.n
	objs := b.objs[:n]
	c.rcu.queued.Add(-int64(n))
	c.statAdd(RCUFree, n)
	if c.isDebug() {
		c.debugFreeRCUDone(objs, b.snaps)
		clear(b.snaps)
	} else {
		c.pp.freeBulk(c, objs)
	}
	clear(objs)
	b.n = 0
	c.trace(EventRCUDone, 0, n)
	c.putRCUBatch(b)
}

// queueRCUBatches hands every P's kfree_rcu batch to the domain, as the
// flushes of flushAll do (Shrink, Destroy, and reclaim, where the kernel's
// kfree_rcu shrinker drains its batches too). On a closed domain the
// batches stay for Destroy.
func (c *Cache) queueRCUBatches() {
	if r := c.rcu.domain.Load(); r == nil || r.closed.Load() {
		return
	}
	c.flushMu.Lock()
	list := c.takeRCUBatches()
	c.flushMu.Unlock()
	for b := list; b != nil; {
		next := b.next
		b.next = nil
		c.queueRCUBatch(b)
		b = next
	}
}
