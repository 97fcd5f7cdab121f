package alloc

import (
	"sync"
	"testing"
)

// The free objects a cache parks above its slabs never pass the bound
// Stats reports, the design's own or what Config.MaxCachedObjects asked
// for, however the objects were freed; and the bound with a cap is no
// larger than the cap where the design can honour it.
func TestCachedObjectsBounded(t *testing.T) {
	withProcs(t, 2)
	for _, tc := range []struct {
		size, max int
	}{
		{64, 0}, {64, 100}, {256 << 10, 0}, {256 << 10, 8}, {1000, 1},
	} {
		eachVariant(t, func(t *testing.T, cfg Config) {
			cfg.MaxCachedObjects = tc.max
			c := mustCache(t, "bounded", tc.size, cfg)
			n := 40 * c.objsPerSlab
			if tc.size > 4096 {
				n = 64
			}
			var wg sync.WaitGroup
			for g := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					objs := allocN(t, c, n/2)
					if g == 1 {
						for i := 0; i < len(objs); i += 16 {
							c.FreeBulk(objs[i:min(i+16, len(objs))])
						}
					} else {
						freeAll(c, objs)
					}
				}()
			}
			wg.Wait()
			st := c.Stats()
			if st.CachedObjects > st.MaxCachedObjects {
				t.Errorf("size %d, cap %d: %d objects cached, bound %d", tc.size, tc.max, st.CachedObjects, st.MaxCachedObjects)
			}
			// What the design cannot do without: a one-object sheaf per P
			// and role, a cpu slab per P.
			floor := int64(0)
			if st.SheafCapacity > 0 {
				floor += 4
			}
			if c.cpus.Load() != nil {
				floor += 2 * int64(c.objsPerSlab)
			}
			if tc.max > 0 && st.MaxCachedObjects > max(int64(tc.max), floor) {
				t.Errorf("size %d, cap %d: bound %d (design floor %d)", tc.size, tc.max, st.MaxCachedObjects, floor)
			}
			if c.barn.nrFull > c.barn.maxFull {
				t.Errorf("barn holds %d full sheaves, limit %d", c.barn.nrFull, c.barn.maxFull)
			}
			mustFinish(t, c)
		})
	}
}

// A sheaf installed after an unpinned refill on a P whose main and spare
// both have objects goes to the barn only while the barn has room: the
// barn never holds more than its limit (the kernel lets it pass the limit
// there).
func TestInstallSheafRespectsBarnLimit(t *testing.T) {
	withProcs(t, 1)
	eachDesign(t, sheafDesigns, func(t *testing.T, cfg Config) {
		c := mustCache(t, "install", 64, cfg)
		objs := allocN(t, c, 3*c.sheafCapacity)
		freeAll(c, objs[:2*c.sheafCapacity]) // main and spare hold objects
		for c.barn.fullCount() < c.barn.maxFull {
			f := c.newSheaf(c.sheafCapacity)
			if !c.refillSheaf(&f.sheafObjs, false) || !c.barn.putFull(f) {
				t.Fatal("cannot fill the barn")
			}
		}
		p := &c.pcs.Load().p[0]
		if p.main.size == 0 || p.spare == nil || p.spare.size == 0 {
			t.Fatalf("main %d, spare %v: want both with objects", p.main.size, p.spare)
		}
		sh := c.newSheaf(c.sheafCapacity)
		if !c.refillSheaf(&sh.sheafObjs, false) {
			t.Fatal("refill failed")
		}
		fail := counter(c, BarnPutFail)
		c.installSheaf(sh)
		if n := c.barn.fullCount(); n > c.barn.maxFull {
			t.Errorf("barn holds %d full sheaves after installSheaf, limit %d", n, c.barn.maxFull)
		}
		if counter(c, BarnPutFail) != fail+1 {
			t.Error("the sheaf the barn could not take was not counted as BARN_PUT_FAIL")
		}
		freeAll(c, objs[2*c.sheafCapacity:])
		mustFinish(t, c)
	})
}
