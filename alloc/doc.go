// Package alloc is a slab allocator over off-heap memory, modelled on the
// Linux SLUB allocator, with the per-CPU designs of three kernel
// generations: the percpu sheaves of Linux 7.0, the cpu slabs they replaced
// (at the kernel's cost, and at the cost without pinning), and the 6.18
// hybrid of the two. A Go P stands in for a CPU. The memory is never seen by
// the garbage collector: never store Go pointers in it (NewTyped refuses
// pointerful types).
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
//	per-P       state owned by one P: sheaves (sheaves.go) or a cpu slab (cpuslab*.go)
//	kmalloc     the size-class Heap (kmalloc.go)
//
// # The designs
//
// Each cache has one design (Config.Design), and each design is a per-P
// layer: the unexported percpu interface of design.go, which is all that
// the code shared by the designs (bulk, no-lock, Shrink, Validate, Stats,
// Destroy, kmalloc) calls. The fast paths of Sheaves and CPUSlab are
// written out in Cache.Alloc and Cache.Free as well, to save the calls.
//
//	design          per-P layer            its objects come from      files
//	Sheaves         main + spare sheaf     slabs (refill_objects)     sheaves.go, refill.go
//	CPUSlab         pinned cpu slab        slabs                      cpuslab.go, cpuslab_pinned.go
//	CPUSlabLocked   unpinned cpu slab      slabs                      cpuslab.go, cpuslab_locked.go
//	Hybrid          main + spare sheaf     cpu slabs (CPUSlab's)      hybrid.go, sheaves.go, cpuslab_pinned.go
//	any, debugging  none                   slabs, under list_lock     debug*.go
//
// What a Sheaves or Hybrid cache's sheaves refill from and flush to is its
// backing (design.go): the slabs themselves, as in 7.0, or the cpu slab
// layer, as in 6.18, where a cache with sheaves kept its cpu slabs and cpu
// partial lists under them (the "double caching" 7.0 removed).
//
// # Sheaves: the layers
//
// Allocating proceeds up a hierarchy of caches, each level amortizing the
// cost of the one below:
//
//  1. Pop from this P's main sheaf. The P is pinned (runtime.procPin) and its
//     localLock taken with a plain store and a plain load: no atomic
//     read-modify-write, no lock. This is the whole fast path.
//  2. Main empty: swap with the spare sheaf if it has objects.
//  3. Else trade the empty main for a full sheaf from the barn, if the barn
//     lock can be had without waiting (TryLock, still pinned).
//  4. Else unpin. Take a full sheaf from the barn (waiting for its lock), or
//     refill the P's empty spare (or an empty barn sheaf, or a new one) from
//     the backing: under list_lock detach partial slabs and take their whole
//     freelists until min objects are had and the next slab would pass max
//     (get_partial_node_bulk; what a slab holds beyond max goes back), then
//     cut new slabs from the page heap. Pin again (possibly on another P)
//     and install the sheaf as main, spare, or in the barn.
//  5. The page heap finds a free page run in its chunks, or maps a new chunk.
//     When that fails (the OS or Config.MemoryLimit says no), the free
//     objects parked in other Ps' sheaves and the barn are flushed to their
//     slabs and the refill is tried once more (reclaim).
//
// Freeing mirrors it: push onto main; main full: swap with a spare that has
// room, or trade the full main for an empty barn sheaf (TryLock, and only
// while the barn holds fewer than 10 full sheaves); else unpinned, get an
// empty sheaf (barn or new), install it as main and park the full one in the
// barn, or flush it to the backing when the barn is full (BARN_PUT_FAIL). A
// flush groups objects of one slab into a detached freelist and gives it
// back with one double-word CAS (__slab_free), taking list_lock only when
// the slab moves between full, partial and empty. Objects of any slab may
// sit in any sheaf. Shrink and the other flushes (pcs_flush_all) hold every
// P's lock throughout, flush each main sheaf in batches of 32 and the spare,
// and drop the spare; so a trace hook's no-lock calls during a flush only
// take objects from slabs and give them back to slabs or the deferred list,
// and nothing is cached per P again behind it.
//
// # CPUSlab and CPUSlabLocked
//
// Each P owns a frozen cpu slab whose freelist is detached into the per-P
// (freelist, tid) pair:
//
//  1. Alloc: read tid, read the freelist head and its next pointer, then CAS
//     (head, tid) -> (next, tid+step). CPUSlab pins the P for the sequence
//     and takes its localLock, as Sheaves does, and uses CMPXCHG16B without
//     the LOCK prefix (the relaxed CASP on arm64): the kernel's
//     this_cpu_try_cmpxchg128, atomic against nothing but the same CPU,
//     which is enough because nothing else runs on a pinned P and every
//     other changer of the pair (Shrink, Validate, Stats, Destroy) first
//     excludes the owner as a remote locker (flag and membarrier). The tid
//     stays, so the kernel's protocol is visible and an install after an
//     unpinned step re-reads the pair. CPUSlabLocked pins nothing and uses
//     LOCK CMPXCHG16B (CASPAL): a goroutine moved to another P meanwhile
//     fails the CAS (CMPXCHG_DOUBLE_CPU_FAIL) and retries. Its next pointer
//     may be read from an object another goroutine just took, so slab
//     memory is never unmapped while the process lives (the page heap only
//     madvises).
//  2. Free: if the object belongs to this P's cpu slab, push it onto the
//     pair the same way; otherwise free it into its slab (__slab_free). A
//     frozen slab takes it lock-free (FREE_FROZEN); a full slab that gets
//     objects back goes to this P's cpu partial list (put_cpu_partial,
//     CPU_PARTIAL_FREE), which drains to the node at cpu_partial_slabs
//     (CPU_PARTIAL_DRAIN).
//  3. Slow alloc (___slab_alloc): the cpu slab's own freelist that remote
//     frees filled (ALLOC_REFILL), a cpu partial slab (CPU_PARTIAL_ALLOC),
//     node partial slabs (the first becomes the cpu slab, ALLOC_FROM_PARTIAL;
//     more go to cpu partial up to half of cpu_partial_slabs,
//     CPU_PARTIAL_NODE), a new slab (ALLOC_SLAB). deactivate_slab splices a
//     cpu freelist back and unfreezes the slab. CPUSlabLocked runs it all
//     under the P's mu; CPUSlab in three steps so that nothing that can wait
//     runs pinned: what the P has at hand (pinned), a node partial slab or a
//     new one (unpinned, no per-P lock), then the install on whichever P the
//     goroutine now runs, deactivating a cpu slab that raced in
//     (CPUSLAB_FLUSH), as the kernel does after new_slab.
//  4. Bulk allocation pops the cpu freelist with the per-P lock held and
//     calls the slow path only to load the next one (__kmem_cache_alloc_bulk).
//
// CPUSlabLocked's holder of mu keeps the lockless paths safe by publishing
// a new freelist while the slab pointer is nil and only then setting the
// slab, and by clearing the slab before detaching the freelist.
//
// # Hybrid
//
// Sheaves in front of CPUSlab's cpu slabs: the same sheaf fast paths, but a
// sheaf refill is a bulk allocation from the cpu slabs and a flush a bulk
// free to them, so an object can be cached twice over (a sheaf, and the
// cpu freelist it was refilled from). Sheaf hits count as ALLOC_PCS and
// FREE_PCS; the cpu slab layer counts what refills and flushes move, as the
// 6.18 kernel did.
//
// # What each costs
//
// Per operation, in the common case (the pointer check of Free included:
// Free first looks the slab up in the page heap's table, then checks that
// the pointer is an object slot of it):
//
//	Sheaves, Hybrid  alloc: procPin, a store, a load, an array access, a store, procUnpin
//	                 free:  the pointer check, then the same with a push
//	CPUSlab          alloc: procPin, a store, a load, the tid and freelist loads,
//	                        the next pointer's load and decode, CMPXCHG16B, procUnpin
//	                 free:  the pointer check, then the same when the object is of
//	                        this P's cpu slab, else __slab_free (a LOCK CMPXCHG16B
//	                        on the slab's own pair, sometimes list_lock)
//	CPUSlabLocked    as CPUSlab without the localLock, with LOCK CMPXCHG16B
//
// # No-lock allocation (AllocNoLock, FreeNoLock; kmalloc_nolock)
//
// They never wait: every lock is try-locked, and new pages are mapped without
// holding the page heap lock.
//
//	               Sheaves                      CPUSlab, Hybrid below its sheaves    CPUSlabLocked
//	AllocNoLock    1. per-P sheaf (tryLock)     1. pinned fast path                  1. lockless (freelist, tid) CAS pop
//	               2. spare, barn (TryLock)     2. slow path, every lock tried;      2. per-P mu held? -> busy (NOLOCK_BUSY)
//	               3. a slab, list_lock tried      a busy P (remote locker) is       3. ___slab_alloc, every lock tried
//	                                               passed over
//	FreeNoLock     1. per-P sheaf (tryLock)     1. cpu slab object: pinned push      1. cpu slab object: CAS push
//	               2. the slab, TryLock if a    2. anything else: defer              2. anything else: defer
//	                  list changes; else defer
//
// Hybrid tries its sheaves first. CPUSlab's per-P lock is held only inside
// pinned sections, where no hook runs, so a hook never finds it taken by the
// code it interrupted; CPUSlabLocked's mu is held across its slow path,
// hooks included, hence the busy check. Heap.MallocNoLock retries once
// with the next larger size class when a class gives nil (NOLOCK_RETRY),
// then returns nil. Deferred objects wait on a per-cache lock-free list,
// linked through their free pointers, until the next slow path, Shrink,
// Validate or Destroy drains them (DEFERRED_DRAIN).
//
// # Hardware without a double-word CAS
//
// On such hardware (ARMv8.0, 386, other architectures, -tags purego) or when
// forced off (cpuid.ForceNoDCAS, GOSLUB_NODCAS=1, before caches are created),
// no slab pair is updated lock-free: every slab freelist change is made under
// the node's list_lock, the path debug caches always use. The cpu slab
// designs take their per-P lock for every change of the per-P pair:
// CPUSlabLocked its mu, CPUSlab its pinned localLock with a compare and
// store (the kernel's this_cpu_cmpxchg fallback), through its slow-path
// functions rather than the written-out fast path. AllocNoLock keeps
// working with try-locks.
//
// # Lock order
//
//  1. Cache.growMu: growing the per-P arrays when GOMAXPROCS grows; Validate
//     and Stats hold it too, so no P joins while they look.
//  2. Cache.flushMu: serializes remote lockers of per-P data (Shrink,
//     Validate, Stats, growth).
//  3. The per-P locks, in this order where a design has two (Hybrid):
//     a. the sheaves localLock (owner: pinned, plain store and load;
//     remote: flag plus membarrier(2)), protecting main, spare and the
//     per-P counters;
//     b. the cpu slab's lock: CPUSlab's localLock (likewise), or
//     CPUSlabLocked's kmemCacheCPU.mu; either protects the cpu slab, the
//     cpu partial list and, without the double-word CAS, the (freelist,
//     tid) pair (else changed by CAS).
//  4. barn.mu: the barn's lists and counts.
//  5. node.listLock (list_lock): the partial list, nr_partial, the list of
//     all slabs, each slab's onPartial flag and links; without the
//     double-word CAS also every slab's (freelist, counters) pair.
//  6. pageHeap.mu: chunks, their free and dirty bitmaps.
//  7. pageHeap.orphans: mappings a no-lock caller could not register; taken
//     under pageHeap.mu when the heap grows.
//
// Leaves, never held while taking another: Heap.largeMu (large allocations
// by address), the stack depot's mu (call sites of debug caches, taken
// before the allocator's locks), the failslab state's mu.
//
// Pinned sections take no lock that can wait: only localLocks, the barn and
// (CPUSlab, caches without the double-word CAS) list_lock with TryLock.
// Trace hooks never run pinned; some run with list_lock or CPUSlabLocked's
// mu held, like kernel tracepoints.
//
// # Slab states
//
//	state             freelist   frozen   on partial   on cpu partial   where
//	partial           non-nil    no       yes          no               node list
//	full              nil        no       no           no               no list
//	isolated          any        no       no           no               held by a list_lock holder (refill)
//	cpu slab          nil*       yes      no           no               a P's kmemCacheCPU
//	cpu partial       non-nil    no       no           yes              a P's cpu partial list
//	in transit        non-nil    no       no           (maybe)          a full slab that got a free, or a node
//	                                                                    slab taken for cpu partial, on its way
//	                                                                    to a P's cpu partial list
//	empty             all free   no       (partial)    (maybe)          freed beyond min_partial
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
// slab nor on a cpu partial list nor isolated nor in transit. An empty slab
// beyond min_partial = clamp(ilog2(size)/2, 5, 10) is freed. The (freelist,
// counters) pair is 16-byte aligned (asserted). The counters word holds
// inuse (16 bits), objects (15), frozen (1) and a generation (32) that every
// update advances, so an unchanged pair means an unchanged slab.
//
// # Debug caches and hardened free pointers
//
// A cache with Config.Debug (or GOSLUB_SLAB_DEBUG in slab_debug= syntax) has
// no per-P caching in any design and changes slabs only under list_lock,
// checking red zones, poison and free pointers on every operation; see
// debug.go. The letters are the kernel's: F, Z, P, U and T (trace every
// allocation and free) make a debug cache; A lets failslab fault injection
// (SetFailSlab, GOSLUB_FAILSLAB) fail a cache's allocations and keeps its
// design; O drops debugging that would raise a cache's page order.
//
// Free pointers are hardened by default (Config.PlainFreelist turns it off):
// stored XORed with a per-cache random and a byte-swap of their own address,
// and checked to point at a slot of their slab on the paths that walk
// freelists (refills, bulk allocation, deactivation). The Sheaves fast path
// never reads a free pointer, so it pays nothing; the cpu slab fast paths
// decode one per operation.
package alloc
