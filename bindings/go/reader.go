package dativo

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"
)

// Reader reads CSV files as Arrow record batches: an array.RecordReader over the library's
// Arrow C stream. The batches' buffers stay in the library's memory (no copy); each record is
// valid until the next call to Next, or longer if the caller Retains it.
//
// A bad row ends the iteration with Next returning false and Err returning an *Error
// (ErrData, with file, line, column and value): an error never looks like the end of the data.
//
// Release frees the reader and its stream; every Reader must be released. A Reader is used
// by one goroutine at a time; RowsRead and RowsRejected may be called from any goroutine.
// Readers are independent: many can be read in parallel.
type Reader struct {
	refs   atomic.Int64
	c      *readerC // nil once released
	schema *arrow.Schema
	cur    arrow.RecordBatch
	err    error
	done   bool

	cleanup runtime.Cleanup
}

// readerC is the C side of a Reader, in C memory. It is separate from Reader so that the
// safety-net cleanup (for a Reader dropped without Release) can free it without keeping the
// Reader reachable.
type readerC struct {
	handle *C.DativoCsvReader
	stream *C.struct_ArrowArrayStream // moved out (release NULL) when a writer took it
	batch  *C.struct_ArrowArray       // reused for every get_next; arrow-go moves it out
}

func (rc *readerC) free() {
	C.dativo_go_stream_release(rc.stream)
	C.dativo_go_array_release(rc.batch)
	C.free(unsafe.Pointer(rc.stream))
	C.free(unsafe.Pointer(rc.batch))
	C.dativo_csv_reader_free(rc.handle)
}

var _ array.RecordReader = (*Reader)(nil)

// ReadCSV opens CSV files that share their columns. Opening reads the header and infers the
// column types (unless options fix them), so a missing file, an empty file or a bad option
// fails here; the rows are then parsed on the library's threads as Next is called.
func ReadCSV(paths []string, opts ...Option) (*Reader, error) {
	if err := abiCheck(); err != nil {
		return nil, err
	}
	text, err := encodeOptions(opts)
	if err != nil {
		return nil, err
	}
	coptions, err := cOptions(text)
	if err != nil {
		return nil, err
	}
	defer freeCString(coptions)
	cpaths, err := cStrings("path", paths)
	if err != nil {
		return nil, err
	}
	defer freeCStrings(cpaths)
	var first **C.char // NULL for no paths: the library reports that misuse itself
	if len(cpaths) > 0 {
		first = &cpaths[0]
	}

	var cerr C.DativoError
	rc := &readerC{}
	if st := C.dativo_csv_reader_open(first, C.size_t(len(cpaths)), coptions, &rc.handle, &cerr); st != C.DATIVO_STATUS_OK {
		return nil, takeError(st, &cerr)
	}
	// calloc: arrow-go requires zeroed structs, and C memory keeps the cgo pointer rules simple.
	rc.stream = (*C.struct_ArrowArrayStream)(C.calloc(1, C.sizeof_struct_ArrowArrayStream))
	rc.batch = (*C.struct_ArrowArray)(C.calloc(1, C.sizeof_struct_ArrowArray))
	schema, err := readSchema(rc.handle)
	if err == nil {
		err = takeError(C.dativo_csv_reader_stream(rc.handle, rc.stream, &cerr), &cerr)
	}
	if err != nil {
		rc.free()
		return nil, err
	}

	r := &Reader{c: rc, schema: schema}
	r.refs.Store(1)
	// Only a safety net: a Reader dropped without Release still frees its C side eventually.
	r.cleanup = runtime.AddCleanup(r, (*readerC).free, rc)
	return r, nil
}

func readSchema(handle *C.DativoCsvReader) (*arrow.Schema, error) {
	var cs C.struct_ArrowSchema
	var cerr C.DativoError
	if st := C.dativo_csv_reader_schema(handle, &cs, &cerr); st != C.DATIVO_STATUS_OK {
		return nil, takeError(st, &cerr)
	}
	// ImportCArrowSchema copies the schema and releases cs.
	schema, err := cdata.ImportCArrowSchema((*cdata.CArrowSchema)(unsafe.Pointer(&cs)))
	if err != nil {
		return nil, &Error{Status: StatusArrow, Message: "importing the CSV schema: " + err.Error()}
	}
	return schema, nil
}

// Schema is the schema of every record: one field per column.
func (r *Reader) Schema() *arrow.Schema { return r.schema }

// Next moves to the next record batch; false at the end of the data or on an error (Err).
func (r *Reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done {
		return false
	}
	if r.c == nil || r.c.stream.release == nil {
		r.fail(misuse("Reader.Next: the reader was released or its stream handed to a writer"))
		return false
	}
	var cerr C.DativoError
	if st := C.dativo_go_stream_next(r.c.stream, r.c.batch, &cerr); st != C.DATIVO_STATUS_OK {
		r.fail(takeError(st, &cerr))
		return false
	}
	if r.c.batch.release == nil { // the end of the stream
		r.done = true
		return false
	}
	rec, err := cdata.ImportCRecordBatchWithSchema((*cdata.CArrowArray)(unsafe.Pointer(r.c.batch)), r.schema)
	if err != nil {
		C.dativo_go_array_release(r.c.batch)
		r.fail(&Error{Status: StatusArrow, Message: "importing a record batch: " + err.Error()})
		return false
	}
	r.cur = rec
	return true
}

func (r *Reader) fail(err error) {
	r.err = err
	r.done = true
}

// RecordBatch is the current batch, valid until the next call to Next (Retain it to keep it).
func (r *Reader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is RecordBatch, for array.RecordReader.
//
// Deprecated: use RecordBatch (arrow-go's own deprecation).
func (r *Reader) Record() arrow.RecordBatch { return r.cur }

// Err is the error that ended the iteration, nil after a clean end.
func (r *Reader) Err() error { return r.err }

// RowsRead counts the good rows delivered so far.
func (r *Reader) RowsRead() uint64 {
	if rc := r.c; rc != nil {
		return uint64(C.dativo_csv_reader_rows_read(rc.handle))
	}
	return 0
}

// RowsRejected counts the bad rows skipped or rejected so far (WithOnError).
func (r *Reader) RowsRejected() uint64 {
	if rc := r.c; rc != nil {
		return uint64(C.dativo_csv_reader_rows_rejected(rc.handle))
	}
	return 0
}

// Retain adds a reference; each Retain needs its own Release.
func (r *Reader) Retain() { r.refs.Add(1) }

// Release drops a reference; the last one frees the current record, the stream and the
// reader. Extra calls do nothing.
func (r *Reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.c != nil {
		r.cleanup.Stop()
		r.c.free()
		r.c = nil
	}
	r.done = true
}
