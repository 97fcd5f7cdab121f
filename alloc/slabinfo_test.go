package alloc

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

const slabinfoGolden = `slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
golden                60     64     64   64    1 : tunables    0    0    0 : slabdata      1      1      0
golden-cpu            32     32    128   32    1 : tunables    0    0    0 : slabdata      1      1      0
empty-one              0      0   1000    8    2 : tunables    0    0    0 : slabdata      0      0      0
a-rather-long-cache-name      0      0      8  512    1 : tunables    0    0    0 : slabdata      0      0      0
`

// The /proc/slabinfo 2.1 format, column for column. As in SLUB, objects
// cached in sheaves and on cpu freelists count as active.
func TestWriteSlabInfoGolden(t *testing.T) {
	withProcs(t, 1) // slab orders and per-P caching depend on the P count
	sheaves := mustCache(t, "golden", 64, Config{})
	cpu := mustCache(t, "golden-cpu", 128, Config{Design: CPUSlab})
	empty := mustCache(t, "empty-one", 1000, Config{})
	long := mustCache(t, "a-rather-long-cache-name", 8, Config{Design: CPUSlab})
	p := sheaves.Alloc() // refills one sheaf of 60 from a 64-object slab
	var held [5]uintptr
	for i := range held {
		held[i] = uintptr(cpu.Alloc()) // takes a whole 32-object cpu slab
	}
	var b bytes.Buffer
	if err := WriteSlabInfo(&b, sheaves, cpu, empty, long); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != slabinfoGolden {
		t.Errorf("got:\n%s\nwant:\n%s", got, slabinfoGolden)
	}
	sheaves.Free(p)
	for _, a := range held {
		cpu.Free(ptr(a))
	}
	for _, c := range []*Cache{sheaves, cpu, empty, long} {
		mustValidate(t, c)
		mustDestroy(t, c)
	}
}

// Every variant: one header, one row per cache, the counts consistent with
// Stats, and the row's fields where the format puts them.
func TestWriteSlabInfo(t *testing.T) {
	eachVariant(t, func(t *testing.T, cfg Config) {
		c := mustCache(t, "info", 200, cfg)
		objs := allocN(t, c, 3*c.objsPerSlab/2)
		var b bytes.Buffer
		if err := WriteSlabInfo(&b, c); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(lines) != 3 || lines[0] != "slabinfo - version: 2.1" || !strings.HasPrefix(lines[1], "# name ") {
			t.Fatalf("output:\n%s", b.String())
		}
		row := lines[2]
		if !strings.HasPrefix(row, "info              ") || row[17] != ' ' {
			t.Errorf("name column: %q", row)
		}
		f := strings.Fields(row)
		st := c.Stats()
		want := []string{"info", itoaTest(st.ActiveObjects + st.CachedObjects + st.DeferredFrees), itoaTest(st.Objects),
			itoaTest(int64(st.Size)), itoaTest(int64(st.ObjectsPerSlab)), itoaTest(int64(st.SlabSize / pageSize)),
			":", "tunables", "0", "0", "0", ":", "slabdata", itoaTest(st.Slabs), itoaTest(st.Slabs), "0"}
		if strings.Join(f, " ") != strings.Join(want, " ") {
			t.Errorf("row %q\nwant fields %q", row, want)
		}
		freeAll(c, objs)
		mustDestroy(t, c)
	})
	if err := WriteSlabInfo(failingWriter{}); err == nil {
		t.Error("WriteSlabInfo to a failing writer returned no error")
	}
}

func itoaTest(n int64) string { return strconv.FormatInt(n, 10) }

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
