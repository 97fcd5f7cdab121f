package alloc

import (
	"testing"
)

// A P without a spare whose main fills up trades the full main for an empty
// barn sheaf; the full main becomes the spare and must not also be parked in
// the barn (an object would then be cached twice and handed out twice).
func TestSheavesFullMainWithoutSpare(t *testing.T) {
	withProcs(t, 1)
	for _, v := range variants() {
		if v.cfg.Design != Sheaves {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			c := mustCache(t, "nospare", 64, v.cfg)
			capacity := c.sheafCapacity
			objs := allocN(t, c, 4*capacity)
			if c.barn.nrEmpty == 0 {
				t.Fatalf("want empty sheaves in the barn after %d allocations", len(objs))
			}
			// A prefill takes the P's spare.
			sh, err := c.PrefillSheaf(1)
			if err != nil {
				t.Fatal(err)
			}
			if p := c.pcs.Load().p[0]; p.spare != nil {
				t.Fatal("PrefillSheaf did not take the spare")
			}
			freeAll(c, objs)
			mustValidate(t, c)
			seen := make(map[uintptr]bool)
			for i := 0; i < len(objs); i++ {
				p := c.Alloc()
				if seen[uintptr(p)] {
					t.Fatalf("object %#x handed out twice", uintptr(p))
				}
				seen[uintptr(p)] = true
				objs[i] = p
			}
			freeAll(c, objs)
			c.ReturnSheaf(sh)
			mustValidate(t, c)
			mustDestroy(t, c)
		})
	}
}
