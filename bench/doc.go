// Package bench holds the benchmark workloads of goslub, the allocators they
// run on, and the writing of result files. The same code runs under
// `go test -bench ./bench` and under the slabbench command.
//
// # Workloads
//
// Each workload is written once against the small Allocator interface below
// (allocate and free a size; optional bulk, no-lock, shrink and footprint
// extensions) and runs on every design that can do what it needs:
//
//	Pair          allocate one object and free it at once (the fast path)
//	KmallocPair   the same through the interface for any size (alloc.Heap)
//	PairParallel  the same from every P at once (b.RunParallel)
//	Batch         allocate n objects, then free them, in order or shuffled,
//	              with sheaves of the automatic capacity and of the kernel's
//	              benchmark (cap=32: designs with sheaves only)
//	Bulk          AllocBulk / FreeBulk of n objects
//	NoLock        AllocNoLock + FreeNoLock
//	NoLockHook    AllocNoLock + FreeNoLock called from the allocator's trace hook,
//	              while it may hold its own locks; counts the nil returns
//	Larson        server with bleeding: random sizes, slots handed to successors
//	Xmalloc       producers allocate, consumers free: every free is remote
//	CacheScratch  passive false sharing (an object handed to another thread)
//	CacheThrash   active false sharing (objects allocated at the same time)
//	RCURead       an empty read-side section: alloc.RCU ReadLock + ReadUnlock, or
//	              what a user of a baseline would take (see rcu.go)
//	FreeRCU       objects in a shared table replaced by every P and freed with
//	              FreeRCU, read in RCU sections: the kfree_rcu paths of the alloc
//	              designs, with grace-period latency (see freercu.go)
//
// The floor of the fast path, a per-P stack pop and push under procPin with
// no allocator around it, runs as the pseudo-design floor of Pair and
// PairParallel, so that it sits in the same benchstat row as the allocators.
//
// The workloads are written so that the harness adds nothing that differs
// between runs or designs: the state each worker writes (a random source, a
// per-P stack, a shared counter) sits on cache lines of its own (lineSlice),
// and memory is sampled outside the timed loop except in Xmalloc, whose
// producer 0 samples every eighth of its batches (about 1% of the run).
//
// # Call depth
//
// Every design is reached the same way, so that a difference in ns/op is a
// difference between allocators and not between call paths: the workload
// calls a method of the Allocator interface (one indirect call), and that
// method makes one direct call to the allocator proper: alloc.Cache.Alloc,
// alloc.Heap.Malloc, sync.Pool.Get, modernc's UintptrMalloc (behind
// UnsafeMalloc, a wrapper the compiler inlines), mcache.Malloc, the
// runtime's makeslice for goheap, and floor's pop and push, which are kept
// out of line (go:noinline) for that reason. An allocator whose entry point
// the compiler inlines into its Allocator method saves that call, as it
// would in a program that calls it.
//
// # Designs
//
// The designs of package alloc come first, one line each in allocDesigns
// ("sheaves" and "cpuslab" today), named as alloc.Design.String names them;
// what each can do beyond the common API (sheaves, for cap=N) is read off
// the design. The baselines are what a Go programmer would use instead:
// "goheap" (make with the garbage collector), "syncpool" (sync.Pool),
// "modernc" (modernc.org/memory, behind a mutex where the workload is
// concurrent) and "mcache" (github.com/bytedance/gopkg/lang/mcache). A
// combination that a design cannot run (sync.Pool has no bulk API) is
// skipped with the reason; see Skip.
//
// Results are written in the Go benchmark format with the configuration
// lines of RunConfig; the slabbench command runs the suite, compares the
// designs with benchstat's statistics and plots the results.
//
// # Names and units
//
// Benchmark names carry /key=value parts, with the allocator always last as
// /design=NAME, so that `benchstat -col /design` compares designs:
//
//	BenchmarkBatch/n=100/order=shuffled/cap=auto/design=sheaves-2
//
// Besides ns/op (and B/op, allocs/op: allocations on the Go heap, which the
// alloc designs and modernc make none of in steady state), workloads report:
//
//	ns/obj            time per object (Batch, Bulk, NoLockHook: ns/op divided by n)
//	allocs/s, frees/s throughput (Larson, Xmalloc)
//	nil/op            AllocNoLock calls that returned nil, per call (NoLock)
//	hook-calls/op     AllocNoLock + FreeNoLock pairs made from the trace hook
//	                  per op (NoLockHook)
//	nil/hook-call     the share of those AllocNoLock calls that returned nil
//	gp-ms             the mean grace-period latency of a FreeRCU hand-over (FreeRCU)
//	pending-objs      objects waiting for grace periods when the ops end (FreeRCU)
//	sheaf-capacity    objects per sheaf of the cache (Batch, designs with
//	                  sheaves): what cap= got, since the design may round up
//
// and memory, measured outside the timed part:
//
//	peak-mapped-B     bytes the allocator had mapped at the workload's peak,
//	                  above what it had mapped when the workload started
//	mapped-B/live-B   those bytes per byte the workload held live at the peak
//	end-mapped-B      bytes still mapped after the workload freed everything
//	shrunk-mapped-B   bytes still mapped after Shrink: near 0 when Shrink gives
//	                  the pages back
//
// For the alloc designs "mapped" is the slab memory of the cache (or heap)
// under test; for the Go heap baselines it is the resident Go heap; for
// modernc it is the resident memory of the process outside the Go runtime.
package bench
