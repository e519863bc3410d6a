// read_csv reads a CSV file through the dativo Go package and counts the rows: the Go side of
// the binding-overhead benchmark (benches/read_overhead/run). It does what read_csv.c does in
// C, so the difference to the Rust reader is the cost of the boundary: cgo calls and arrow-go
// importing each batch (no copy of the data).
package main

import (
	"fmt"
	"os"
	"time"

	dativo "github.com/dativo/dativo/bindings/go"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: read_csv FILE.csv")
		os.Exit(2)
	}
	start := time.Now()
	rr, err := dativo.ReadCSV([]string{os.Args[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	var rows int64
	for rr.Next() {
		rows += rr.RecordBatch().NumRows()
	}
	err = rr.Err()
	rr.Release()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Printf("rows %d seconds %.3f\n", rows, time.Since(start).Seconds())
}
