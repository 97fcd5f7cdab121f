package main

import (
	"bytes"
	"encoding/json"
	"expvar"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/goslub/slub/alloc"
	"github.com/goslub/slub/alloc/slabinfo"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// The command reads a live program's handler (by URL and by host:port),
// a snapshot file, an expvar document and standard input, and prints the
// report asked for.
func TestSlabinfo(t *testing.T) {
	c, err := alloc.NewCache("cmd-test", 200, alloc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var objs []unsafe.Pointer
	for range 5 {
		objs = append(objs, c.Alloc())
	}
	defer func() {
		for _, p := range objs {
			c.Free(p)
		}
		if err := c.Destroy(); err != nil {
			t.Error(err)
		}
	}()
	mux := http.NewServeMux()
	mux.Handle("/debug/slabinfo", slabinfo.Handler())
	mux.Handle("/debug/vars", expvar.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	code, out, errs := runCmd(t, "", srv.URL, "^cmd-test$")
	if code != 0 || !strings.HasPrefix(out, "Name                   Objects Objsize           Space Slabs/Part/Cpu") ||
		!strings.Contains(out, "\ncmd-test ") || strings.Count(out, "\n") != 2 {
		t.Errorf("lines: exit %d, stderr %q\n%s", code, errs, out)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	code, out, _ = runCmd(t, "", "-D", host, "^cmd-test$")
	if code != 0 || !strings.Contains(out, "%Fast Fallb O CmpX   UL") || !strings.Contains(out, "\ncmd-test ") {
		t.Errorf("-D host:port: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "", "-r", srv.URL+"/debug/vars", "^cmd-test$")
	if code != 0 || !strings.Contains(out, "Slabcache: cmd-test ") || !strings.Contains(out, "Slab Perf Counter") {
		t.Errorf("-r from /debug/vars: exit %d\n%s", code, out)
	}

	resp, err := http.Get(srv.URL + "/debug/slabinfo?format=json")
	if err != nil {
		t.Fatal(err)
	}
	var snap slabinfo.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	data, _ := json.Marshal(&snap)
	file := filepath.Join(t.TempDir(), "snap.json")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	snap.Write(&want, slabinfo.Options{Format: slabinfo.Lines, Empty: true})
	for _, src := range []string{file, "-"} {
		code, out, errs := runCmd(t, string(data), "-z", src)
		if code != 0 || out != want.String() {
			t.Errorf("-z %s: exit %d, stderr %q\n%s\nwant\n%s", src, code, errs, out, want.String())
		}
	}
}

func TestSlabinfoErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{nil, "", 2, "usage: slabinfo"},
		{[]string{"-D", "-r", "x"}, "", 2, "usage: slabinfo"},
		{[]string{"-", "("}, "", 2, "error parsing regexp"},
		{[]string{"-"}, "not json", 1, "not a slabinfo snapshot"},
		{[]string{"-"}, `{"memstats": {}}`, 1, "no caches"},
		{[]string{"/does/not/exist"}, "", 1, "no such file"},
		{[]string{srv.URL}, "", 1, "404 Not Found"},
	} {
		code, _, errs := runCmd(t, tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("slabinfo %q: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}
