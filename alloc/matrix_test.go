package alloc

import (
	"strings"
	"testing"
)

// variant is one point of the test matrix: a design, with or without the
// double-word CAS.
type variant struct {
	name string
	cfg  Config
}

func variants() []variant {
	return []variant{
		{"sheaves", Config{Design: Sheaves}},
		{"sheaves/nodcas", Config{Design: Sheaves, noDCAS: true}},
		{"cpuslab", Config{Design: CPUSlab}},
		{"cpuslab/nodcas", Config{Design: CPUSlab, noDCAS: true}},
		{"cpuslab-locked", Config{Design: CPUSlabLocked}},
		{"cpuslab-locked/nodcas", Config{Design: CPUSlabLocked, noDCAS: true}},
		{"hybrid", Config{Design: Hybrid}},
		{"hybrid/nodcas", Config{Design: Hybrid, noDCAS: true}},
	}
}

// The designs that share a layer, for tests of that layer.
var (
	cpuSlabDesigns = []Design{CPUSlab, CPUSlabLocked} // a cpu slab layer and nothing in front
	sheafDesigns   = []Design{Sheaves, Hybrid}        // per-P sheaves
)

// sheafHits returns the counters that count a design's sheaf hits:
// ALLOC_FASTPATH and FREE_FASTPATH, or in Hybrid ALLOC_PCS and FREE_PCS.
func sheafHits(d Design) (alloc, free StatItem) {
	if d == Hybrid {
		return AllocPCS, FreePCS
	}
	return AllocFastpath, FreeFastpath
}

// cpuCached counts the objects on the cpu freelists of c's Ps: in Hybrid,
// what the cpu slab layer caches below the sheaves.
func cpuCached(c *Cache) int64 {
	var n int64
	if a := c.cpus.Load(); a != nil {
		for _, cc := range a.c {
			n += int64(c.cpuFreelistLen(cc))
		}
	}
	return n
}

// benchName is the variant's name as a benchmark's /design= value
// ("sheaves-nodcas").
func (v variant) benchName() string { return strings.ReplaceAll(v.name, "/", "-") }

// eachVariant runs f for every design, with and without the double-word CAS.
func eachVariant(t *testing.T, f func(t *testing.T, cfg Config)) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) { f(t, v.cfg) })
	}
}

func mustCache(t testing.TB, name string, size int, cfg Config) *Cache {
	t.Helper()
	c, err := NewCache(name, size, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustValidate(t testing.TB, c *Cache) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func mustDestroy(t testing.TB, c *Cache) {
	t.Helper()
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// mustFinish ends a test whose objects are all freed: the cache is
// consistent, hands out nothing, and destroys cleanly.
func mustFinish(t testing.TB, c *Cache) {
	t.Helper()
	mustValidate(t, c)
	if n := activeObjects(c); n != 0 {
		t.Errorf("%s: ActiveObjects %d after freeing everything", c.Name(), n)
	}
	mustDestroy(t, c)
}
