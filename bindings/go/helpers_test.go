package dativo_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	dativo "github.com/dativo/dativo/bindings/go"
)

// writeFile writes content to a new file in the test's temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkedAllocator fails the test if anything allocated through it is still live when the
// test ends: every record handed to the library must have been released by it.
func checkedAllocator(t *testing.T) *memory.CheckedAllocator {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// readAll reads every batch and returns the rows as text lines ("a|b|c", nulls as "∅") and
// the reader's error. It releases the reader.
func readAll(t *testing.T, rr *dativo.Reader) ([]string, error) {
	t.Helper()
	defer rr.Release()
	var rows []string
	for rr.Next() {
		rows = append(rows, recordRows(rr.RecordBatch())...)
	}
	return rows, rr.Err()
}

// recordRows renders a record's rows as "v1|v2|..." with nulls as "∅".
func recordRows(rec arrow.RecordBatch) []string {
	rows := make([]string, rec.NumRows())
	for r := range rows {
		cells := make([]string, rec.NumCols())
		for c, col := range rec.Columns() {
			if col.IsNull(r) {
				cells[c] = "∅"
			} else {
				cells[c] = col.ValueStr(r)
			}
		}
		rows[r] = strings.Join(cells, "|")
	}
	return rows
}

// readParquet reads a committed file back with arrow-go's own Parquet reader.
func readParquet(t *testing.T, path string, mem memory.Allocator) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatalf("reading %s back: %v", path, err)
	}
	defer table.Release()
	tr := array.NewTableReader(table, -1)
	defer tr.Release()
	var rows []string
	for tr.Next() {
		rows = append(rows, recordRows(tr.RecordBatch())...)
	}
	return rows
}

// repoFile is a path under the repository root; the test is skipped when the package is
// built outside the repository (from the module cache).
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	path := filepath.Join("..", "..", rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not found (not inside the dativo repository): %v", rel, err)
	}
	return path
}
