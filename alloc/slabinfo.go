package alloc

import (
	"bufio"
	"fmt"
	"io"
)

// WriteSlabInfo writes the caches in the /proc/slabinfo 2.1 format. As in
// SLUB, the tunables are 0 and objects cached in sheaves (or on cpu
// freelists) and the barn, or waiting for a grace period, count as active.
func WriteSlabInfo(w io.Writer, caches ...*Cache) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "slabinfo - version: 2.1")
	fmt.Fprintln(bw, "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>")
	for _, c := range caches {
		st := c.Stats()
		active := st.ActiveObjects + st.CachedObjects + st.DeferredFrees + st.RCUPending
		fmt.Fprintf(bw, "%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : slabdata %6d %6d %6d\n",
			st.Name, active, st.Objects, st.Size, st.ObjectsPerSlab, st.SlabSize/pageSize,
			0, 0, 0, st.Slabs, st.Slabs, 0)
	}
	return bw.Flush()
}
