package alloc

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// FuzzOps decodes bytes into a script of operations on three caches (both
// designs, with or without the double-word CAS, one under a memory limit)
// and checks every step against a model: the set of live objects, each
// stamped with a pattern. The seed corpus in testdata/fuzz/FuzzOps runs as a
// normal test; go test -fuzz FuzzOps ./alloc explores further.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 7, 0})
	f.Add([]byte{7, 2, 1, 40, 8, 2, 30, 9, 2, 5, 10, 2, 7, 1, 7, 2})
	f.Fuzz(func(t *testing.T, script []byte) {
		runScript(t, script)
	})
}

type fuzzObj struct {
	p   unsafe.Pointer
	tag byte
}

type fuzzCache struct {
	c       *Cache
	limited bool // may run out of memory
	live    []fuzzObj
	sheaf   *Sheaf // a prefilled sheaf the script holds
}

// script reads the operation bytes.
type script struct {
	b []byte
	i int
}

func (s *script) next() (byte, bool) {
	if s.i >= len(s.b) {
		return 0, false
	}
	s.i++
	return s.b[s.i-1], true
}

func (s *script) arg() int {
	v, _ := s.next()
	return int(v)
}

func runScript(t *testing.T, b []byte) {
	if len(b) == 0 {
		return
	}
	if len(b) > 4096 {
		b = b[:4096]
	}
	s := &script{b: b}
	flags := s.arg()
	mk := func(i int, name string, size int, cfg Config) *fuzzCache {
		cfg.noDCAS = flags&(1<<i) != 0
		c, err := NewCache(name, size, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return &fuzzCache{c: c, limited: cfg.MemoryLimit > 0}
	}
	caches := []*fuzzCache{
		mk(0, "fuzz-sheaves", 40, Config{Design: Sheaves}),
		mk(1, "fuzz-cpuslab", 200, Config{Design: CPUSlab}),
		mk(2, "fuzz-limited", 1000, Config{Design: Design(flags >> 3 & 1), MemoryLimit: 4 * 2 * pageSize}),
	}
	live := map[uintptr]bool{}
	var tag byte
	add := func(fc *fuzzCache, p unsafe.Pointer, what string) {
		if p == nil {
			t.Fatalf("%s: nil object", what)
		}
		if live[uintptr(p)] {
			t.Fatalf("%s: %s handed out %#x while it was live", fc.c.Name(), what, uintptr(p))
		}
		live[uintptr(p)] = true
		tag++
		fillPattern(p, fc.c.ObjectSize(), tag)
		fc.live = append(fc.live, fuzzObj{p, tag})
	}
	take := func(fc *fuzzCache, i int) fuzzObj {
		i %= len(fc.live)
		o := fc.live[i]
		fc.live[i] = fc.live[len(fc.live)-1]
		fc.live = fc.live[:len(fc.live)-1]
		if err := checkPattern(o.p, fc.c.ObjectSize(), o.tag); err != nil {
			t.Fatalf("%s: %v", fc.c.Name(), err)
		}
		delete(live, uintptr(o.p))
		return o
	}
	check := func(fc *fuzzCache) {
		if err := fc.c.Validate(); err != nil {
			t.Fatal(err)
		}
		want := int64(len(fc.live))
		if fc.sheaf != nil {
			want += int64(fc.sheaf.Len())
		}
		if got := fc.c.Stats().ActiveObjects; got != want {
			t.Fatalf("%s: ActiveObjects %d, model %d", fc.c.Name(), got, want)
		}
	}
	for op, ok := s.next(); ok; op, ok = s.next() {
		fc := caches[s.arg()%len(caches)]
		c := fc.c
		switch op % 12 {
		case 0:
			p := c.Alloc()
			if p == nil && !fc.limited {
				t.Fatalf("%s: Alloc returned nil", c.Name())
			}
			if p != nil {
				add(fc, p, "Alloc")
			}
		case 1:
			if len(fc.live) > 0 {
				c.Free(take(fc, s.arg()).p)
			}
		case 2:
			objs := make([]unsafe.Pointer, s.arg()%70)
			got := c.AllocBulk(objs)
			switch {
			case got == len(objs):
				for _, p := range objs {
					add(fc, p, "AllocBulk")
				}
			case got != 0:
				t.Fatalf("%s: AllocBulk(%d) = %d", c.Name(), len(objs), got)
			case len(objs) > 0 && !fc.limited:
				t.Fatalf("%s: AllocBulk(%d) failed", c.Name(), len(objs))
			}
		case 3:
			var objs []unsafe.Pointer
			for k := s.arg() % 70; k > 0 && len(fc.live) > 0; k-- {
				objs = append(objs, take(fc, k).p)
			}
			c.FreeBulk(objs)
		case 4:
			if p := c.AllocNoLock(); p != nil {
				add(fc, p, "AllocNoLock")
			}
		case 5:
			if len(fc.live) > 0 {
				c.FreeNoLock(take(fc, s.arg()).p)
			}
		case 6:
			c.Shrink()
		case 7:
			check(fc)
		case 8:
			if fc.sheaf != nil {
				c.ReturnSheaf(fc.sheaf)
				fc.sheaf = nil
			}
			n := s.arg() % 100
			sh, err := c.PrefillSheaf(n)
			switch {
			case err == nil && sh.Len() < n:
				t.Fatalf("%s: PrefillSheaf(%d) holds %d", c.Name(), n, sh.Len())
			case err == nil:
				fc.sheaf = sh
			case !fc.limited:
				t.Fatalf("%s: PrefillSheaf(%d): %v", c.Name(), n, err)
			}
		case 9:
			if fc.sheaf != nil {
				for k := s.arg() % 70; k > 0 && fc.sheaf.Len() > 0; k-- {
					add(fc, fc.sheaf.Alloc(), "Sheaf.Alloc")
				}
			}
		case 10:
			if fc.sheaf != nil {
				c.ReturnSheaf(fc.sheaf)
				fc.sheaf = nil
			}
		case 11:
			if fc.sheaf != nil {
				n := s.arg() % 100
				err := c.RefillSheaf(fc.sheaf, n)
				switch {
				case err == nil && fc.sheaf.Len() < n:
					t.Fatalf("%s: RefillSheaf(%d) holds %d", c.Name(), n, fc.sheaf.Len())
				case err != nil && !fc.limited:
					t.Fatalf("%s: RefillSheaf(%d): %v", c.Name(), n, err)
				}
			}
		}
	}
	for _, fc := range caches {
		check(fc)
		for len(fc.live) > 0 {
			fc.c.Free(take(fc, 0).p)
		}
		fc.c.ReturnSheaf(fc.sheaf)
		fc.sheaf = nil
		check(fc)
		if err := fc.c.Destroy(); err != nil {
			t.Fatal(err)
		}
	}
}

// The checked-in corpus must keep covering every operation on every cache.
func TestFuzzCorpusCoverage(t *testing.T) {
	var ops [12][3]int
	entries := readCorpus(t)
	for _, b := range entries {
		s := &script{b: b}
		s.arg()
		for op, ok := s.next(); ok; op, ok = s.next() {
			ci := s.arg() % 3
			ops[op%12][ci]++
			switch op % 12 {
			case 1, 2, 3, 5, 8, 9, 11:
				s.arg()
			}
		}
	}
	for op := range ops {
		for ci, n := range ops[op] {
			if n == 0 {
				t.Errorf("the corpus never runs operation %d on cache %d", op, ci)
			}
		}
	}
	if len(entries) < 5 {
		t.Errorf("%d corpus entries", len(entries))
	}
}

// readCorpus reads the scripts of testdata/fuzz/FuzzOps.
func readCorpus(t *testing.T) [][]byte {
	dir := filepath.Join("testdata", "fuzz", "FuzzOps")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a one-value corpus file", f.Name())
		}
		b, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		out = append(out, []byte(b))
	}
	return out
}
