//! End-to-end job runs: YAML job + CSV files in a temp folder -> Parquet files, read back.

use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, TimeUnit};
mod common;

use common::rows;
use dativo_engine::job::{self, Job, Progress};
use dativo_engine::Error;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const ASSET: &str = "\
asset:
  name: users
  version: '1.0'
  schema:
    - {name: id, type: integer, required: true}
    - {name: email, type: string, required: true}
    - {name: score, type: double}
    - {name: active, type: boolean}
    - {name: born, type: date}
    - {name: seen, type: timestamp}
";

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let s = Setup { dir: tempfile::tempdir().unwrap() };
        s.write("assets/users.yaml", ASSET);
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    /// A job over `files` with extra top-level and reader-option lines.
    fn job(&self, files: &[&str], top: &str, reader: &str, writer: &str) -> PathBuf {
        let list: String = files.iter().map(|f| format!("    - path: {f}\n")).collect();
        let text = format!(
            "tenant_id: acme\nenvironment: test\nasset_path: assets/users.yaml\n{top}\nsource:\n  type: csv\n  files:\n{list}  engine:\n    options: {{{reader}}}\ntarget:\n  output_base: out\n  engine:\n    options: {{{writer}}}\n"
        );
        self.write("job.yaml", &text);
        self.path("job.yaml")
    }

    fn run(&self, job: &Path) -> dativo_engine::Result<job::RunReport> {
        job::load(job)?.run(&|_: &Progress| {})
    }

    fn parquet_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(self.path("out")) else { return vec![] };
        let mut v: Vec<PathBuf> =
            entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect();
        v.sort();
        v
    }

    fn read_back(&self) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        for f in self.parquet_files() {
            let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(f).unwrap()).unwrap().build().unwrap();
            for b in reader {
                out.push(b.unwrap());
            }
        }
        out
    }
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

const GOOD: &str = "\
id,email,score,active,born,seen
1,a@x.org,1.5,true,2024-01-02,2024-01-02T03:04:05Z
2,b@x.org,,false,,
3,c@x.org,-2,true,1970-01-01,1970-01-01T00:00:01Z
";

#[test]
fn output_reads_back_equal_with_asset_types() {
    let s = Setup::new();
    s.write("data/users.csv", GOOD);
    let job = s.job(&["data/users.csv"], "", "", "compression: zstd");
    let report = s.run(&job).unwrap();
    assert_eq!((report.rows_read, report.rows_written, report.rows_rejected, report.warnings), (3, 3, 0, 0));
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.bytes_written, fs::metadata(&report.files[0].path).unwrap().len());
    assert_eq!(report.input_bytes, GOOD.len() as u64);
    assert!(report.summary().contains("3 written"));

    let batches = s.read_back();
    let schema = batches[0].schema();
    let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "email", "score", "active", "born", "seen"]);
    assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    assert!(!schema.field(0).is_nullable() && !schema.field(1).is_nullable() && schema.field(2).is_nullable());
    assert_eq!(schema.field(5).data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
    assert_eq!(
        rows(&batches),
        [
            row(&["1", "a@x.org", "1.5", "true", "d19724", "t1704164645000000"]),
            row(&["2", "b@x.org", "null", "false", "null", "null"]),
            row(&["3", "c@x.org", "-2", "true", "d0", "t1000000"]),
        ]
    );
}

#[test]
fn strict_null_in_required_column_fails_naming_file_line_column() {
    let s = Setup::new();
    s.write("data/users.csv", "id,email\n1,a@x\n2,\n3,c@x\n");
    let job = s.job(&["data/users.csv"], "", "", "");
    let e = s.run(&job).unwrap_err();
    assert!(matches!(e, Error::Data(_)), "{e:?}");
    let m = e.to_string();
    assert!(m.contains("users.csv:3"), "{m}");
    assert!(m.contains("'email'"), "{m}");
    assert!(s.parquet_files().is_empty(), "no output after a failed run");
}

#[test]
fn strict_null_with_on_error_reject_goes_to_rejects_file() {
    let s = Setup::new();
    s.write("data/users.csv", "id,email\n1,a@x\n2,\n3,c@x\n");
    let job = s.job(&["data/users.csv"], "", "on_error: reject", "");
    let report = s.run(&job).unwrap();
    assert_eq!((report.rows_written, report.rows_rejected), (2, 1));
    let rejects = fs::read_to_string(s.path("out/_rejects.csv")).unwrap();
    assert_eq!(rejects.lines().count(), 2, "{rejects}");
    assert!(rejects.contains("email"), "{rejects}");
}

#[test]
fn warn_mode_keeps_null_rows_and_counts_them() {
    let s = Setup::new();
    s.write("data/users.csv", "id,email\n1,a@x\n2,\n,\n4,d@x\n");
    let job = s.job(&["data/users.csv"], "schema_validation_mode: warn", "", "");
    let report = s.run(&job).unwrap();
    // Two rows with nulls in required columns, plus four optional columns missing (infos,
    // not warnings).
    assert_eq!((report.rows_written, report.rows_rejected, report.warnings), (4, 0, 2));
    let batches = s.read_back();
    assert!(batches[0].schema().fields().iter().all(|f| f.is_nullable()));
    let got = rows(&batches);
    assert_eq!(got[1], row(&["2", "null", "null", "null", "null", "null"]));
    assert_eq!(got[2], row(&["null", "null", "null", "null", "null", "null"]));
}

#[test]
fn missing_required_column() {
    let s = Setup::new();
    s.write("data/users.csv", "id,score\n1,2.5\n");
    let job = s.job(&["data/users.csv"], "", "", "");
    let e = s.run(&job).unwrap_err();
    assert!(matches!(e, Error::Schema(_)), "{e:?}");
    let m = e.to_string();
    assert!(m.contains("required column 'email' of asset 'users'"), "{m}");
    assert!(m.contains("users.csv") && m.contains("assets/users.yaml"), "{m}");
    assert!(m.contains("'id', 'score'"), "{m}");
    assert!(s.parquet_files().is_empty());
    // The same check is available without running (for `dativo check`).
    assert!(job::load(&job).unwrap().plan().is_err());

    // Warn mode writes nulls instead, with a warning.
    let job = s.job(&["data/users.csv"], "schema_validation_mode: warn", "", "");
    let report = s.run(&job).unwrap();
    assert_eq!((report.rows_written, report.warnings), (1, 1));
    assert_eq!(rows(&s.read_back()), [row(&["1", "null", "2.5", "null", "null", "null"])]);
}

#[test]
fn extra_column_dropped_and_order_follows_asset() {
    let s = Setup::new();
    s.write("data/users.csv", "junk,email,id\nx,a@x,1\n\"not, a number\",b@x,2\n");
    let job = s.job(&["data/users.csv"], "", "", "");
    let plan = job::load(&job).unwrap().plan().unwrap();
    assert_eq!(plan[0].header.dropped, ["junk"]);
    let report = s.run(&job).unwrap();
    assert_eq!((report.rows_written, report.warnings), (2, 1));
    let batches = s.read_back();
    assert_eq!(batches[0].num_columns(), 6);
    assert_eq!(
        rows(&batches),
        [row(&["1", "a@x", "null", "null", "null", "null"]), row(&["2", "b@x", "null", "null", "null", "null"])]
    );
}

#[test]
fn several_files_share_one_rejects_file_and_must_share_columns() {
    let s = Setup::new();
    s.write("data/a.csv", "id,email\n1,a@x\nbad,b@x\n");
    s.write("data/b.csv", "id,email\n3,c@x\noops,d@x\n");
    let job = s.job(&["data/a.csv", "data/b.csv"], "", "on_error: reject", "");
    let report = s.run(&job).unwrap();
    assert_eq!((report.rows_read, report.rows_written, report.rows_rejected), (2, 2, 2));
    let got = rows(&s.read_back());
    assert_eq!(got.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["1", "3"]);
    let rejects = fs::read_to_string(s.path("out/_rejects.csv")).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines.len(), 3, "one header, two rows: {rejects}");
    assert!(lines[1].contains("a.csv,3,") && lines[2].contains("b.csv,3,"), "{rejects}");

    // A file whose columns differ from the first file's is an error naming it.
    s.write("data/c.csv", "email,id\ne@x,5\n");
    let job = s.job(&["data/a.csv", "data/c.csv"], "", "", "");
    let m = s.run(&job).unwrap_err().to_string();
    assert!(m.contains("c.csv: columns differ from") && m.contains("a.csv"), "{m}");
}

#[test]
fn bad_value_mid_file_fails_without_output() {
    let s = Setup::new();
    let mut text = String::from("id,email\n");
    for i in 0..5000 {
        text.push_str(&format!("{i},u{i}@x\n"));
    }
    text.push_str("12x,late@x\n");
    s.write("data/users.csv", &text);
    let job = s.job(&["data/users.csv"], "", "batch_size: 100", "");
    let m = s.run(&job).unwrap_err().to_string();
    assert!(m.contains("users.csv:5002") && m.contains("'id'") && m.contains("12x"), "{m}");
    assert!(s.parquet_files().is_empty());
}

#[test]
fn inferred_types_without_asset_and_progress() {
    let s = Setup::new();
    s.write("data/users.csv", GOOD);
    s.write(
        "job.yaml",
        "source:\n  files: [{path: data/users.csv}]\ntarget:\n  output_base: out\n  engine: {options: {max_rows_per_file: 2}}\n",
    );
    let calls = std::cell::Cell::new(0u32);
    let last = std::cell::RefCell::new(Progress::default());
    let report = job::load(&s.path("job.yaml"))
        .unwrap()
        .run(&|p: &Progress| {
            calls.set(calls.get() + 1);
            *last.borrow_mut() = p.clone();
        })
        .unwrap();
    assert_eq!(report.rows_written, 3);
    assert_eq!(report.files.len(), 2);
    assert!(calls.get() >= 1);
    assert_eq!(last.borrow().rows, 3);
    assert_eq!(last.borrow().total_bytes, GOOD.len() as u64);
    let batches = s.read_back();
    assert_eq!(batches[0].schema().field(0).data_type(), &DataType::Int64);
    assert_eq!(rows(&batches).len(), 3);
}

#[test]
fn overwrite_replaces_and_append_adds() {
    let s = Setup::new();
    s.write("data/users.csv", GOOD);
    let job = s.job(&["data/users.csv"], "", "", "");
    s.run(&job).unwrap();
    s.run(&job).unwrap();
    assert_eq!(rows(&s.read_back()).len(), 3, "overwrite: a rerun gives the same rows");
    let job = s.job(&["data/users.csv"], "", "", "write_mode: append");
    s.run(&job).unwrap();
    assert_eq!(rows(&s.read_back()).len(), 6);
    assert_eq!(s.parquet_files().len(), 2);
}

#[test]
fn secrets_stay_out_of_run_errors() {
    let s = Setup::new();
    // The secret shows up in the data too: the reader's error quotes the bad value.
    s.write("data/users.csv", "id,email\nhunter2-secret,a@x\n");
    std::env::set_var("DATIVO_TEST_JOB_SECRET", "hunter2-secret");
    let job = s.job(&["data/users.csv"], "", "", "");
    let text = fs::read_to_string(&job).unwrap().replace("tenant_id: acme", "tenant_id: ${DATIVO_TEST_JOB_SECRET}");
    fs::write(&job, text).unwrap();
    let loaded = job::load(&job).unwrap();
    assert_eq!(loaded.tenant_id.as_deref(), Some("hunter2-secret"));
    let m = loaded.run(&|_: &Progress| {}).unwrap_err().to_string();
    assert!(!m.contains("hunter2-secret"), "{m}");
    assert!(m.contains("${DATIVO_TEST_JOB_SECRET}"), "{m}");
}

#[test]
fn job_type_is_usable_from_outside() {
    fn assert_send<T: Send + Sync>() {}
    assert_send::<Job>();
}

/// Every file of `out/` with its content: what a reader of the folder can see.
fn snapshot(s: &Setup) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(s.path("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

const BAD_SCORE: &str = "\
id,email,score,active,born,seen
1,a@x.org,1.5,true,2024-01-02,2024-01-02T03:04:05Z
2,b@x.org,many,false,,
";

#[test]
fn a_failed_run_leaves_output_base_exactly_as_it_was() {
    let s = Setup::new();
    // A good run: Parquet, the manifest and (on_error: reject) a rejects file with one row.
    s.write("data/users.csv", BAD_SCORE);
    let job = s.job(&["data/users.csv"], "", "on_error: reject", "");
    let report = s.run(&job).unwrap();
    assert_eq!((report.rows_written, report.rows_rejected), (1, 1));
    let before = snapshot(&s);
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"_manifest.json") && names.contains(&"_rejects.csv"), "{names:?}");

    // The same folder, runs that fail: a bad row with on_error: fail, and too many rejects.
    s.write("data/users.csv", &format!("{GOOD}4,d@x.org,oops,true,,\n"));
    for reader in ["on_error: fail", "on_error: reject, max_rejects: 0"] {
        let job = s.job(&["data/users.csv"], "", reader, "");
        let e = s.run(&job).unwrap_err().to_string();
        assert!(e.contains("oops") || e.contains("max_rejects"), "{reader}: {e}");
        assert_eq!(snapshot(&s), before, "{reader}: the failed run changed out/");
    }

    // A good run without bad rows replaces the rejects file: no row of the earlier run remains.
    s.write("data/users.csv", GOOD);
    let job = s.job(&["data/users.csv"], "", "on_error: reject", "");
    assert_eq!(s.run(&job).unwrap().rows_rejected, 0);
    let rejects = fs::read_to_string(s.path("out/_rejects.csv")).unwrap();
    assert_eq!(rejects.lines().count(), 1, "{rejects}");
    let leftovers: Vec<String> =
        snapshot(&s).into_iter().map(|(n, _)| n).filter(|n| n.starts_with('.') || n.ends_with(".tmp")).collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn deeply_nested_yaml_is_refused_naming_file_and_line() {
    // `[` nested 100,000 deep (a 200 KB file) used to keep the YAML parser busy for minutes.
    let s = Setup::new();
    s.write("in.csv", "id,email\n1,a@x\n");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let job = s.job(&["in.csv"], "# a comment\n# another\n", "", "");
    let text = fs::read_to_string(&job).unwrap().replace("source:\n", &format!("source:\n  description: {deep}\n"));
    fs::write(&job, &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("  description: ")).unwrap() + 1;
    let e = job::load(&job).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: line {line}: lists and mappings are nested more than 64 levels deep; dativo refuses such YAML (a job \
             or asset file needs a few levels)",
            job.display()
        )
    );
    // `{a: ` 20,000 deep, in the asset file.
    s.write("assets/users.yaml", &format!("{ASSET}description: {}\n", "{a: ".repeat(20_000)));
    let job = s.job(&["in.csv"], "", "", "");
    let e = job::load(&job).unwrap_err().to_string();
    let asset = s.path("assets/users.yaml");
    assert!(e.starts_with(&format!("{}: line 11: lists and mappings", asset.display())), "{e}");
}
