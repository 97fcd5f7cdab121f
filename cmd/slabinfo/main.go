// Command slabinfo reports the slab caches of a running Go program the way
// the kernel's tools/mm/slabinfo reports the kernel's: one line per cache,
// the activity view (-D) or a detailed report per cache (-r), with the
// kernel tool's column headers.
//
// The program makes its caches visible by importing the slabinfo package
// and serving HTTP:
//
//	import _ "github.com/goslub/slub/alloc/slabinfo"
//	...
//	go http.ListenAndServe("localhost:6060", nil)
//
// Then:
//
//	slabinfo localhost:6060                    # one line per cache with slabs
//	slabinfo -D localhost:6060                 # allocations, frees, % fast path
//	slabinfo -r localhost:6060 '^kmalloc-64$'  # the detailed report of one cache
//	slabinfo -z snapshot.json                  # a saved snapshot, empty caches too
//
// SOURCE is host:port or an http(s) URL (the path defaults to
// /debug/slabinfo), a file holding a snapshot as /debug/slabinfo?format=json
// or /debug/vars (expvar) serve it, or - for standard input. The optional
// REGEXP picks caches by name.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/goslub/slub/alloc/slabinfo"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("slabinfo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	activity := fs.Bool("D", false, "switch the line format to activity")
	report := fs.Bool("r", false, "detailed report per cache")
	empty := fs.Bool("z", false, "include caches without slabs")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: slabinfo [-D] [-r] [-z] SOURCE [REGEXP]\n\n"+
			"SOURCE: host:port or URL of a program serving /debug/slabinfo, a snapshot file, or -\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 1 || fs.NArg() > 2 || *activity && *report {
		fs.Usage()
		return 2
	}
	opt := slabinfo.Options{Format: slabinfo.Lines, Empty: *empty}
	switch {
	case *activity:
		opt.Format = slabinfo.Activity
	case *report:
		opt.Format = slabinfo.Report
	}
	if fs.NArg() == 2 {
		re, err := regexp.Compile(fs.Arg(1))
		if err != nil {
			fmt.Fprintf(stderr, "slabinfo: %v\n", err)
			return 2
		}
		opt.Match = re
	}
	snap, err := load(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "slabinfo: %v\n", err)
		return 1
	}
	if err := snap.Write(stdout, opt); err != nil {
		fmt.Fprintf(stderr, "slabinfo: %v\n", err)
		return 1
	}
	return 0
}

// load reads a snapshot from a URL, host:port, a file or standard input.
func load(src string, stdin io.Reader) (*slabinfo.Snapshot, error) {
	var data []byte
	var err error
	switch {
	case src == "-":
		data, err = io.ReadAll(stdin)
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		data, err = fetch(src)
	default:
		data, err = os.ReadFile(src)
		if errors.Is(err, os.ErrNotExist) && strings.Contains(src, ":") {
			data, err = fetch("http://" + src)
		}
	}
	if err != nil {
		return nil, err
	}
	return decode(data)
}

// fetch gets the JSON snapshot from a program's handler.
func fetch(raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/debug/slabinfo"
	}
	if u.Path == "/debug/slabinfo" {
		q := u.Query()
		q.Set("format", "json")
		u.RawQuery = q.Encode()
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(u.String())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", u, resp.Status, bytes.TrimSpace(data))
	}
	return data, nil
}

// decode reads a snapshot, or the "slabinfo" variable of an expvar
// document.
func decode(data []byte) (*slabinfo.Snapshot, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("not a slabinfo snapshot: %v", err)
	}
	if v, ok := top["slabinfo"]; ok {
		if _, ok := top["caches"]; !ok {
			data = v
		}
	}
	var snap slabinfo.Snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, fmt.Errorf("not a slabinfo snapshot: %v", err)
	}
	if snap.Caches == nil {
		return nil, errors.New("not a slabinfo snapshot: no caches")
	}
	return &snap, nil
}
