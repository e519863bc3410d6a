package dativo_test

import (
	"errors"
	"fmt"
	"os"

	dativo "github.com/dativo/dativo/bindings/go"
)

// Reading CSV into Arrow records and writing them as Parquet.
func Example() {
	dir, _ := os.MkdirTemp("", "dativo-example")
	defer os.RemoveAll(dir)
	csv := dir + "/orders.csv"
	os.WriteFile(csv, []byte("id;city\n1;Oslo\n2;Lima\n"), 0o644)

	rr, err := dativo.ReadCSV([]string{csv}, dativo.WithDelimiter(';'))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rr.Release()
	w, err := dativo.NewParquetWriter(dir+"/out", rr.Schema(), dativo.WithCompression("zstd"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Discard()
	for rr.Next() {
		rec := rr.RecordBatch()
		fmt.Println(rec.NumRows(), "rows of", rec.Schema().Field(1).Name)
		if err := w.Write(rec); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := rr.Err(); err != nil {
		fmt.Println(err)
		return
	}
	files, err := w.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(files), "file,", files[0].Rows, "rows")
	// Output:
	// 2 rows of city
	// 1 file, 2 rows
}

// A bad value is an error of kind ErrData naming file, line, column and value.
func ExampleError() {
	dir, _ := os.MkdirTemp("", "dativo-example")
	defer os.RemoveAll(dir)
	csv := dir + "/q.csv"
	os.WriteFile(csv, []byte("qty\n1\ntwo\n"), 0o644)

	rr, err := dativo.ReadCSV([]string{csv}, dativo.WithColumnTypes(map[string]string{"qty": "integer"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rr.Release()
	for rr.Next() {
	}
	var de *dativo.Error
	if errors.As(rr.Err(), &de) {
		fmt.Println(errors.Is(rr.Err(), dativo.ErrData), de.Status)
	}
	// Output:
	// true data error
}
