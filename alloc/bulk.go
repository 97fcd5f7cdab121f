package alloc

import (
	"sync/atomic"
	"unsafe"
)

// bulkChunk bounds the stack buffer the bulk paths convert through.
const bulkChunk = 64

// AllocBulk fills objs with new objects and returns len(objs), or returns 0
// and allocates nothing when memory is exhausted (kmem_cache_alloc_bulk).
// Sheaves: copy from the per-P sheaves, then refill straight from slabs
// without going through a sheaf. CPUSlab: pop the cpu freelist, then the slow
// path per object, as the old kernel did.
func (c *Cache) AllocBulk(objs []unsafe.Pointer) int {
	if len(objs) == 0 || c.injectFailure() {
		return 0
	}
	var buf [bulkChunk]uintptr
	done := 0
	for done < len(objs) {
		n := min(len(objs)-done, bulkChunk)
		got := c.allocBulk(buf[:n])
		for i := 0; i < got; i++ {
			objs[done+i] = ptr(buf[i])
		}
		done += got
		if got < n {
			c.FreeBulk(objs[:done])
			clear(objs[:done])
			return 0
		}
	}
	return len(objs)
}

func (c *Cache) allocBulk(dst []uintptr) int {
	got := 0
	switch c.mode {
	case modeSheaves:
		got = c.pcsAllocBulk(dst)
		if got < len(dst) {
			c.checkLive()
			got += c.refillObjects(dst[got:], len(dst)-got, false)
			if got < len(dst) && c.reclaim() {
				got += c.refillObjects(dst[got:], len(dst)-got, false)
			}
		}
	case modeCPUSlab:
		got = c.cpuAllocBulk(dst)
	default:
		for got < len(dst) {
			a := c.debugAlloc(false)
			if a == 0 {
				break
			}
			dst[got] = a
			got++
		}
	}
	return got
}

// pcsAllocBulk is alloc_from_pcs_bulk: main, then a spare with objects, then
// a full barn sheaf; no refill (that would copy twice).
func (c *Cache) pcsAllocBulk(dst []uintptr) int {
	got := 0
	pid := procPin()
	if pcs := c.pcs.Load(); pid < len(pcs.p) {
		p := &pcs.p[pid]
		if p.lock.tryLock() {
			for got < len(dst) {
				m := p.main
				if m.size == 0 {
					if m = c.replaceEmptyMain(p); m == nil {
						break
					}
				}
				k := min(m.size, len(dst)-got)
				copy(dst[got:got+k], m.objs[m.size-k:m.size])
				m.size -= k
				got += k
			}
			pstatAdd(&p.stat[AllocFastpath], got)
			p.lock.unlock()
		}
	}
	procUnpin()
	return got
}

func (c *Cache) cpuAllocBulk(dst []uintptr) int {
	got := 0
	cc, step := c.thisCPU()
	cc.mu.Lock()
	if s := cc.slab.Load(); s != nil {
		// Take the cpu freelist whole and put back what is left: two CASes
		// instead of one per object. The slab is off the P meanwhile, as
		// for any change of the cpu freelist under the per-P lock.
		cc.slab.Store(nil)
		fl := c.detachCPUFreelist(cc, step)
		for fl != 0 && got < len(dst) {
			dst[got] = fl
			got++
			fl = c.getFP(fl)
		}
		if fl != 0 {
			c.installCPUChain(cc, step, fl)
		}
		cc.slab.Store(s)
	}
	cc.mu.Unlock()
	atomic.AddUint64(&cc.stat[AllocFastpath], uint64(got))
	for got < len(dst) {
		a := c.cpuSlabAllocSlow(false)
		if a == 0 {
			if a = c.cpuReclaimAlloc(); a == 0 {
				break
			}
		}
		dst[got] = a
		got++
	}
	return got
}

// FreeBulk frees every object of objs (kmem_cache_free_bulk). Every pointer
// is checked before anything is freed; nil entries are skipped.
func (c *Cache) FreeBulk(objs []unsafe.Pointer) {
	var last *slab // objects of a bulk free tend to share slabs
	for _, o := range objs {
		a := uintptr(o)
		if a == 0 {
			continue
		}
		s := last
		if s == nil || !s.contains(a) {
			if s = lookupSlab(a); s == nil || s.cache != c {
				c.checkObject("FreeBulk", a) // panics
			}
			last = s
		}
		if !c.validSlot(s, a) {
			c.checkObject("FreeBulk", a) // panics
		}
	}
	var buf [bulkChunk]uintptr
	for len(objs) > 0 {
		n := 0
		for len(objs) > 0 && n < bulkChunk {
			if objs[0] != nil {
				buf[n] = uintptr(objs[0])
				n++
			}
			objs = objs[1:]
		}
		c.freeBulk(buf[:n])
	}
}

func (c *Cache) freeBulk(src []uintptr) {
	switch c.mode {
	case modeSheaves:
		done := c.pcsFreeBulk(src)
		if done < len(src) {
			c.freeToSlabs(src[done:])
			c.statAdd(FreeSlowpath, len(src)-done)
		}
	case modeCPUSlab:
		c.cpuFreeBulk(src)
	default:
		for _, a := range src {
			c.debugFree(lookupSlab(a), a, false)
		}
	}
}

// pcsFreeBulk is free_to_pcs_bulk: push onto main, swapping in an empty spare
// or an empty barn sheaf when it fills; the rest goes to slabs.
func (c *Cache) pcsFreeBulk(src []uintptr) int {
	done := 0
	pid := procPin()
	if pcs := c.pcs.Load(); pid < len(pcs.p) {
		p := &pcs.p[pid]
		if p.lock.tryLock() {
			for done < len(src) {
				m := p.main
				if m.full() {
					if m = c.replaceFullMain(p); m == nil {
						break
					}
				}
				k := min(len(m.objs)-m.size, len(src)-done)
				copy(m.objs[m.size:m.size+k], src[done:done+k])
				m.size += k
				done += k
			}
			pstatAdd(&p.stat[FreeFastpath], done)
			p.lock.unlock()
		}
	}
	procUnpin()
	return done
}

// cpuFreeBulk groups objects by slab; a group of the cpu slab is pushed onto
// the cpu freelist with one CAS, the others go to their slabs.
func (c *Cache) cpuFreeBulk(src []uintptr) {
	cc, step := c.thisCPU()
	for i := len(src) - 1; i >= 0; i-- {
		if src[i] == 0 {
			continue
		}
		s, head, a, cnt := c.detachedFreelist(src, i)
		if !c.pushCPUChain(cc, step, s, head, a) {
			c.slabFree(s, head, a, cnt, false)
			c.statAdd(FreeSlowpath, cnt)
		} else {
			atomic.AddUint64(&cc.stat[FreeFastpath], uint64(cnt))
		}
	}
}

// pushCPUChain pushes head..tail onto the cpu freelist if s is the cpu slab.
func (c *Cache) pushCPUChain(cc *kmemCacheCPU, step uint64, s *slab, head, tail uintptr) bool {
	if !c.lockless {
		cc.mu.Lock()
		defer cc.mu.Unlock()
	}
	for {
		tid := atomic.LoadUint64(&cc.pair.Hi)
		if cc.slab.Load() != s {
			return false
		}
		fl := atomic.LoadUint64(&cc.pair.Lo)
		c.setFP(tail, uintptr(fl))
		if c.cpuCAS(cc, fl, tid, uint64(head), tid+step) {
			return true
		}
	}
}
