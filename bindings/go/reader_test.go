package dativo_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	dativo "github.com/dativo/dativo/bindings/go"
)

func TestReadCSVGivesTypedRecords(t *testing.T) {
	path := writeFile(t, "a.csv", "id,name,amount,paid\n1,ann,1.5,true\n2,,2.25,false\n3,cy,,true\n")
	rr, err := dativo.ReadCSV([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	want := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "paid", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	if !rr.Schema().Equal(want) {
		t.Errorf("schema\n got %v\nwant %v", rr.Schema(), want)
	}
	rows, err := readAll(t, rr)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := []string{"1|ann|1.5|true", "2|∅|2.25|false", "3|cy|∅|true"}
	if fmt.Sprint(rows) != fmt.Sprint(wantRows) {
		t.Errorf("rows\n got %q\nwant %q", rows, wantRows)
	}
}

func TestReadCSVAppliesOptions(t *testing.T) {
	path := writeFile(t, "a.csv", "# comment\n1;NA;x\n2;5;y\n3;6;z\n")
	rr, err := dativo.ReadCSV([]string{path},
		dativo.WithDelimiter(';'),
		dativo.WithHeader(false),
		dativo.WithComment('#'),
		dativo.WithColumnNames("id", "n", "s"),
		dativo.WithNullValues("NA"),
		dativo.WithColumnTypes(map[string]string{"id": "string"}),
		dativo.WithBatchSize(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	batches := 0
	var rows []string
	for rr.Next() {
		batches++
		rows = append(rows, recordRows(rr.RecordBatch())...)
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if got := rr.Schema().Field(0).Type; got != arrow.BinaryTypes.String {
		t.Errorf("column_types not applied: id is %v", got)
	}
	if strings.Join(rows, ",") != "1|∅|x,2|5|y,3|6|z" {
		t.Errorf("rows = %q", rows)
	}
	if batches != 3 {
		t.Errorf("batch_size 1 gave %d batches for 3 rows", batches)
	}
	if rr.RowsRead() != 3 {
		t.Errorf("RowsRead = %d", rr.RowsRead())
	}
}

func TestReadCSVReadsSeveralFilesAsOneStream(t *testing.T) {
	a := writeFile(t, "a.csv", "x\n1\n2\n")
	b := writeFile(t, "b.csv", "x\n3\n")
	rr, err := dativo.ReadCSV([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := readAll(t, rr)
	if err != nil || strings.Join(rows, ",") != "1,2,3" {
		t.Fatalf("rows %q, err %v", rows, err)
	}
}

func TestHeaderOnlyFileGivesNoRows(t *testing.T) {
	path := writeFile(t, "h.csv", "a,b\n")
	rr, err := dativo.ReadCSV([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Schema().NumFields() != 2 {
		t.Errorf("schema %v", rr.Schema())
	}
	rows, err := readAll(t, rr)
	if err != nil || len(rows) != 0 {
		t.Fatalf("rows %q, err %v", rows, err)
	}
}

func TestEmptyFileIsADataError(t *testing.T) {
	path := writeFile(t, "empty.csv", "")
	_, err := dativo.ReadCSV([]string{path})
	if !errors.Is(err, dativo.ErrData) {
		t.Fatalf("got %v, want a data error", err)
	}
}

func TestMissingFileIsAnIOErrorNamingThePath(t *testing.T) {
	_, err := dativo.ReadCSV([]string{"/nonexistent/dir/x.csv"})
	if !errors.Is(err, dativo.ErrIO) || !strings.Contains(err.Error(), "/nonexistent/dir/x.csv") {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownOptionIsAConfigErrorWithASuggestion(t *testing.T) {
	path := writeFile(t, "a.csv", "x\n1\n")
	_, err := dativo.ReadCSV([]string{path}, dativo.WithOption("delimeter", ";"))
	var de *dativo.Error
	if !errors.As(err, &de) || de.Status != dativo.StatusConfig {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(de.Message, "delimeter") || !strings.Contains(de.Message, "delimiter") {
		t.Errorf("message should name the key and suggest the right one: %q", de.Message)
	}
}

func TestBadOptionValueIsAConfigError(t *testing.T) {
	path := writeFile(t, "a.csv", "x\n1\n")
	for _, opt := range []dativo.Option{
		dativo.WithDelimiter('\n'), // a line break cannot separate fields (a multi-byte '€' can)
		dativo.WithOnError("sometimes"),
		dativo.WithColumnTypes(map[string]string{"x": "integr"}),
		dativo.WithOption("batch_size", "many"),
		dativo.WithOption("bad", func() {}), // not JSON-encodable: caught before the call
	} {
		rr, err := dativo.ReadCSV([]string{path}, opt)
		if !errors.Is(err, dativo.ErrConfig) {
			if rr != nil {
				rr.Release()
			}
			t.Errorf("got %v, want a config error", err)
		}
	}
}

// A bad value far into the file must end the iteration with a data error naming the line,
// never with a clean end after the good rows.
func TestBadValueMidStreamIsAnErrorWithItsLine(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,qty\n")
	for i := 1; i <= 6000; i++ {
		if i == 4999 { // line 5000: the header is line 1
			b.WriteString("4999,lots\n")
			continue
		}
		fmt.Fprintf(&b, "%d,%d\n", i, i%7)
	}
	path := writeFile(t, "bad.csv", b.String())
	rr, err := dativo.ReadCSV([]string{path}, dativo.WithBatchSize(1000),
		dativo.WithColumnTypes(map[string]string{"qty": "integer"}))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := readAll(t, rr)
	var de *dativo.Error
	if !errors.As(err, &de) || de.Status != dativo.StatusData {
		t.Fatalf("after %d rows got %v, want a data error", len(rows), err)
	}
	for _, want := range []string{"bad.csv", "5000", "qty", "lots"} {
		if !strings.Contains(de.Message, want) {
			t.Errorf("message %q does not name %q", de.Message, want)
		}
	}
	if len(rows) >= 6000 {
		t.Errorf("read %d rows: the bad row did not stop the stream", len(rows))
	}
}

func TestOnErrorSkipCountsRejectedRows(t *testing.T) {
	path := writeFile(t, "a.csv", "id,qty\n1,2\n2,x\n3,4\n")
	rr, err := dativo.ReadCSV([]string{path}, dativo.WithOnError(dativo.OnErrorSkip),
		dativo.WithColumnTypes(map[string]string{"qty": "integer"}))
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	rows := 0
	for rr.Next() {
		rows += int(rr.RecordBatch().NumRows())
	}
	if rr.Err() != nil || rows != 2 || rr.RowsRejected() != 1 {
		t.Fatalf("rows %d, rejected %d, err %v", rows, rr.RowsRejected(), rr.Err())
	}
}

func TestMisuseIsAnInvalidArgumentError(t *testing.T) {
	path := writeFile(t, "a.csv", "x\n1\n")
	for name, call := range map[string]func() error{
		"no paths":      func() error { _, err := dativo.ReadCSV(nil); return err },
		"NUL in a path": func() error { _, err := dativo.ReadCSV([]string{path + "\x00.csv"}); return err },
	} {
		if err := call(); !errors.Is(err, dativo.ErrInvalidArgument) {
			t.Errorf("%s: got %v, want an invalid-argument error", name, err)
		}
	}
}

func TestZeroValuesFailInsteadOfCrashing(t *testing.T) {
	var r dativo.Reader
	if r.Next() || !errors.Is(r.Err(), dativo.ErrInvalidArgument) || r.RowsRead() != 0 {
		t.Errorf("zero Reader: Next gave a record or err %v", r.Err())
	}
	r.Release()
	var w dativo.ParquetWriter
	if _, err := w.Close(); !errors.Is(err, dativo.ErrInvalidArgument) {
		t.Errorf("zero ParquetWriter: %v", err)
	}
	w.Discard()
}

func TestNextAfterReleaseFailsInsteadOfCrashing(t *testing.T) {
	path := writeFile(t, "a.csv", "x\n1\n")
	rr, err := dativo.ReadCSV([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	rr.Retain()
	rr.Release() // one reference left: still usable
	if !rr.Next() {
		t.Fatalf("Next after a balanced Retain/Release: %v", rr.Err())
	}
	rr.Release()
	rr.Release() // extra Release: nothing happens
	if rr.Next() || rr.RowsRead() != 0 {
		t.Fatal("Next after Release returned a record")
	}
}

func TestRecordOutlivesReaderWhenRetained(t *testing.T) {
	path := writeFile(t, "a.csv", "x\n1\n2\n")
	rr, err := dativo.ReadCSV([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	rec := rr.RecordBatch()
	rec.Retain()
	rr.Release()
	defer rec.Release()
	if got := strings.Join(recordRows(rec), ","); got != "1,2" {
		t.Fatalf("rows after the reader's release: %q", got)
	}
}
