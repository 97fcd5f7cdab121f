// Package arrowtest runs Apache Arrow programs on the allocator's
// ByteAllocator under Arrow's checked allocator: arrays, a record batch with
// list and nullable columns, an IPC round trip, Concatenate, and all of them
// in eight goroutines at once.
//
// It is a module of its own, so that the Arrow dependency stays out of the
// goslub module that programs import; scripts/test-all.sh runs it.
package arrowtest
