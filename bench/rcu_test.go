package bench

import "testing"

// TestRCUReadSides: every design that runs RCURead has the read side its
// users would take.
func TestRCUReadSides(t *testing.T) {
	want := map[string]readSide{
		"sheaves":  readRCU,
		"modernc":  readRWMutex,
		"syncpool": readAtomic, "mcache": readAtomic,
		"goheap": readNone,
	}
	var w *Workload
	for _, x := range Workloads() {
		if x.Name == "RCURead" {
			w = x
		}
	}
	if w == nil {
		t.Fatal("no RCURead workload")
	}
	ran := 0
	for _, d := range Designs() {
		if skipReason(w, variant{}, d) != "" {
			if _, ok := want[d.Name]; ok {
				t.Errorf("%s skips RCURead", d.Name)
			}
			continue
		}
		ran++
		a, err := d.New(Spec{Name: "rcuread", Size: 64})
		if err != nil {
			t.Fatal(err)
		}
		side, ok := readSideOf(a)
		if w, known := want[d.Name]; !ok || !known || side != w {
			t.Errorf("%s: read side %v (known %v), want %v", d.Name, side, ok, want[d.Name])
		}
		if err := closeAllocator(a); err != nil {
			t.Error(err)
		}
	}
	if ran != len(want) {
		t.Errorf("%d designs run RCURead, want %d", ran, len(want))
	}
}
