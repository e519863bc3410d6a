// csv_to_parquet converts a CSV file to Parquet through the dativo Go package: the Go
// counterpart of examples/c/csv_to_parquet.c.
//
//	csv_to_parquet INPUT.csv OUTPUT_DIR [reader-options-json] [writer-options-json]
//
// e.g. csv_to_parquet orders.csv out '{"delimiter": ","}' '{"compression": "zstd"}'
//
// It shows the whole life cycle: check the library, open a CSV reader, hand every record
// batch to a Parquet writer, commit the files, and release everything on every path (defer).
// Exit status: 0 on success, 1 on any error, 2 on bad usage.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	dativo "github.com/dativo/dativo/bindings/go"
)

func main() {
	if len(os.Args) < 3 || len(os.Args) > 5 {
		fmt.Fprintln(os.Stderr, "usage: csv_to_parquet INPUT.csv OUTPUT_DIR [reader-options-json] [writer-options-json]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], arg(3), arg(4)); err != nil {
		// err is a *dativo.Error for library failures: its text has the status and the whole
		// message (file, line, column, value); errors.Is(err, dativo.ErrData) tests the kind.
		fmt.Fprintln(os.Stderr, "csv_to_parquet:", err)
		os.Exit(1)
	}
}

func arg(i int) string {
	if i < len(os.Args) {
		return os.Args[i]
	}
	return ""
}

func run(input, outputDir, readerJSON, writerJSON string) error {
	// A package built against another ABI than the loaded library's must not call it.
	if err := dativo.CheckVersion(); err != nil {
		return err
	}
	readerOpts, err := parseOptions(readerJSON)
	if err != nil {
		return fmt.Errorf("reader options: %w", err)
	}
	writerOpts, err := parseOptions(writerJSON)
	if err != nil {
		return fmt.Errorf("writer options: %w", err)
	}

	// Opening reads the header and infers the types: a missing or empty file fails here,
	// before any output exists.
	rr, err := dativo.ReadCSV([]string{input}, readerOpts...)
	if err != nil {
		return err
	}
	defer rr.Release()

	w, err := dativo.NewParquetWriter(outputDir, rr.Schema(), writerOpts...)
	if err != nil {
		return err
	}
	defer w.Discard() // nothing becomes visible unless Close succeeds; a no-op after Close

	// Each batch is shared with the writer, not copied. (w.WriteReader(rr) does this loop
	// inside the library; the loop is spelled out to show the records.)
	for rr.Next() {
		if err := w.Write(rr.RecordBatch()); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil { // a bad row: never mistaken for the end of the data
		return err
	}
	files, err := w.Close()
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Printf("%s: %d rows, %d bytes\n", f.Path, f.Rows, f.Bytes)
	}
	return nil
}

// parseOptions turns a JSON object into dativo options with the generic WithOption, so any
// key of the C API's options JSON works here.
func parseOptions(text string) ([]dativo.Option, error) {
	if text == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, err
	}
	opts := make([]dativo.Option, 0, len(m))
	for k, v := range m {
		opts = append(opts, dativo.WithOption(k, v))
	}
	return opts, nil
}
