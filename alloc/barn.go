package alloc

import "sync"

// barn is the kernel's node_barn: full and empty sheaves shared by all Ps,
// so a P can trade an empty main sheaf for a full one (or a full for an
// empty) with one lock round trip instead of touching slabs.
type barn struct {
	mu              sync.Mutex // protects everything below
	full, empty     *Sheaf     // stacks linked by Sheaf.next
	nrFull, nrEmpty int
	maxFull         int // full sheaves it holds at most: maxFullSheaves, or less (bound.go); set before use
}

// maxFullSheaves is MAX_FULL_SHEAVES. (MAX_EMPTY_SHEAVES bounds only the
// kfree_rcu path: rcu_sheaf.go.)
const maxFullSheaves = 10

func (b *barn) lock(try bool) bool {
	if try {
		return b.mu.TryLock()
	}
	b.mu.Lock()
	return true
}

func (b *barn) popFull() *Sheaf {
	sh := b.full
	if sh != nil {
		b.full = sh.next
		sh.next = nil
		b.nrFull--
	}
	return sh
}

func (b *barn) popEmpty() *Sheaf {
	sh := b.empty
	if sh != nil {
		b.empty = sh.next
		sh.next = nil
		b.nrEmpty--
	}
	return sh
}

func (b *barn) pushFull(sh *Sheaf) {
	sh.next = b.full
	b.full = sh
	b.nrFull++
}

func (b *barn) pushEmpty(sh *Sheaf) {
	sh.next = b.empty
	b.empty = sh
	b.nrEmpty++
}

// replaceEmpty is barn_replace_empty_sheaf: trade the empty main for a full
// sheaf (the sheaves exchange what they hold, and the barn keeps the
// empty). false when the barn has no full sheaf or, with try, its lock is
// busy.
func (b *barn) replaceEmpty(main *sheafObjs, try bool) bool {
	if !b.lock(try) {
		return false
	}
	full := b.popFull()
	if full != nil {
		main.swap(full)
		b.pushEmpty(full)
	}
	b.mu.Unlock()
	return full != nil
}

// replaceFull is barn_replace_full_sheaf: trade the full main for an empty
// sheaf (they exchange what they hold, and the barn keeps the full one);
// false when the barn holds maxFull full ones, has no empty one or, with
// try, its lock is busy.
func (b *barn) replaceFull(main *sheafObjs, try bool) bool {
	if !b.lock(try) {
		return false
	}
	var empty *Sheaf
	if b.nrFull < b.maxFull {
		if empty = b.popEmpty(); empty != nil {
			main.swap(empty)
			b.pushFull(empty)
		}
	}
	b.mu.Unlock()
	return empty != nil
}

func (b *barn) getFull() *Sheaf {
	b.mu.Lock()
	sh := b.popFull()
	b.mu.Unlock()
	return sh
}

func (b *barn) getEmpty() *Sheaf {
	b.mu.Lock()
	sh := b.popEmpty()
	b.mu.Unlock()
	return sh
}

// getFullOrEmpty is barn_get_full_or_empty_sheaf: a full sheaf if the barn
// has one, else an empty one, else nil.
func (b *barn) getFullOrEmpty() *Sheaf {
	b.mu.Lock()
	sh := b.popFull()
	if sh == nil {
		sh = b.popEmpty()
	}
	b.mu.Unlock()
	return sh
}

// fullCount returns nr_full, which may be stale once returned (the kernel
// reads it with data_race for such decisions).
func (b *barn) fullCount() int {
	b.mu.Lock()
	n := b.nrFull
	b.mu.Unlock()
	return n
}

// putFull stores a full (or partly full) sheaf; false when the barn already
// holds maxFull.
func (b *barn) putFull(sh *Sheaf) bool {
	b.mu.Lock()
	ok := b.nrFull < b.maxFull
	if ok {
		b.pushFull(sh)
	}
	b.mu.Unlock()
	return ok
}

// putEmpty stores an empty sheaf whatever the barn holds
// (barn_put_empty_sheaf: the sheaf exists already, and dropping it would
// only make a later free allocate another).
func (b *barn) putEmpty(sh *Sheaf) {
	b.mu.Lock()
	b.pushEmpty(sh)
	b.mu.Unlock()
}

// takeAll empties the barn (barn_shrink).
func (b *barn) takeAll() (full, empty *Sheaf) {
	b.mu.Lock()
	full, empty = b.full, b.empty
	b.full, b.empty = nil, nil
	b.nrFull, b.nrEmpty = 0, 0
	b.mu.Unlock()
	return full, empty
}
