// Package model holds Promela models of the allocator's lock-free protocols
// and a test that checks them with the spin model checker. It has no code of
// its own: the models are the .pml files here. Each names the code it
// mirrors (file and function), and that code's comment names the model, so a
// change to one shows in the other.
//
// # The models
//
//	cpuslab_locked.pml  CPUSlabLocked: the unpinned (freelist, tid) fast path
//	                    with LOCK CMPXCHG16B, goroutine migration between any
//	                    two steps, a trace hook's no-lock calls, and the per-P
//	                    lock holder publishing a freelist while the slab
//	                    pointer is nil (alloc/cpuslab_locked.go)
//	cpuslab_pinned.pml  CPUSlab: pinned, unlocked CMPXCHG16B, remote changers
//	                    excluded by the per-P localLock, on x86-TSO with store
//	                    buffers (alloc/cpuslab_pinned.go)
//	slabfree.pml        __slab_free on (freelist, counters) with the
//	                    speculative list_lock, against refill's whole-freelist
//	                    take and deactivate_slab; with and without the
//	                    double-word CAS (alloc/slab_free.go, alloc/refill.go,
//	                    alloc/cpuslab.go)
//	locallock.pml       the Sheaves per-P lock: owner's plain store and load
//	                    against remote lockers' flag and membarrier, on
//	                    x86-TSO (alloc/locallock*.go)
//	deferred.pml        the deferred-free list: lock-free pushes against
//	                    whole-list drains, a push from a hook during a drain
//	                    (alloc/deferred.go)
//	rcu.pml             the RCU grace periods: per-P lock and unlock counts
//	                    of readers that move between Ps, plain stores on
//	                    x86-TSO, against the two-index scan with membarrier;
//	                    Synchronize, the callback queue and its goroutine,
//	                    Barrier (alloc/rcu.go, alloc/rcu_callback.go)
//
// rcu.pml checks kfree_rcu's rule: no callback runs, and no Synchronize
// returns, while a reader section that began before the callback was queued
// (Synchronize was called) is still inside, with a ghost record of the
// readers inside and with the end-to-end check that a reader never uses an
// object after its free ran. Its mutants drop the membarrier (a buffered
// lock count is missed), skip a wait of the two-index scan (a reader that
// loaded idx before a flip counts late), sum the locks before the unlocks,
// read each P's two counters together (wrong only because readers move
// between Ps: it passes when none moves), let a running grace period serve
// a later batch, and break the callback queue's wake-ups and order. It does
// not check the per-P array's growth, misuse (a token unlocked twice),
// readers that never stop (what the flip is for: without it the model still
// passes), or machines weaker than x86-TSO.
//
// Each model states its properties (assertions: no object handed out twice,
// none lost, counters equal to the freelist, a slab on at most one list,
// mutual exclusion), its bound (objects, operations per process, store
// buffer size) and its mutants: variants selected with -D that break one
// rule of the protocol (drop the tid step, skip the nil publication, swap two
// flush steps, drop the barrier, ...). The test runs every model, which must
// pass, and every mutant, which must fail with the counterexample named in
// the test, so a model that can no longer fail is caught. Progress runs
// (pan -l -f, weak fairness) check that no retry loop cycles once the others
// stop. Witness runs (-DWITNESS=n, full runs only) show that a bound reaches
// the branches the model is about.
//
// # Running
//
// go test ./alloc/model runs the bounded checks (about 50 CPU seconds; spin
// and a C compiler must be on PATH, else the test says so and skips).
// GOSLUB_MODELS=full (or -full) adds the larger bounds and the witnesses
// (minutes; scripts/models.sh runs them), GOSLUB_MODELS=off skips the
// package. To look at a counterexample by hand:
//
//	spin -a -DNEXTLATE deferred.pml && cc -DSAFETY -o pan pan.c && ./pan
//	spin -t -p -DNEXTLATE deferred.pml
//
// # What is not checked
//
// The models abstract what another model or a lock covers: slab-level steps
// are one atomic step in the cpu-slab and deferred-list models (slabfree.pml
// checks them), list handling beyond S's own flags is a list_lock holder's
// business, the sheaves and the barn are plain data under the per-P lock (one
// counter in locallock.pml), and the CPUSlab paths without the double-word
// CAS take the per-P mutex. The bounds are small: a protocol bug that needs
// more objects, operations or Ps than a model's bound is not found. Nothing
// here checks the Go code itself; a change to a protocol must be made in its
// model too.
package model
