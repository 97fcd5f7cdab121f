package slabinfo

import (
	"bytes"
	"encoding/json"
	"expvar"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/goslub/slub/alloc"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixture is a snapshot with numbers chosen by hand: two heaps, a debug
// cache, an old-design cache with deactivations and CAS retries, an empty
// cache.
func fixture() *Snapshot {
	counters := func(kv ...any) map[string]uint64 {
		m := map[string]uint64{}
		for i := alloc.StatItem(0); i < alloc.NumStatItems; i++ {
			m[i.String()] = 0
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = uint64(kv[i+1].(int))
		}
		return m
	}
	return &Snapshot{
		Time: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
		Caches: []Cache{
			{Name: "sessions", Design: "sheaves", Debug: "-", Align: 8, ObjectSize: 200, Size: 200, SlabSize: 8192, ObjectsPerSlab: 40,
				SheafCapacity: 26, Slabs: 30, PartialSlabs: 3, Objects: 1200, ActiveObjects: 1000, CachedObjects: 52, SlabBytes: 245760,
				Counters: counters("ALLOC_FASTPATH", 95000, "ALLOC_SLOWPATH", 5000, "FREE_FASTPATH", 98000, "FREE_SLOWPATH", 1000,
					"ALLOC_SLAB", 32, "FREE_SLAB", 2, "FREE_ADD_PARTIAL", 40, "FREE_REMOVE_PARTIAL", 2, "SHEAF_REFILL", 5200,
					"SHEAF_FLUSH", 4100, "SHEAF_ALLOC", 9, "BARN_GET", 120, "BARN_GET_FAIL", 80, "BARN_PUT", 150, "BARN_PUT_FAIL", 3,
					"SHEAF_PREFILL_FAST", 4, "SHEAF_RETURN_FAST", 4, "CMPXCHG_DOUBLE_FAIL", 7)},
			{Name: "kmalloc-64", Heap: 1, Design: "cpuslab", Debug: "-", Align: 64, ObjectSize: 64, Size: 64, SlabSize: 4096, ObjectsPerSlab: 64,
				CPUPartial: 120, Slabs: 4, PartialSlabs: 1, Objects: 256, ActiveObjects: 180, CachedObjects: 40, DeferredFrees: 1, SlabBytes: 16384,
				Counters: counters("ALLOC_FASTPATH", 7000, "ALLOC_SLOWPATH", 300, "FREE_FASTPATH", 6000, "FREE_SLOWPATH", 1100,
					"ALLOC_SLAB", 5, "FREE_SLAB", 1, "ALLOC_FROM_PARTIAL", 12, "FREE_FROZEN", 600, "CPU_PARTIAL_ALLOC", 30,
					"CPU_PARTIAL_FREE", 25, "DEACTIVATE_FULL", 10, "DEACTIVATE_EMPTY", 1, "DEACTIVATE_TO_HEAD", 4,
					"DEACTIVATE_TO_TAIL", 5, "DEACTIVATE_REMOTE_FREES", 6, "ALLOC_REFILL", 9, "CPUSLAB_FLUSH", 2,
					"CMPXCHG_DOUBLE_CPU_FAIL", 31)},
			{Name: "kmalloc-64", Heap: 2, Design: "sheaves", Debug: "FZPU", Align: 64, ObjectSize: 64, Size: 192, SlabSize: 8192, ObjectsPerSlab: 42,
				Slabs: 1, PartialSlabs: 1, Objects: 42, ActiveObjects: 3, SlabBytes: 8192,
				Counters: counters("ALLOC_SLOWPATH", 3, "ALLOC_SLAB", 1)},
			{Name: "idle", Design: "sheaves", Debug: "-", Align: 8, ObjectSize: 16, Size: 16, SlabSize: 4096, ObjectsPerSlab: 256,
				SheafCapacity: 60, Counters: counters()},
		},
	}
}

// The three reports of the fixture, against golden files.
func TestWriteGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		opt  Options
	}{
		{"lines.golden", Options{Format: Lines}},
		{"lines-empty.golden", Options{Format: Lines, Empty: true}},
		{"activity.golden", Options{Format: Activity}},
		{"report.golden", Options{Format: Report, Match: regexp.MustCompile("^(sessions|kmalloc-64)$")}},
	} {
		var buf bytes.Buffer
		if err := fixture().Write(&buf, tc.opt); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", tc.file)
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if buf.String() != string(want) {
			t.Errorf("%s differs (go test -update rewrites it); got:\n%s", tc.file, buf.String())
		}
	}
}

func TestSize(t *testing.T) {
	for v, want := range map[int64]string{0: "0", 999: "999", 1000: "1000", 1001: "1.0K", 245760: "245.7K", 16384: "16.3K", 3_500_000: "3.5M", 2_000_000_000: "2.0G"} {
		if got := size(v); got != want {
			t.Errorf("size(%d) = %q, want %q", v, got, want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]Format{"lines": Lines, "Activity": Activity, "report": Report} {
		if got, err := ParseFormat(s); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseFormat("json"); err == nil {
		t.Error(`ParseFormat("json") succeeded`)
	}
}

func get(t *testing.T, h http.Handler, url string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// The handler and expvar show live caches, with their numbers, in every
// format; DefaultServeMux has the handler.
func TestHandler(t *testing.T) {
	c, err := alloc.NewCache("slabinfo-test", 96, alloc.Config{Design: alloc.CPUSlab})
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := alloc.NewHeap(alloc.Config{})
	h2, _ := alloc.NewHeap(alloc.Config{Debug: alloc.DebugRedZone})
	var objs []unsafe.Pointer
	for range 10 {
		objs = append(objs, c.Alloc())
	}
	p1, p2 := h1.Malloc(30), h2.Malloc(30)

	code, body := get(t, http.DefaultServeMux, "/debug/slabinfo")
	if code != 200 || !strings.HasPrefix(body, "slabinfo - version: 2.1\n") || !regexp.MustCompile(`(?m)^slabinfo-test +\d+ +\d+ +96 `).MatchString(body) {
		t.Errorf("/debug/slabinfo: %d\n%s", code, body)
	}

	code, body = get(t, Handler(), "/debug/slabinfo?format=json")
	var snap Snapshot
	if err := json.Unmarshal([]byte(body), &snap); code != 200 || err != nil {
		t.Fatalf("format=json: %d, %v\n%s", code, err, body)
	}
	var mine *Cache
	heapOf := map[string][]int{}
	for i := range snap.Caches {
		sc := &snap.Caches[i]
		if sc.Name == "slabinfo-test" {
			mine = sc
		}
		heapOf[sc.Name] = append(heapOf[sc.Name], sc.Heap)
	}
	switch {
	case mine == nil:
		t.Fatal("format=json: the cache is missing")
	case mine.ActiveObjects != 10 || mine.Design != "cpuslab" || mine.ObjectSize != 96 || mine.Heap != 0:
		t.Errorf("format=json: %+v", *mine)
	case mine.Counters["ALLOC_SLAB"] == 0 || len(mine.Counters) != int(alloc.NumStatItems):
		t.Errorf("format=json counters: %v", mine.Counters)
	}
	if hs := heapOf["kmalloc-32"]; len(hs) < 2 || hs[len(hs)-1] == hs[len(hs)-2] || hs[len(hs)-1] == 0 {
		t.Errorf("kmalloc-32 of two heaps numbered %v", hs)
	}

	for f, want := range map[string]string{
		"lines":    "Name                   Objects Objsize           Space Slabs/Part/Cpu  O/S O %Fr %Ef Flg",
		"activity": "Name                   Objects      Alloc       Free   %Fast Fallb O CmpX   UL",
		"report":   "Slabcache: slabinfo-test",
	} {
		code, body := get(t, Handler(), "/debug/slabinfo?match=^slabinfo-test$&format="+f)
		if code != 200 || !strings.Contains(body, want) || strings.Contains(body, "kmalloc") {
			t.Errorf("format=%s: %d\n%s", f, code, body)
		}
	}
	if code, _ := get(t, Handler(), "/debug/slabinfo?format=xml"); code != 400 {
		t.Errorf("format=xml: %d, want 400", code)
	}
	if code, _ := get(t, Handler(), "/debug/slabinfo?format=lines&match=("); code != 400 {
		t.Errorf("a bad match: %d, want 400", code)
	}

	v := expvar.Get("slabinfo")
	if v == nil {
		t.Fatal(`expvar "slabinfo" is not published`)
	}
	var ev Snapshot
	if err := json.Unmarshal([]byte(v.String()), &ev); err != nil || len(ev.Caches) < 1+2*13 {
		t.Errorf("expvar slabinfo: %v, %d caches", err, len(ev.Caches))
	}

	for _, p := range objs {
		c.Free(p)
	}
	h1.Free(p1)
	h2.Free(p2)
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := h1.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := h2.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, Handler(), "/debug/slabinfo"); strings.Contains(body, "slabinfo-test") {
		t.Error("a destroyed cache is still shown")
	}
}
