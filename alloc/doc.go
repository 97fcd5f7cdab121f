// Package alloc is a slab allocator over off-heap memory, modelled on the
// Linux SLUB allocator, with the per-CPU designs of three kernel
// generations: the percpu sheaves of Linux 7.0, the cpu slabs they replaced
// (at the kernel's cost, and at the cost without pinning), and the 6.18
// hybrid of the two. A Go P stands in for a CPU. The memory is never seen by
// the garbage collector: never store Go pointers in it (see Safety below).
//
// # Quick start
//
// A Cache holds objects of one size, like the kernel's kmem_cache:
//
//	c, err := alloc.NewCache("sessions", 64, alloc.Config{})
//	if err != nil {
//		return err
//	}
//	p := c.Alloc() // 64 bytes outside the Go heap, or nil when memory runs out
//	...
//	c.Free(p)
//	if err := c.Destroy(); err != nil { // errors.Is(err, alloc.ErrLeak)
//		return err
//	}
//
// NewTyped gives *T for a pointer-free T. NewHeap is kmalloc: Malloc and
// Free of any size, from size classes up to 8 KiB and whole pages above;
// its ByteAllocator hands out []byte (and is Apache Arrow's
// memory.Allocator), MakeSlice hands out []T. AllocBulk, PrefillSheaf and
// the no-lock calls (AllocNoLock, for trace hooks) are the kernel's. Config
// picks the per-P design (Sheaves, the default, CPUSlab, CPUSlabLocked or
// Hybrid), a MemoryLimit, debugging (Config.Debug, or GOSLUB_SLAB_DEBUG in
// the kernel's slab_debug= syntax) and hooks. Stats, WriteSlabInfo and
// Caches show what the caches hold, the slabinfo package serves it at
// /debug/slabinfo, and LiveProfile shows where the live objects of caches
// with DebugStoreUser were allocated.
//
// # Safety
//
// The memory is mapped from the OS (mmap; VirtualAlloc on Windows) and is
// not part of the Go heap (where there is neither, as on js/wasm and Plan 9,
// it is pointer-free Go memory, which the collector counts but never scans):
//
//   - Never store Go pointers in it: pointers, strings, slices, maps,
//     channels, funcs or interfaces. The garbage collector does not scan it,
//     so what they point to may be freed while still in use. NewTyped and
//     MakeSlice refuse types that hold them; what a program stores through
//     an unsafe.Pointer is its own to check.
//   - After Free the memory is dangling and will be handed out again. Reading
//     or writing it is a use after free that neither the compiler nor the
//     race detector sees. Debug caches (Config.Debug) poison free objects,
//     red-zone live ones and report what they find, but a stray write can
//     still corrupt another object or crash the program.
//   - GOMEMLIMIT, runtime.MemStats, the heap profile and the collector's
//     pacing do not count this memory. Config.MemoryLimit bounds a cache or
//     heap; Stats and ReadPageStats count it.
//   - Destroy frees nothing while objects are still allocated (ErrLeak);
//     using a cache after a successful Destroy panics (ErrDestroyed).
//   - The per-P layer pins the goroutine to its P with the runtime's
//     procPin and procUnpin, reached with //go:linkname (pin.go). The
//     runtime keeps them linkable for the packages that use them ("do not
//     remove or change the type signature", go.dev/issue/67401), but they
//     are not a public API: a Go release that dropped them would break the
//     build.
//
// The rest of this comment is the design overview; the other files point
// here.
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
//	RCU domain  grace periods and the queue of deferred frees (rcu.go, rcu_callback.go)
//	rcu_free    a P's sheaf of objects freed with FreeRCU (rcu_sheaf.go)
//	kfree_rcu   a P's batch of objects freed with FreeRCU (rcu_batch.go)
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
//     read-modify-write, no lock. This is the whole fast path. The lock,
//     the main sheaf and the fast-path counters share one cache line of the
//     per-P structure; the counters are plain increments, exact because
//     only the lock's holder writes them.
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
// FreeRCU pushes onto a third per-P sheaf, rcu_free, the same way; a full
// one goes whole to the grace-period domain and, once its grace period has
// ended, into the barn as a full sheaf, so that its objects go from one
// sheaf to the next without touching their slabs (see Deferred frees).
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
//  5. FreeRCU puts the object in the P's kfree_rcu batch, a page of
//     pointers; a full batch goes to the grace-period domain, and after the
//     grace period its objects take the bulk free path, cpu freelist or
//     __slab_free (kfree_bulk; see Deferred frees).
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
//	FreeRCU          the pointer check, then, pinned: the sheaves' (or the batch's)
//	                 localLock, the double-free compares, a push; no atomic
//	                 read-modify-write until a full sheaf (or batch of 508) is
//	                 handed over with one CAS
//
// # The bound on cached objects
//
// The free objects a cache parks above its slabs (sheaves, the barn, cpu
// freelists, cpu partial slabs) are bounded per design by the number of Ps
// and the sheaf capacity or slab size, from 840 objects of 64 bytes for
// Sheaves at GOMAXPROCS=2 to 138 MiB of 256 KiB objects at 64 Ps; each can
// pin a slab while the cache is idle. bound.go gives the formula;
// Config.MaxCachedObjects lowers it (fewer barn sheaves, smaller sheaves,
// shorter cpu partial lists), the barn never holds more full sheaves than
// its limit, and Stats reports the bound in effect (MaxCachedObjects).
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
// # Grace periods (RCU)
//
// An RCU domain (type RCU, rcu.go) gives grace periods in user space, in the
// manner of the kernel's SRCU (kernel/rcu/srcutree.c), with the readers'
// full barriers taken off the fast path by membarrier(2) as in liburcu's
// urcu-memb flavour. Its callback queue, which FreeRCU's deferred frees go
// through, and the domain's goroutine that runs them are in rcu_callback.go.
//
// # RCU: the counters
//
// A domain has an index, idx, of which readers use the low bit, and for
// every P a slot of four counters: lock[0], lock[1], unlock[0], unlock[1]
// (rcuPerP). A slot is written only by the goroutine pinned to its P, so
// its counters need no atomic read-modify-write; the grace-period code
// reads them with atomic loads. Slots are 128 bytes apart, so two Ps never
// write the same cache line (or the adjacent-line pair that some CPUs
// prefetch together).
//
// A reader:
//
//	ReadLock:   pin; i := idx & 1; lock[i]++ in this P's slot; unpin  (barrier B)
//	            return the token (domain tag | i)
//	ReadUnlock: (barrier C) pin; unlock[i]++ in this P's slot; unpin
//
// The lock and the unlock of one section may land in the slots of two
// different Ps, because the goroutine may move between them inside the
// section: that is why locks and unlocks are counted apart, per index, and
// compared only as sums over all Ps. Sections nest: each ReadLock is
// counted on its own and returns its own token.
//
// The grace-period code checks an index i (srcu_readers_active_idx_check):
//
//	U := sum over all slots of unlock[i]
//	barrier A
//	L := sum over all slots of lock[i]
//	drained(i) := L == U
//
// A grace period (srcu_advance_state's two scans), under gpMu:
//
//	seq++                       (odd: a grace period is in progress)
//	wait until drained(1 ^ (idx & 1))   the index readers do not use now
//	idx++                       (the flip)
//	wait until drained(1 ^ (idx & 1))   the index readers used before the flip
//	seq++                       (even: completed)
//
// A wait polls: a check without barrier A first, and the full check only
// when that one finds L == U (or L < U, to tell misuse apart), so that a
// reader that stays inside for long costs no barrier per poll. Only the
// full check decides. The flip has no barrier of its own. Polls yield the
// P (runtime.Gosched) for the first rcuSpinPolls tries, then sleep from
// rcuPollMin doubling up to rcuPollMax.
//
// # RCU: the barriers
//
// Where the process is registered for expedited membarrier (Linux), the
// reader's B and C are compiler barriers only: the counter increments are
// plain stores, ordered against the section's own loads by the calls to
// procPin and procUnpin, which the compiler cannot look into. Barrier A is
// asymmetricFence, a membarrier(2) system call: it runs a full barrier on
// every CPU that runs a thread of the process, and a thread that is not
// running has passed one in the context switch. For each reader this
// barrier falls at some point p of its program, which is what stands in for
// B and C:
//
//   - A reader whose unlock increment the updater read before barrier A ran
//     its barrier p after that increment, hence after its lock increment,
//     hence the lock increment is visible to the updater's reads that
//     follow barrier A; and every access of its section came before p, so
//     before anything the updater does after the grace period (the free).
//     (A goroutine that moved to another thread inside its section did so
//     through the scheduler's own synchronization, which keeps its
//     program order; the barrier is cumulative over what that thread saw.)
//   - A reader whose lock increment the updater's reads after barrier A did
//     not see ran p before that increment, so its section's loads come after
//     p and see every store the updater made before barrier A, in
//     particular the store that unpublished the object.
//
// These two facts are all the proof below uses.
//
// Without membarrier (other systems, or a kernel without it: ownerFence),
// every counter access of readers and updater is an atomic operation of
// sync/atomic, which Go makes sequentially consistent: B and C are the
// atomic increments themselves, A is program order between atomic loads,
// and the two facts above follow from sequential consistency. Readers then
// pay two atomic read-modify-writes per section, on their own P's cache
// line. Race detector builds count atomically too, so that the detector
// sees the synchronization (rcu_count_race.go), and so do 32-bit
// platforms, where a plain 64-bit store may tear.
//
// The updater's and the readers' own accesses to the structure they share
// (publishing and loading a pointer) must be atomic operations, as the Go
// memory model requires of any data shared without a lock.
//
// # RCU: why a grace period waits for every reader inside when it began
//
// Take a grace period G and a reader section S that locked index i. G checks
// both indices, so one check of G is the final, successful check of i.
//
//  1. The final check's barrier A orders the U sum before the L sum. Every
//     unlock counted in U belongs to a section whose lock came earlier in
//     that reader's program and, by the first case above, is counted in L.
//     So U counts only sections that L also counts, and L == U means that
//     every section counted in L had also unlocked when U was read.
//  2. If S's lock is counted in L, then S had unlocked before G ended, and
//     all of S's accesses came before anything that follows G.
//  3. If S's lock is not counted in L, then by the second case above S's
//     loads see every store made before G began, so S cannot load a
//     pointer that was unpublished before G: S began after G in the sense
//     that matters.
//
// Both indices must be checked in each grace period because a reader may
// read idx just before a flip and increment lock[old] long after it (its
// thread descheduled in between), while the next grace period already
// treats the other index as the one to drain; the check of the index
// readers do not use now finds such a late reader. The flip between the
// two waits is for progress, not safety: a check of the index that new
// readers are entering may never see L == U, while an index no reader
// starts on any more drains as its readers leave.
//
// Counter wrap: the counters are uint64 and are summed and compared modulo
// 2^64. L - U, as true integers, is the number of sections that L counts and
// U does not, which is never more than the number of ReadLock calls the
// process made during the check; it would take 2^64 of them (centuries)
// for L == U modulo 2^64 to hold falsely. seq is compared the same way
// (seqDone). L - U below zero, read as a signed number, cannot happen in
// correct use: it means an unlock without its lock (a token unlocked twice,
// or made up), and the domain stops with an error rather than end grace
// periods early.
//
// # RCU: what a reader costs
//
// With membarrier, on amd64: procPin and procUnpin (two calls that
// increment and decrement the M's lock count), two loads (the per-P array
// and idx), a bounds check and an add to memory, both for ReadLock and for
// ReadUnlock; no atomic read-modify-write, no fence, no shared cache line
// written. ReadUnlock also compares the token with the domain's tag. The
// updater pays instead: two membarrier calls or more per grace period.
//
// # RCU: growing with GOMAXPROCS
//
// The slots live in an rcuArray made for max(GOMAXPROCS, NumCPU) Ps. A
// reader on a P beyond it counts in the array's shared overflow slot with
// atomic adds: correct, only slower. Each grace period begins by making a
// larger array when GOMAXPROCS has grown; the old one stays linked behind
// it (prev), because readers that loaded it may still count there, and the
// sums walk the whole chain. Arrays change only under gpMu, so during one
// grace period the chain it sums is fixed and holds every slot any reader
// can reach.
//
// # Deferred frees (FreeRCU, kfree_rcu)
//
// FreeRCU frees an object once a grace period of the cache's domain
// (Config.RCU, else DefaultRCU) has ended. It checks the pointer as Free
// does and never waits: the objects wait per P, and a P hands a whole
// sheaf or batch to the domain (a CAS push onto its callback queue), whose
// goroutine, after the grace period, puts the objects back:
//
//	design          where FreeRCU puts the object      after the grace period
//	Sheaves,        the P's rcu_free sheaf, made of     to the barn as a full sheaf (BARN_PUT)
//	Hybrid          the empty spare, an empty barn      while it holds fewer than 10, else
//	                sheaf or a new one (FREE_RCU_SHEAF) flushed (BARN_PUT_FAIL) and kept empty
//	                                                    while it holds fewer than 10 empty
//	CPUSlab,        the P's kfree_rcu batch, a page     freed through the cache's bulk free
//	CPUSlabLocked   of pointers (FREE_RCU_BATCH)        path (kfree_bulk)
//	debug caches    a batch, once a CAS of its state     compared with the copy (a write during
//	                word claims it (objRCU), with a     the grace period is ReportRCUWrite),
//	                copy (P letter); red zones checked  then freed as Free frees
//
// The rcu_free sheaf is __kfree_rcu_sheaf: pinned, under the P's sheaves
// lock, the barn only tried, a new sheaf made unpinned. When the P's
// sheaves cannot be had (a remote locker holds them; a P that has none
// yet) the object goes to the P's batch instead (FREE_RCU_SHEAF_FAIL), as
// the kernel falls back to its classic batching; a P beyond the batch
// slots (GOMAXPROCS grew) queues the object on its own. A full sheaf or
// batch is handed over at once (RCU_QUEUE, EventRCUQueue); a partial one
// waits for more frees, or for a flush: pcs_flush_all and the other flushes
// of flushAll (Shrink, Destroy, reclaim under memory pressure) hand it over
// too, and a sheaf handed over by a flush is flushed to the backing when it
// comes back (rcu_free_sheaf_nobarn). So at most a sheaf's or a batch's
// worth of objects per P waits without a grace period of its own in
// sight, as in the kernel's sheaves. When objects come back they count in
// RCU_FREE and EventRCUDone, on the domain's goroutine.
//
// Objects waiting count as in use on their slabs and in Stats.RCUPending
// (per P under the P's lock, queued in one counter per cache updated once
// per hand-over), not in ActiveObjects. Shrink and Destroy hand everything
// over and wait (rcu_barrier), so Destroy counts no waiting object as
// leaked; on a closed domain they wait for a grace period and free the
// leftovers themselves, and Destroy fails, freeing nothing, on a stopped
// one. FreeRCUSync is kvfree_rcu_mightsleep: Synchronize, then Free.
//
// FreeRCU takes only try-locks (the sheaves' and batches' localLocks, the
// barn, a debug cache's list_lock), allocates only Go memory (a sheaf, a
// batch, a debug cache's copy), and runs no code of the caller's but the
// Trace hook at EventRCUQueue and a debug cache's OnReport: a hook may call
// it, as it may call FreeNoLock, and so may a reader inside its section.
// The one lock it waits for is the leaf that guards a heap's table of large
// allocations, which a large allocation leaves at once (its pages go back
// after the grace period).
//
// # TypesafeByRCU caches
//
// SLAB_TYPESAFE_BY_RCU: objects are freed and reused at once, but a slab
// the cache gives up (an empty slab past min_partial, Shrink, Destroy)
// leaves the cache's page table entries at once and goes back to the page
// heap only after a grace period (rcu_free_slab, typesafe.go), so a reader
// that holds a stale pointer inside its section reads an object of the
// cache. The free pointer lives after the object, as with a Ctor, and P
// poisoning is off; readers must check that the object is still the one
// they looked for (a key or a generation in it). Stats.RCUSlabs counts the
// slabs waiting.
//
// The lock-free protocols (the cpu slab fast paths of both variants,
// __slab_free against refills and deactivation, the per-P localLock, the
// deferred list, the RCU grace periods and callback queue) are
// model-checked with spin in alloc/model; each model names the code it
// mirrors, and the code names its model.
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
// before the allocator's locks), the failslab state's mu, the kfree_rcu
// batches' localLocks (the owner pinned; remote lockers hold flushMu and
// may hold the locks of quiesce). The RCU domain's own locks (gpMu, endMu)
// are never held while the domain's goroutine runs deferred frees, which
// take the allocator's locks like any caller.
//
// FreeRCU takes the sheaves' localLock pinned and then tries the barn, as
// the free fast path does, or the batch's localLock alone. Nothing waits
// for a grace period while holding an allocator lock: Shrink and Destroy
// wait before they take any, and a trace hook must not wait for the
// domain (EventRCUDone's hook runs on the goroutine it would wait for).
//
// Pinned sections take no lock that can wait: only localLocks, the barn and
// (CPUSlab, caches without the double-word CAS) list_lock with TryLock.
// Trace hooks never run pinned and never with list_lock held; some run with
// CPUSlabLocked's mu or a flush's per-P locks held. The slab events fire
// once list_lock is dropped and the state they report is consistent, and
// while their hook runs list_lock counts as busy to every try-lock, as if
// it were held (traceSlab), so that the hook's no-lock calls neither
// recurse nor cascade. A hook's panic leaves no lock held and loses
// nothing: the paths that hold objects or slabs when a hook can run give
// them back on the way out (refill, bulk allocation and free, retire,
// keepOnPanic, and a new slab that goes back as if never made).
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
// handed out, a sheaf (or cpu freelist), a slab freelist, the deferred list,
// waiting for a grace period (an rcu_free sheaf, a kfree_rcu batch, or
// queued on the domain). Objects in all but the slab freelists count as in
// use on their slabs, so
//
//	sum(inuse) == handed out + cached in sheaves + on cpu freelists + deferred + RCUPending
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
