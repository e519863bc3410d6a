package dativo_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dativo "github.com/dativo/dativo/bindings/go"
)

// Readers and writers are independent handles: goroutines may use different ones at once
// (each through its own OS threads inside the library). Run with -race in run-tests.sh.
func TestGoroutinesReadAndWriteAtOnce(t *testing.T) {
	const workers = 8
	var csv strings.Builder
	csv.WriteString("id,name\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&csv, "%d,name%d\n", i, i)
	}
	path := writeFile(t, "a.csv", csv.String())
	out := t.TempDir()

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- copyCSV(path, filepath.Join(out, fmt.Sprint(g)), g%2 == 0)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// copyCSV reads path and writes it as Parquet, record by record through Go (viaGo) or as one
// C stream, and checks the row counts.
func copyCSV(path, dir string, viaGo bool) error {
	rr, err := dativo.ReadCSV([]string{path}, dativo.WithBatchSize(1000))
	if err != nil {
		return err
	}
	defer rr.Release()
	w, err := dativo.NewParquetWriter(dir, rr.Schema())
	if err != nil {
		return err
	}
	defer w.Discard()
	if viaGo {
		for rr.Next() {
			if err := w.Write(rr.RecordBatch()); err != nil {
				return err
			}
		}
		if err := rr.Err(); err != nil {
			return err
		}
	} else if err := w.WriteReader(rr); err != nil {
		return err
	}
	files, err := w.Close()
	if err != nil {
		return err
	}
	if n := totalRows(files); n != 20000 {
		return fmt.Errorf("%s: wrote %d rows, want 20000", dir, n)
	}
	return nil
}
