// Package alloc is a slab allocator over off-heap memory, modelled on the
// Linux SLUB allocator, with both of SLUB's per-CPU designs: the percpu
// sheaves of Linux 7.0 and the cpu slabs they replaced. A Go P stands in for a
// CPU. The memory is never seen by the garbage collector: never store Go
// pointers in it (NewTyped refuses pointerful types).
//
// This comment is the design overview; the other files point here.
//
// # Glossary
//
//	page heap   process-wide page allocator over mmap'd chunks (pageheap.go)
//	slab        a run of 2^order pages cut into objects of one cache (slab.go)
//	node        a cache's partial list under list_lock; one per cache (node.go)
//	sheaf       an array of free objects used as a stack (sheaf.go)
//	barn        a cache's shared lists of full and empty sheaves (barn.go)
//	per-P       state owned by one P: sheaves (sheaves.go) or a cpu slab (cpuslab.go)
//	kmalloc     the size-class Heap (kmalloc.go)
//
// # The layers
//
// Allocating from a Sheaves cache proceeds up a hierarchy of caches, each
// level amortizing the cost of the one below:
//
//  1. Pop from this P's main sheaf. The P is pinned (runtime.procPin) and its
//     localLock taken with a plain store and a plain load: no atomic
//     read-modify-write, no lock. This is the whole fast path.
//  2. Main empty: swap with the spare sheaf if it has objects.
//  3. Else trade the empty main for a full sheaf from the barn, if the barn
//     lock can be had without waiting (TryLock, still pinned).
//  4. Else unpin. Take a full sheaf from the barn (waiting for its lock), or
//     refill a sheaf from slabs: under list_lock detach partial slabs and take
//     their whole freelists, then cut new slabs from the page heap. Pin again
//     (possibly on another P) and install the sheaf as main, spare, or in the
//     barn.
//  5. The page heap finds a free page run in its chunks, or maps a new chunk.
//     When that fails (the OS or Config.MemoryLimit says no), the free
//     objects parked in other Ps' sheaves and the barn are flushed to their
//     slabs and the refill is tried once more (reclaim).
//
// Freeing mirrors it: push onto main; main full: swap with a spare that has
// room, or trade the full main for an empty barn sheaf (TryLock, and only
// while the barn holds fewer than 10 full sheaves); else unpinned, get an
// empty sheaf (barn or new), install it as main and park the full one in the
// barn, or flush it to slabs when the barn is full (BARN_PUT_FAIL). A flush
// groups objects of one slab into a detached freelist and gives it back with
// one double-word CAS (__slab_free), taking list_lock only when the slab moves
// between full, partial and empty. Objects of any slab may sit in any sheaf.
//
// A CPUSlab cache keeps, per P, a frozen cpu slab whose freelist is detached
// into a (freelist, tid) pair:
//
//  1. Alloc: read tid, read the freelist head and its next pointer, then CAS
//     (head, tid) -> (next, tid+step) with LOCK CMPXCHG16B (CASPAL on arm64).
//     Nothing is pinned across the sequence; a lost race fails the CAS
//     (CMPXCHG_DOUBLE_CPU_FAIL) and retries. The next pointer may be read
//     from an object another goroutine just took, so slab memory is never
//     unmapped while the process lives (the page heap only madvises).
//  2. Free: if the object belongs to this P's cpu slab, CAS-push it onto the
//     pair; otherwise free it into its slab (__slab_free). A frozen slab takes
//     it lock-free (FREE_FROZEN); a full slab that gets a free object goes to
//     this P's cpu partial list (put_cpu_partial, CPU_PARTIAL_FREE), which
//     drains to the node at cpu_partial_slabs (CPU_PARTIAL_DRAIN).
//  3. Slow alloc under the per-P lock (___slab_alloc): the cpu freelist, the
//     cpu slab's own freelist that remote frees filled (ALLOC_REFILL), a cpu
//     partial slab (CPU_PARTIAL_ALLOC), node partial slabs (the first becomes
//     the cpu slab, ALLOC_FROM_PARTIAL; more go to cpu partial up to half of
//     cpu_partial_slabs, CPU_PARTIAL_NODE), a new slab (ALLOC_SLAB).
//     deactivate_slab splices a cpu freelist back and unfreezes the slab.
//
// The kernel's this_cpu_cmpxchg acts on whatever CPU the task is on at that
// instant; here the CAS names the address of the P's structure the goroutine
// read, so a goroutine that migrated meanwhile still updates a consistent
// structure, and the tid makes the CAS fail whenever anything changed. To keep
// the lockless paths safe while the per-P lock holder changes the cpu slab,
// the holder publishes a new freelist while the slab pointer is nil and only
// then sets the slab, and clears the slab before detaching the freelist.
//
// What each costs per operation, in the common case: Sheaves alloc or free:
// procPin, a store, a load, an array access, a store, procUnpin. CPUSlab
// alloc: procPin/procUnpin to learn the P, three loads, one LOCK CMPXCHG16B;
// free: the same when the object is from this P's cpu slab, else a
// CMPXCHG16B on the slab's own pair, sometimes list_lock.
//
// # No-lock allocation (AllocNoLock, FreeNoLock; kmalloc_nolock)
//
// Both never wait: every lock is try-locked, and new pages are mapped without
// holding the page heap lock.
//
//	                 Sheaves                         CPUSlab
//	AllocNoLock      1. per-P sheaf (tryLock)         1. lockless (freelist, tid) CAS pop
//	                 2. spare, barn (TryLock)         2. per-P lock held? -> busy (NOLOCK_BUSY)
//	                 3. a slab, list_lock TryLock     3. ___slab_alloc with every lock try-locked
//	FreeNoLock       1. per-P sheaf (tryLock)         1. cpu slab object: CAS push
//	                 2. the slab, TryLock if a list   2. anything else: defer
//	                    changes; else defer
//
// Heap.MallocNoLock retries once with the next larger size class when a
// class gives nil (NOLOCK_RETRY), then returns nil. Deferred objects wait on a
// per-cache lock-free list, linked through their free pointers, until the
// next slow path, Shrink, Validate or Destroy drains them (DEFERRED_DRAIN).
// With sheaves the no-lock path is the normal path with try-locks; the old
// design needs its own busy checks, as the kernel did before 7.0.
//
// # Hardware without a double-word CAS
//
// On such hardware (ARMv8.0, 386, other architectures, -tags purego) or when
// forced off (cpuid.ForceNoDCAS, GOSLUB_NODCAS=1, before caches are created),
// no slab pair is updated lock-free: every slab freelist change is made under
// the node's list_lock, the path debug caches always use. The CPUSlab fast
// path takes its per-P lock. AllocNoLock keeps working with try-locks.
//
// # Lock order
//
//  1. Cache.growMu: growing the per-P arrays when GOMAXPROCS grows; Validate
//     and Stats hold it too, so no P joins while they look.
//  2. Cache.flushMu: serializes remote lockers of per-P data (Shrink,
//     Validate, Stats, growth).
//  3. per-P: the Sheaves localLock (owner: pinned, plain store and load;
//     remote: flag plus membarrier(2)), protecting main, spare and the per-P
//     counters; or the CPUSlab kmemCacheCPU.mu, protecting the cpu slab
//     changes and the cpu partial list (the (freelist, tid) pair itself is
//     changed by CAS, or under mu without the double-word CAS).
//  4. barn.mu: the barn's lists and counts.
//  5. node.listLock (list_lock): the partial list, nr_partial, the list of
//     all slabs, each slab's onPartial flag and links; without the
//     double-word CAS also every slab's (freelist, counters) pair.
//  6. pageHeap.mu: chunks, their free and dirty bitmaps; leaf.
//
// Pinned sections take no lock that can wait: only localLock, and the barn
// with TryLock. Trace hooks never run pinned; some run with list_lock or a
// CPUSlab per-P lock held, like kernel tracepoints.
//
// # Slab states
//
//	state            freelist   frozen   on partial   on cpu partial   where
//	partial          non-nil    no       yes          no               node list
//	full             nil        no       no           no               no list
//	isolated         any        no       no           no               held by a list_lock holder (refill)
//	cpu slab (old)   nil*       yes      no           no               a P's kmemCacheCPU
//	cpu partial      non-nil    no       no           yes              a P's cpu partial list
//	empty            all free   no       (partial)    (maybe)          freed beyond min_partial
//
// (*) the cpu slab's free objects are on the P's cpu freelist; remote frees
// collect on its own freelist until the P takes them (get_freelist).
//
// # Invariants (Validate checks them)
//
// For every slab: inuse + len(freelist) == objects; the freelist holds only
// slots of that slab, without a cycle. Every object is in exactly one of:
// handed out, a sheaf (or cpu freelist), a slab freelist, the deferred list.
// Objects in sheaves, cpu freelists and the deferred list count as in use on
// their slabs, so
//
//	sum(inuse) == handed out + cached in sheaves + on cpu freelists + deferred
//
// A slab is on the partial list iff it has free objects and is neither a cpu
// slab nor on a cpu partial list nor isolated. An empty slab beyond
// min_partial = clamp(ilog2(size)/2, 5, 10) is freed. The (freelist,
// counters) pair is 16-byte aligned (asserted). The counters word holds inuse
// (16 bits), objects (15), frozen (1) and a generation (32) that every update
// advances, so an unchanged pair means an unchanged slab.
//
// # Debug caches and hardened free pointers
//
// A cache with Config.Debug (or GOSLUB_SLAB_DEBUG in slab_debug= syntax) has
// no per-P caching and changes slabs only under list_lock, checking red
// zones, poison and free pointers on every operation; see debug.go. The
// letters are the kernel's: F, Z, P, U and T (trace every allocation and
// free) make a debug cache; A lets failslab fault injection (SetFailSlab,
// GOSLUB_FAILSLAB) fail a cache's allocations and keeps its design; O drops
// debugging that would raise a cache's page order.
//
// Free pointers are hardened by default (Config.PlainFreelist turns it off):
// stored XORed with a per-cache random and a byte-swap of their own address,
// and checked to point at a slot of their slab on the slow paths that walk
// freelists. The Sheaves fast path never reads a free pointer, so it pays
// nothing; the CPUSlab fast path decodes one per operation.
package alloc
