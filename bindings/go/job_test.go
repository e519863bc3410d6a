package dativo_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dativo "github.com/dativo/dativo/bindings/go"
)

// writeJob writes in.csv and a job reading it into out/; extra is YAML added at the top level.
func writeJob(t *testing.T, csv, extra string) (job, out string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	job = filepath.Join(dir, "job.yaml")
	yaml := "source:\n  type: csv\n  files:\n    - path: in.csv\n" + extra +
		"target:\n  type: local\n  output_base: out\n"
	if err := os.WriteFile(job, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return job, filepath.Join(dir, "out")
}

func TestRunJobReportsRowsAndFiles(t *testing.T) {
	job, out := writeJob(t, "id,name\n1,a\n2,b\n3,c\n", "")
	report, err := dativo.RunJob(job)
	if err != nil {
		t.Fatal(err)
	}
	if report.RowsRead != 3 || report.RowsWritten != 3 || report.InputBytes == 0 || report.BytesWritten == 0 {
		t.Errorf("report %+v", report)
	}
	if len(report.Files) != 1 || !strings.HasPrefix(report.Files[0].Path, out) || report.Files[0].Rows != 3 {
		t.Errorf("files %+v (output %s)", report.Files, out)
	}
	mem := checkedAllocator(t)
	if got := strings.Join(readParquet(t, report.Files[0].Path, mem), ","); got != "1|a,2|b,3|c" {
		t.Errorf("read back %q", got)
	}
}

func TestRunJobErrors(t *testing.T) {
	if _, err := dativo.RunJob(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing job file ran")
	}
	bad := writeFile(t, "bad.yaml", "source: [this is not a job\n")
	if _, err := dativo.RunJob(bad); !errors.Is(err, dativo.ErrConfig) {
		t.Errorf("invalid YAML: %v", err)
	}
	job, out := writeJob(t, "id,qty\n1,2\n2,many\n", "asset_path: asset.yaml\n")
	asset := "asset:\n  name: t\n  version: \"1\"\n  schema:\n" +
		"    - {name: id, type: integer}\n    - {name: qty, type: integer}\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(job), "asset.yaml"), []byte(asset), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := dativo.RunJob(job)
	if !errors.Is(err, dativo.ErrData) || !strings.Contains(err.Error(), "many") {
		t.Errorf("bad row: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(out, "*.parquet")); len(m) != 0 {
		t.Errorf("a failed job committed %v", m)
	}
	if _, err := dativo.RunJob("job\x00.yaml"); !errors.Is(err, dativo.ErrInvalidArgument) {
		t.Errorf("NUL in path: %v", err)
	}
}

// The Dativo platform's plugin spec (`lib.so:create_reader`, the legacy JSON ABI) runs through
// the library's adapter from Go as from the CLI, and a plugin's error fails the job.
func TestRunJobWithThePlatformsLegacyPluginSpec(t *testing.T) {
	dir := os.Getenv("DATIVO_TEST_PLUGIN_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "target", "debug")
	}
	plugin, err := filepath.Abs(filepath.Join(dir, "libcsv_reader_plugin.so"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(plugin); err != nil {
		t.Skipf("example plugin not built (%v): cargo build --workspace builds it", err)
	}
	spec := "  custom_reader: \"" + plugin + ":create_reader\"\n"
	job, _ := writeJob(t, "id,name\n1,a\n2,b\n", "")
	text, err := os.ReadFile(job)
	if err != nil {
		t.Fatal(err)
	}
	withPlugin := strings.Replace(string(text), "  type: csv\n", "  type: csv\n"+spec, 1)
	if err := os.WriteFile(job, []byte(withPlugin), 0o644); err != nil {
		t.Fatal(err)
	}
	report, err := dativo.RunJob(job)
	if err != nil {
		t.Fatal(err)
	}
	if report.RowsWritten != 2 {
		t.Errorf("report %+v", report)
	}
	// A missing input is the plugin's error, never an empty result.
	broken := strings.Replace(withPlugin, "path: in.csv", "path: missing.csv", 1)
	if err := os.WriteFile(job, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := dativo.RunJob(job); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("a legacy reader's error: %v", err)
	}
}
