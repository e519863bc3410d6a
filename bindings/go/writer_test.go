package dativo_test

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"

	dativo "github.com/dativo/dativo/bindings/go"
)

var ordersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// newOrders builds a record of ids first..first+n-1 named "n<id>", every 3rd name null.
func newOrders(mem memory.Allocator, first, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, ordersSchema)
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	names := b.Field(1).(*array.StringBuilder)
	for i := first; i < first+n; i++ {
		ids.Append(int64(i))
		if i%3 == 0 {
			names.AppendNull()
		} else {
			names.Append(fmt.Sprintf("n%d", i))
		}
	}
	return b.NewRecordBatch()
}

func totalRows(files []dativo.File) (rows uint64) {
	for _, f := range files {
		rows += f.Rows
	}
	return rows
}

// Records built in Go go to Parquet without a copy; reading the files back with arrow-go's
// Parquet reader gives the same rows, and the checked allocator proves the library released
// every record it was handed.
func TestGoRecordsRoundTripThroughParquet(t *testing.T) {
	mem := checkedAllocator(t)
	dir := t.TempDir()
	w, err := dativo.NewParquetWriter(dir, ordersSchema, dativo.WithCompression("zstd"), dativo.WithMaxRowsPerFile(250))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	var want []string
	for first := 0; first < 1000; first += 100 {
		rec := newOrders(mem, first, 100)
		want = append(want, recordRows(rec)...)
		err := w.Write(rec)
		rec.Release() // the writer keeps its own reference for as long as it needs one
		if err != nil {
			t.Fatal(err)
		}
	}
	files, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 || totalRows(files) != 1000 {
		t.Fatalf("files %+v", files)
	}
	var got []string
	for i, f := range files {
		if filepath.Base(f.Path) != fmt.Sprintf("part-%05d.parquet", i) {
			t.Errorf("file %d is %s", i, f.Path)
		}
		if st, err := os.Stat(f.Path); err != nil || uint64(st.Size()) != f.Bytes {
			t.Errorf("%s: size %v, reported %d (%v)", f.Path, st.Size(), f.Bytes, err)
		}
		got = append(got, readParquet(t, f.Path, mem)...)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("rows read back differ:\n got %q...\nwant %q...", got[:5], want[:5])
	}
}

// The CSV reader's stream goes to the writer as a C stream: no Go in the loop.
func TestCSVReaderToParquetWriter(t *testing.T) {
	path := writeFile(t, "a.csv", "id,name\n1,a\n2,\n3,c\n")
	rr, err := dativo.ReadCSV([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	w, err := dativo.NewParquetWriter(t.TempDir(), rr.Schema())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	if err := w.WriteReader(rr); err != nil {
		t.Fatal(err)
	}
	if rr.Next() {
		t.Error("the reader still gives records after its stream was written")
	}
	files, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	mem := checkedAllocator(t)
	if got := strings.Join(readParquet(t, files[0].Path, mem), ","); got != "1|a,2|∅,3|c" {
		t.Errorf("read back %q", got)
	}
}

func TestGoRecordReaderToParquetWriter(t *testing.T) {
	mem := checkedAllocator(t)
	a, b := newOrders(mem, 0, 10), newOrders(mem, 10, 5)
	rr, err := array.NewRecordReader(ordersSchema, []arrow.RecordBatch{a, b})
	a.Release()
	b.Release()
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	w, err := dativo.NewParquetWriter(t.TempDir(), ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	if err := w.WriteReader(rr); err != nil {
		t.Fatal(err)
	}
	files, err := w.Close()
	if err != nil || totalRows(files) != 15 {
		t.Fatalf("files %+v, err %v", files, err)
	}
}

// A bad CSV row read through the writer fails the write with the reader's data error, and
// nothing is committed.
func TestBadCSVRowFailsTheWriteAndCommitsNothing(t *testing.T) {
	path := repoFile(t, "examples/data/bad_quantity.csv")
	rr, err := dativo.ReadCSV([]string{path}, dativo.WithColumnTypes(map[string]string{"quantity": "integer"}))
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	dir := t.TempDir()
	w, err := dativo.NewParquetWriter(dir, rr.Schema())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	err = w.WriteReader(rr)
	if !errors.Is(err, dativo.ErrData) || !strings.Contains(err.Error(), "bad_quantity.csv") {
		t.Fatalf("got %v", err)
	}
	if _, err := w.Close(); !errors.Is(err, dativo.ErrData) {
		t.Errorf("Close after a failed write: %v, want the same data error", err)
	}
	assertNoParquet(t, dir)
}

func TestSchemaMismatchIsASchemaErrorAndDiscardsTheWriter(t *testing.T) {
	mem := checkedAllocator(t)
	dir := t.TempDir()
	w, err := dativo.NewParquetWriter(dir, ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	good := newOrders(mem, 0, 3)
	defer good.Release()
	if err := w.Write(good); err != nil {
		t.Fatal(err)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, other)
	b.Field(0).(*array.StringBuilder).Append("x")
	bad := b.NewRecordBatch()
	b.Release()
	defer bad.Release()
	if err := w.Write(bad); !errors.Is(err, dativo.ErrSchema) {
		t.Fatalf("got %v, want a schema error", err)
	}
	if err := w.Write(good); !errors.Is(err, dativo.ErrSchema) {
		t.Errorf("Write after a failure: %v, want the first error again", err)
	}
	if _, err := w.Close(); err == nil {
		t.Error("Close after a failed write succeeded")
	}
	assertNoParquet(t, dir)
}

// A Go reader failing mid-way fails the write with its own error; nothing is committed.
func TestFailingGoReaderDiscardsTheWriter(t *testing.T) {
	mem := checkedAllocator(t)
	rec := newOrders(mem, 0, 5)
	defer rec.Release()
	boom := errors.New("upstream broke")
	rr := &failingReader{RecordReader: mustReader(t, rec), err: boom}
	defer rr.Release()
	dir := t.TempDir()
	w, err := dativo.NewParquetWriter(dir, ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteReader(rr); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if _, err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("Close: %v", err)
	}
	assertNoParquet(t, dir)
}

type failingReader struct {
	array.RecordReader
	err error
}

func (f *failingReader) Err() error { return f.err }

func mustReader(t *testing.T, recs ...arrow.RecordBatch) array.RecordReader {
	rr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestWriterMisuse(t *testing.T) {
	mem := checkedAllocator(t)
	rec := newOrders(mem, 0, 1)
	defer rec.Release()
	w, err := dativo.NewParquetWriter(t.TempDir(), ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(nil); !errors.Is(err, dativo.ErrInvalidArgument) {
		t.Errorf("Write(nil): %v", err)
	}
	if err := w.WriteReader(nil); !errors.Is(err, dativo.ErrInvalidArgument) {
		t.Errorf("WriteReader(nil): %v", err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); !errors.Is(err, dativo.ErrInvalidArgument) {
		t.Errorf("Write after Close: %v", err)
	}
	if _, err := w.Close(); !errors.Is(err, dativo.ErrInvalidArgument) {
		t.Errorf("second Close: %v", err)
	}
	w.Discard() // after Close: nothing to do

	var nilWriter *dativo.ParquetWriter
	if err := nilWriter.Write(rec); !errors.Is(err, dativo.ErrInvalidArgument) {
		t.Errorf("nil writer: %v", err)
	}
	nilWriter.Discard()
	if _, err := dativo.NewParquetWriter(t.TempDir(), nil); !errors.Is(err, dativo.ErrInvalidArgument) {
		t.Errorf("nil schema: %v", err)
	}
	if _, err := dativo.NewParquetWriter("out\x00", ordersSchema); !errors.Is(err, dativo.ErrInvalidArgument) {
		t.Errorf("NUL in dir: %v", err)
	}
}

func TestWriterOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := dativo.NewParquetWriter(dir, ordersSchema, dativo.WithCompression("brotli9")); !errors.Is(err, dativo.ErrConfig) {
		t.Errorf("bad codec: %v", err)
	}
	w, err := dativo.NewParquetWriter(dir, ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	if _, err := dativo.NewParquetWriter(dir, ordersSchema); !errors.Is(err, dativo.ErrConfig) {
		t.Errorf("second writer on one dir: %v", err)
	}
	file := writeFile(t, "f", "")
	if _, err := dativo.NewParquetWriter(filepath.Join(file, "sub"), ordersSchema); !errors.Is(err, dativo.ErrIO) {
		t.Errorf("dir under a file: %v", err)
	}
}

func TestDiscardCommitsNothing(t *testing.T) {
	mem := checkedAllocator(t)
	dir := t.TempDir()
	w, err := dativo.NewParquetWriter(dir, ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	rec := newOrders(mem, 0, 10)
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Discard()
	assertNoParquet(t, dir)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestNoRowsCommitsOneSchemaOnlyFile(t *testing.T) {
	w, err := dativo.NewParquetWriter(t.TempDir(), ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	files, err := w.Close()
	if err != nil || len(files) != 1 || files[0].Rows != 0 {
		t.Fatalf("files %+v, err %v", files, err)
	}
}

func assertNoParquet(t *testing.T, dir string) {
	t.Helper()
	if m, _ := filepath.Glob(filepath.Join(dir, "*.parquet")); len(m) != 0 {
		t.Errorf("committed files after a failure: %v", m)
	}
}

// A column the codec cannot shrink (random integers) is stored uncompressed, unless
// WithAdaptiveCompression(false); arrow-go's reader names each column's codec.
func TestAColumnTheCodecCannotShrinkIsStoredUncompressed(t *testing.T) {
	mem := checkedAllocator(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "noise", Type: arrow.PrimitiveTypes.Int64},
		{Name: "email", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 20000; i++ {
		b.Field(0).(*array.Int64Builder).Append(rng.Int63())
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("customer-%08d@example.com", i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	for _, adaptive := range []bool{true, false} {
		w, err := dativo.NewParquetWriter(t.TempDir(), schema, dativo.WithCompression("zstd"),
			dativo.WithAdaptiveCompression(adaptive))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		files, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		// The default allocator: arrow-go's DELTA_BINARY_PACKED decoder keeps a buffer of its own.
		if got := len(readParquet(t, files[0].Path, memory.DefaultAllocator)); got != 20000 {
			t.Fatalf("adaptive=%v: %d rows read back", adaptive, got)
		}
		f, err := file.OpenParquetFile(files[0].Path, false)
		if err != nil {
			t.Fatal(err)
		}
		var codecs []string
		for i := 0; i < 2; i++ {
			col, err := f.MetaData().RowGroup(0).ColumnChunk(i)
			if err != nil {
				t.Fatal(err)
			}
			codecs = append(codecs, col.Compression().String())
		}
		f.Close()
		want := "ZSTD,ZSTD"
		if adaptive {
			want = "UNCOMPRESSED,ZSTD"
		}
		if strings.Join(codecs, ",") != want {
			t.Errorf("adaptive=%v: codecs %v, want %s", adaptive, codecs, want)
		}
	}
}
