package slabinfo

import (
	"encoding/json"
	"expvar"
	"fmt"
	"net/http"
	"regexp"

	"github.com/goslub/slub/alloc"
)

func init() {
	http.Handle("/debug/slabinfo", Handler())
	expvar.Publish("slabinfo", expvar.Func(func() any { return Take() }))
}

// Handler serves every live cache of the process. The query says how:
//
//	(none)                   /proc/slabinfo 2.1 (alloc.WriteSlabInfo)
//	format=json              a Snapshot as JSON, what cmd/slabinfo reads
//	format=lines             tools/mm/slabinfo's default line per cache
//	format=activity          slabinfo -D
//	format=report            slabinfo -r
//	empty=1                  with lines, activity and report: also caches without slabs
//	match=REGEXP             with lines, activity and report: only caches whose name matches
//
// Taking the numbers briefly holds each cache's locks (alloc.Cache.Stats).
func Handler() http.Handler { return http.HandlerFunc(serve) }

func serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch f := q.Get("format"); f {
	case "":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		alloc.WriteSlabInfo(w, alloc.Caches()...)
	case "json":
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(Take())
	default:
		format, err := ParseFormat(f)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		opt := Options{Format: format, Empty: q.Get("empty") == "1"}
		if m := q.Get("match"); m != "" {
			if opt.Match, err = regexp.Compile(m); err != nil {
				http.Error(w, fmt.Sprintf("slabinfo: match: %v", err), http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		Take().Write(w, opt)
	}
}
