package dativo_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	dativo "github.com/dativo/dativo/bindings/go"
)

// A million rows through ReadCSV: every row arrives, in many batches, and the reader's count
// agrees. Skipped with -short.
func TestMillionRowStream(t *testing.T) {
	if testing.Short() {
		t.Skip("large stream skipped in -short mode")
	}
	const rows = 1_000_000
	path := filepath.Join(t.TempDir(), "big.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	fmt.Fprintln(bw, "id,amount,name")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(bw, "%d,%d.%02d,customer %d\n", i, i%1000, i%100, i%5000)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	rr, err := dativo.ReadCSV([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var n, batches, sum int64
	for rr.Next() {
		rec := rr.RecordBatch()
		n += rec.NumRows()
		batches++
		for _, id := range rec.Column(0).(*array.Int64).Int64Values() { // the data, read from Go
			sum += id
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if n != rows || sum != rows*(rows-1)/2 || rr.RowsRead() != rows || batches < 2 {
		t.Fatalf("rows %d (reader says %d) in %d batches", n, rr.RowsRead(), batches)
	}
}
