package alloc

import "testing"

// MallocNoLock on a debug heap records the size asked for, like Malloc, so a
// write past it is reported.
func TestDebugMallocNoLockKeepsSize(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			var reports []Report
			cfg := v.cfg
			cfg.Debug = DebugAll
			cfg.OnReport = func(r Report) { reports = append(reports, r) }
			h, err := NewHeap(cfg)
			if err != nil {
				t.Fatal(err)
			}
			p := h.MallocNoLock(18)
			if p == nil {
				t.Fatal("MallocNoLock(18) = nil on an idle heap")
			}
			if n := h.UsableSize(p); n != 18 {
				t.Errorf("UsableSize = %d, want 18", n)
			}
			b := (*[32]byte)(p)
			b[18], b[19] = 0x12, 0x34
			h.FreeNoLock(p)
			if len(reports) != 1 {
				t.Fatalf("%d reports for a write past 18 bytes, want 1: %v", len(reports), reports)
			}
			if err := h.Validate(); err != nil {
				t.Fatal(err)
			}
			if err := h.Destroy(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
