package dativo

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"runtime"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"
)

// File is one committed Parquet file.
type File struct {
	Path  string
	Rows  uint64
	Bytes uint64
}

// ParquetWriter writes record batches of one schema as Parquet files into a directory or
// under an s3://bucket/prefix.
//
// Local files are written under temporary names and appear under their final names
// (part-NNNNN.parquet) only when Close succeeds. Objects get names of their own
// (part-<run id>-NNNNN.parquet) and become part of the table only when Close writes the
// _manifest.json object that names them (readers read the manifest, not the listing). A failed Write (schema mismatch, I/O error)
// discards everything this writer wrote: later calls return that error and nothing is
// committed. Discard drops the files on purpose. Every writer must be closed or discarded.
//
// Records passed to Write are shared with the library, not copied: it retains them (and pins
// their Go memory) until it has encoded them, so callers may Release their reference at once.
// A writer is used by one goroutine at a time.
type ParquetWriter struct {
	handle  *C.DativoParquetWriter // nil once closed or discarded
	schema  *arrow.Schema
	err     error // the failure that ended the writer, returned by every later call
	cleanup runtime.Cleanup
}

// NewParquetWriter opens a writer into dir for records of schema: a local directory
// (created if missing) or s3://bucket/prefix, with the connection from WithEndpoint,
// WithCredentials, WithRegion, ... (docs/go.md). Another open writer of this process on the
// same local dir fails with ErrConfig.
func NewParquetWriter(dir string, schema *arrow.Schema, opts ...Option) (*ParquetWriter, error) {
	if err := abiCheck(); err != nil {
		return nil, err
	}
	if schema == nil {
		return nil, misuse("NewParquetWriter: schema is nil")
	}
	text, err := encodeOptions(opts)
	if err != nil {
		return nil, err
	}
	cdir, err := cString("directory", dir)
	if err != nil {
		return nil, err
	}
	defer freeCString(cdir)
	coptions, err := cOptions(text)
	if err != nil {
		return nil, err
	}
	defer freeCString(coptions)

	cschema := (*C.struct_ArrowSchema)(C.calloc(1, C.sizeof_struct_ArrowSchema))
	defer C.free(unsafe.Pointer(cschema))
	cdata.ExportArrowSchema(schema, (*cdata.CArrowSchema)(unsafe.Pointer(cschema)))
	defer C.dativo_go_schema_release(cschema) // borrowed by the library

	var handle *C.DativoParquetWriter
	var cerr C.DativoError
	if st := C.dativo_parquet_writer_open(cdir, cschema, coptions, &handle, &cerr); st != C.DATIVO_STATUS_OK {
		return nil, takeError(st, &cerr)
	}
	w := &ParquetWriter{handle: handle, schema: schema}
	// Only a safety net: a writer dropped unclosed is discarded (its temp files deleted).
	w.cleanup = runtime.AddCleanup(w, func(h *C.DativoParquetWriter) { C.dativo_parquet_writer_free(h) }, handle)
	return w, nil
}

// Schema is the schema the writer was opened with.
func (w *ParquetWriter) Schema() *arrow.Schema { return w.schema }

// usable is nil when the writer can take a call, else why not.
func (w *ParquetWriter) usable(call string) error {
	switch {
	case w == nil:
		return misuse("ParquetWriter.%s: nil writer", call)
	case w.err != nil:
		return w.err
	case w.handle == nil:
		return misuse("ParquetWriter.%s: the writer is closed", call)
	}
	return nil
}

// Write writes one record batch. Its schema must equal the writer's (names and types), else
// ErrSchema, and the writer is discarded.
func (w *ParquetWriter) Write(rec arrow.RecordBatch) error {
	if err := w.usable("Write"); err != nil {
		return err
	}
	if rec == nil {
		return misuse("ParquetWriter.Write: record is nil")
	}
	carray := (*C.struct_ArrowArray)(C.calloc(1, C.sizeof_struct_ArrowArray))
	cschema := (*C.struct_ArrowSchema)(C.calloc(1, C.sizeof_struct_ArrowSchema))
	defer func() {
		C.dativo_go_array_release(carray) // no-op: the library moved it (kept for safety)
		C.dativo_go_schema_release(cschema)
		C.free(unsafe.Pointer(carray))
		C.free(unsafe.Pointer(cschema))
	}()

	pins := new(runtime.Pinner)
	pinRecord(pins, rec)
	cdata.ExportArrowRecordBatch(rec, (*cdata.CArrowArray)(unsafe.Pointer(carray)), (*cdata.CArrowSchema)(unsafe.Pointer(cschema)))
	if !unpinOnRelease(carray, pins) {
		return &Error{Status: StatusInternal, Message: "ParquetWriter.Write: out of C memory"}
	}
	var cerr C.DativoError
	// carray is moved: the library releases it (now or after encoding), which unpins;
	// cschema is borrowed: it only describes carray, and is released above.
	st := C.dativo_parquet_writer_write_array(w.handle, carray, cschema, &cerr)
	return w.check(takeError(st, &cerr))
}

// WriteReader writes every record of rr until its end, and returns rr's error if it fails
// (the writer is then discarded, as after a failed Write). It does not Release rr.
//
// A *Reader from ReadCSV is handed to the library as its C stream, so CSV to Parquet runs
// without Go in the loop; the Reader is consumed (Next returns false afterwards).
func (w *ParquetWriter) WriteReader(rr array.RecordReader) error {
	if err := w.usable("WriteReader"); err != nil {
		return err
	}
	if rr == nil {
		return misuse("ParquetWriter.WriteReader: reader is nil")
	}
	if r, ok := rr.(*Reader); ok && r.c != nil && !r.done {
		if r.cur != nil { // already seen by the caller: the stream goes on after it
			r.cur.Release()
			r.cur = nil
		}
		var cerr C.DativoError
		st := C.dativo_parquet_writer_write_stream(w.handle, r.c.stream, &cerr) // moves the stream
		r.done = true
		return w.check(takeError(st, &cerr))
	}
	for rr.Next() {
		if err := w.Write(rr.RecordBatch()); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil {
		w.Discard()
		w.err = err
		return err
	}
	return nil
}

// check records a failed call: the library has discarded the writer's files, so later calls
// return the same error.
func (w *ParquetWriter) check(err error) error {
	if err != nil {
		w.err = err
	}
	return err
}

// Close finishes the files and commits them (local: each fsynced, renamed to its final name,
// then the directory fsynced; s3://: objects completed, then the manifest object written), and
// returns them in order (objects as s3:// URLs). Success or failure, the writer is closed
// afterwards; on failure nothing is committed.
func (w *ParquetWriter) Close() ([]File, error) {
	if err := w.usable("Close"); err != nil {
		return nil, err
	}
	var list *C.DativoFileList
	var cerr C.DativoError
	err := takeError(C.dativo_parquet_writer_close(w.handle, &list, &cerr), &cerr)
	w.free()
	if err != nil {
		w.err = err
		return nil, err
	}
	defer C.dativo_file_list_free(list)
	return fileList(list), nil
}

// Discard drops the writer without committing anything: its temporary files are deleted.
// It does nothing on a nil, closed or discarded writer, so `defer w.Discard()` is the
// idiomatic guard before Close.
func (w *ParquetWriter) Discard() {
	if w != nil && w.handle != nil {
		w.free()
	}
}

func (w *ParquetWriter) free() {
	w.cleanup.Stop()
	C.dativo_parquet_writer_free(w.handle)
	w.handle = nil
}

// fileList copies a C file list (which the caller still frees).
func fileList(list *C.DativoFileList) []File {
	n := C.dativo_file_list_count(list)
	files := make([]File, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		files = append(files, File{
			Path:  C.GoString(C.dativo_file_list_path(list, i)),
			Rows:  uint64(C.dativo_file_list_rows(list, i)),
			Bytes: uint64(C.dativo_file_list_bytes(list, i)),
		})
	}
	return files
}
