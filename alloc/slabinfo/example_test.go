package slabinfo_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/goslub/slub/alloc"
	"github.com/goslub/slub/alloc/slabinfo"
)

// A snapshot of some caches, as tools/mm/slabinfo shows the kernel's. One
// allocation refilled a sheaf of 60, which counts as in use on the slab.
func ExampleSnapshot_Write() {
	c, _ := alloc.NewCache("requests", 64, alloc.Config{})
	p := c.Alloc()
	snap := slabinfo.TakeCaches([]*alloc.Cache{c})
	snap.Write(os.Stdout, slabinfo.Options{Format: slabinfo.Lines})
	c.Free(p)
	c.Destroy()
	// Output:
	// Name                   Objects Objsize           Space Slabs/Part/Cpu  O/S O %Fr %Ef Flg
	// requests                    60      64            4.0K          1/1/0   64 0 100  93
}

// A program with its own mux registers the handler there.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("/debug/slabinfo", slabinfo.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/debug/slabinfo?format=lines")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	// Output:
	// 200 OK text/plain; charset=utf-8
}
