package arrowtest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/goslub/slub/alloc"
)

// The ByteAllocator has Arrow's method set: no adapter in between.
var _ memory.Allocator = (*alloc.ByteAllocator)(nil)

// aligned fails the test for any buffer Arrow gets that is not 64-byte
// aligned, and counts the buffers.
type aligned struct {
	t *testing.T
	*alloc.ByteAllocator
	mu sync.Mutex
	n  int
}

func (a *aligned) check(op string, b []byte) []byte {
	if len(b) > 0 {
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(b))); p%64 != 0 {
			a.t.Errorf("%s(%d) = %#x: not 64-byte aligned", op, len(b), p)
		}
	}
	a.mu.Lock()
	a.n++
	a.mu.Unlock()
	return b
}

func (a *aligned) Allocate(n int) []byte { return a.check("Allocate", a.ByteAllocator.Allocate(n)) }

func (a *aligned) Reallocate(n int, b []byte) []byte {
	return a.check("Reallocate", a.ByteAllocator.Reallocate(n, b))
}

// eachHeap runs f with a checked allocator over a heap of each design, and
// over a debug heap (red zones, poison, call sites, consistency checks),
// then checks that Arrow freed everything and the heap is consistent.
func eachHeap(t *testing.T, f func(t *testing.T, mem memory.Allocator)) {
	for _, cfg := range []struct {
		name string
		cfg  alloc.Config
	}{
		{"sheaves", alloc.Config{}},
		{"cpuslab", alloc.Config{Design: alloc.CPUSlab}},
		{"debug", alloc.Config{Debug: alloc.DebugAll, OnReport: func(r alloc.Report) { t.Errorf("debug report: %v", r) }}},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			h, err := alloc.NewHeap(cfg.cfg)
			if err != nil {
				t.Fatal(err)
			}
			al := &aligned{t: t, ByteAllocator: h.ByteAllocator(64)}
			mem := memory.NewCheckedAllocator(al)
			f(t, mem)
			mem.AssertSize(t, 0)
			if al.n == 0 {
				t.Error("Arrow allocated nothing through the allocator")
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

func TestArrays(t *testing.T) { eachHeap(t, arrays) }

func TestRecordBatch(t *testing.T) {
	eachHeap(t, func(t *testing.T, mem memory.Allocator) {
		rec := recordBatch(t, mem, 1000, 1)
		checkRecord(t, rec, 1000, 1)
		rec.Release()
	})
}

func TestIPCRoundTrip(t *testing.T) { eachHeap(t, ipcRoundTrip) }

func TestConcatenate(t *testing.T) { eachHeap(t, concatenate) }

// Eight goroutines run every scenario at once on one allocator.
func TestConcurrent(t *testing.T) {
	eachHeap(t, func(t *testing.T, mem memory.Allocator) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 3 {
					arrays(t, mem)
					rec := recordBatch(t, mem, 200+50*g+i, g)
					checkRecord(t, rec, 200+50*g+i, g)
					rec.Release()
					ipcRoundTrip(t, mem)
					concatenate(t, mem)
				}
			}()
		}
		wg.Wait()
	})
}

// arrays builds arrays of the common types, with nulls, grown past several
// size classes, and reads them back.
func arrays(t *testing.T, mem memory.Allocator) {
	const n = 5000
	ib := array.NewInt64Builder(mem)
	fb := array.NewFloat64Builder(mem)
	sb := array.NewStringBuilder(mem)
	bb := array.NewBooleanBuilder(mem)
	for i := range n {
		if i%7 == 3 {
			ib.AppendNull()
			sb.AppendNull()
		} else {
			ib.Append(int64(i) * 3)
			sb.Append(fmt.Sprintf("s%d", i))
		}
		fb.Append(float64(i) / 4)
		bb.Append(i%2 == 0)
	}
	ia, fa, sa, ba := ib.NewInt64Array(), fb.NewFloat64Array(), sb.NewStringArray(), bb.NewBooleanArray()
	ib.Release()
	fb.Release()
	sb.Release()
	bb.Release()
	defer ia.Release()
	defer fa.Release()
	defer sa.Release()
	defer ba.Release()
	if ia.Len() != n || ia.NullN() != (n+3)/7 {
		t.Errorf("int64 array: len %d, %d nulls", ia.Len(), ia.NullN())
	}
	for i := range n {
		null := i%7 == 3
		if ia.IsNull(i) != null || sa.IsNull(i) != null ||
			!null && (ia.Value(i) != int64(i)*3 || sa.Value(i) != fmt.Sprintf("s%d", i)) ||
			fa.Value(i) != float64(i)/4 || ba.Value(i) != (i%2 == 0) {
			t.Errorf("row %d: %v %v %v %v", i, ia.GetOneForMarshal(i), fa.Value(i), sa.GetOneForMarshal(i), ba.Value(i))
			return
		}
	}
}

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "tags", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// recordBatch builds n rows: an id, a nullable list of tags of varying
// length and a nullable name.
func recordBatch(t *testing.T, mem memory.Allocator, n, seed int) arrow.RecordBatch {
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	ids := rb.Field(0).(*array.Int64Builder)
	tags := rb.Field(1).(*array.ListBuilder)
	tv := tags.ValueBuilder().(*array.Int32Builder)
	names := rb.Field(2).(*array.StringBuilder)
	for i := range n {
		ids.Append(int64(i + seed))
		if i%5 == 0 {
			tags.AppendNull()
		} else {
			tags.Append(true)
			for k := range i % 9 {
				tv.Append(int32(i*10 + k))
			}
		}
		if i%3 == 0 {
			names.AppendNull()
		} else {
			names.Append(fmt.Sprintf("row-%d-%d", seed, i))
		}
	}
	return rb.NewRecordBatch()
}

func checkRecord(t *testing.T, rec arrow.RecordBatch, n, seed int) {
	t.Helper()
	if rec.NumRows() != int64(n) || rec.NumCols() != 3 {
		t.Fatalf("record: %d rows, %d columns", rec.NumRows(), rec.NumCols())
	}
	ids := rec.Column(0).(*array.Int64)
	tags := rec.Column(1).(*array.List)
	tv := tags.ListValues().(*array.Int32)
	names := rec.Column(2).(*array.String)
	for i := range n {
		if ids.Value(i) != int64(i+seed) {
			t.Fatalf("row %d: id %d", i, ids.Value(i))
		}
		if tags.IsNull(i) != (i%5 == 0) || names.IsNull(i) != (i%3 == 0) {
			t.Fatalf("row %d: nulls %v %v", i, tags.IsNull(i), names.IsNull(i))
		}
		if !tags.IsNull(i) {
			start, end := tags.ValueOffsets(i)
			if end-start != int64(i%9) {
				t.Fatalf("row %d: %d tags, want %d", i, end-start, i%9)
			}
			for k := start; k < end; k++ {
				if tv.Value(int(k)) != int32(i*10+int(k-start)) {
					t.Fatalf("row %d: tag %d is %d", i, k-start, tv.Value(int(k)))
				}
			}
		}
		if !names.IsNull(i) && names.Value(i) != fmt.Sprintf("row-%d-%d", seed, i) {
			t.Fatalf("row %d: name %q", i, names.Value(i))
		}
	}
}

// ipcRoundTrip writes two record batches in the IPC stream format and reads
// them back, the reader's buffers too from the allocator.
func ipcRoundTrip(t *testing.T, mem memory.Allocator) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	recs := []arrow.RecordBatch{recordBatch(t, mem, 700, 3), recordBatch(t, mem, 64, 4)}
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(&buf, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	i := 0
	for r.Next() {
		if i >= len(recs) || !array.RecordEqual(r.RecordBatch(), recs[i]) {
			t.Errorf("IPC record %d differs", i)
		}
		i++
	}
	if err := r.Err(); err != nil || i != len(recs) {
		t.Errorf("IPC: read %d records, err %v", i, err)
	}
	for _, rec := range recs {
		rec.Release()
	}
}

// concatenate joins the columns of two record batches.
func concatenate(t *testing.T, mem memory.Allocator) {
	a, b := recordBatch(t, mem, 300, 0), recordBatch(t, mem, 450, 300)
	defer a.Release()
	defer b.Release()
	var cols []arrow.Array
	for c := range 3 {
		col, err := array.Concatenate([]arrow.Array{a.Column(c), b.Column(c)}, mem)
		if err != nil {
			t.Fatal(err)
		}
		cols = append(cols, col)
	}
	rec := array.NewRecordBatch(schema, cols, 750)
	for _, col := range cols {
		col.Release()
	}
	defer rec.Release()
	ids := rec.Column(0).(*array.Int64)
	for i := range 750 {
		if ids.Value(i) != int64(i) {
			t.Fatalf("concatenated id %d is %d", i, ids.Value(i))
		}
	}
	head := array.NewSlice(rec.Column(2), 0, 300)
	defer head.Release()
	if !array.Equal(head, a.Column(2)) {
		t.Error("the first part of the concatenated names differs")
	}
}
