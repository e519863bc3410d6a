// Package dativo is the Go face of libdativo, the dativo ingestion engine: CSV files in,
// Apache Arrow record batches out (arrow-go's array.RecordReader); Arrow records in,
// committed Parquet files out; YAML jobs run with a report.
//
// It is a thin cgo layer over the C API of dativo.h: each function converts its arguments,
// calls one C function and converts the result back. Data crosses only as Arrow C Data
// Interface structs (arrow-go's cdata package), so no row is copied or converted.
//
//	rr, err := dativo.ReadCSV([]string{"orders.csv"}, dativo.WithDelimiter(';'))
//	if err != nil { ... }
//	defer rr.Release()
//	w, err := dativo.NewParquetWriter("out", rr.Schema(), dativo.WithCompression("zstd"))
//	if err != nil { ... }
//	defer w.Discard() // no-op after a successful Close
//	for rr.Next() {
//		if err := w.Write(rr.RecordBatch()); err != nil { ... }
//	}
//	if err := rr.Err(); err != nil { ... } // a bad row: errors.Is(err, dativo.ErrData)
//	files, err := w.Close()
//
// Errors are *Error values carrying the C status and the library's full message; errors.Is
// against ErrData, ErrConfig, ... tests the status. Everything that holds C resources is
// released explicitly: Reader.Release, ParquetWriter.Close or Discard. Cleanups attached with
// runtime.AddCleanup only catch a forgotten Release late; do not rely on them.
//
// Linking: pkg-config (dativo.pc) by default, or -tags dativo_nopkgconfig with CGO_LDFLAGS;
// see link.go and the repository README, "Using dativo from Go".
package dativo
