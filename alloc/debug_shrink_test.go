package alloc

import "testing"

// Shrink takes a last look at the objects of the empty debug slabs it frees,
// as a free that empties a slab does: damage to a free object found there is
// reported before the memory goes.
func TestDebugShrinkLastLook(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			var reports []Report
			cfg := v.cfg
			cfg.Debug = DebugAll
			cfg.OnReport = func(r Report) { reports = append(reports, r) }
			c := mustCache(t, "lastlook", 64, cfg)
			p := c.Alloc()
			c.Free(p)
			// The slab is empty and kept (below min_partial); overwrite a
			// byte of the freed object's poison.
			(*[64]byte)(p)[10] = 0
			c.Shrink()
			if len(reports) != 1 {
				t.Fatalf("%d reports, want 1 for the damaged free object: %v", len(reports), reports)
			}
			if st := c.Stats(); st.Slabs != 0 {
				t.Fatalf("%d slabs after Shrink", st.Slabs)
			}
			mustDestroy(t, c)
		})
	}
}
