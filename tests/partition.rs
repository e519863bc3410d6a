//! Hive-partitioned output (`target.partitioning`), local and on a real S3-compatible server
//! (SeaweedFS, see `common/s3.rs`), read back by an independent reader: pyarrow.dataset with
//! Hive partitioning (`common/partition_reader.py`), which must see exactly the input's rows,
//! partition values included.

#[allow(dead_code)]
#[path = "common/s3.rs"]
mod s3;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use s3::{S3Server, BUCKET};

const ASSET: &str = "name: orders\nversion: \"1.0\"\nschema:\n  - {name: id, type: integer, required: true}\n  - {name: name, type: string}\n  - {name: country, type: string}\n  - {name: qty, type: integer}\n";

/// A country for row `i`: plain, escaped, non-ASCII and null values.
fn country(i: u64, partitions: u64) -> String {
    match i % partitions {
        0 => String::new(),
        1 => "a/b=c%d:e".into(),
        2 => "São Paulo".into(),
        n => format!("C{n}"),
    }
}

/// The CSV text and the rows pyarrow must read back (every value as text, nulls as None).
fn input(rows: u64, partitions: u64) -> (String, Vec<BTreeMap<String, Option<String>>>) {
    let mut text = String::from("id,name,country,qty\n");
    let mut expected = Vec::new();
    for i in 0..rows {
        let c = country(i, partitions);
        text.push_str(&format!("{i},n{i},{c},{}\n", i % 5));
        let mut row = BTreeMap::new();
        row.insert("id".to_string(), Some(i.to_string()));
        row.insert("name".to_string(), Some(format!("n{i}")));
        row.insert("country".to_string(), if c.is_empty() { None } else { Some(c) });
        row.insert("qty".to_string(), Some((i % 5).to_string()));
        expected.push(row);
    }
    (text, expected)
}

fn write_job(dir: &Path, target: &str) {
    fs::write(dir.join("asset.yaml"), ASSET).unwrap();
    let job = format!("asset_path: asset.yaml\nsource:\n  files: [{{path: in.csv}}]\ntarget:\n{target}");
    fs::write(dir.join("job.yaml"), job).unwrap();
}

fn run(dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dativo"));
    cmd.arg("run").arg("--config").arg(dir.join("job.yaml")).env("TZ", "UTC");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run dativo")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "dativo failed:\nstdout:\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr));
}

#[track_caller]
fn assert_fails(out: &Output, parts: &[&str]) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "dativo succeeded:\n{}", text(&out.stdout));
    for p in parts {
        assert!(err.contains(p), "expected `{p}` in:\n{err}");
    }
}

/// Runs the reader on `where` (a folder, or `s3://...` with `server`).
fn read_back(where_: &str, server: Option<&S3Server>) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/common/partition_reader.py");
    let mut cmd = Command::new(s3::venv().join("bin/python"));
    cmd.arg(script).arg(where_).stdin(Stdio::null());
    if let Some(s) = server {
        cmd.env("S3_ENDPOINT", &s.endpoint).env("S3_ACCESS_KEY", &s.access_key).env("S3_SECRET_KEY", &s.secret_key);
    }
    let out = cmd.output().expect("run python");
    assert!(out.status.success(), "partition_reader.py failed: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The rows read back, sorted by id, without the columns in `drop`.
fn rows(table: &Value, drop: &[&str]) -> Vec<BTreeMap<String, Option<String>>> {
    let mut rows: Vec<BTreeMap<String, Option<String>>> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !drop.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
                .collect()
        })
        .collect();
    rows.sort_by_key(|r| r["id"].as_ref().unwrap().parse::<u64>().unwrap());
    rows
}

fn manifest_files(table: &Value) -> Vec<String> {
    table["manifest"]["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap().to_string()).collect()
}

/// Today's date in UTC as `date` prints it.
fn today_utc() -> String {
    let out = Command::new("date").args(["-u", "+%F"]).output().unwrap();
    text(&out.stdout).trim().to_string()
}

/// Every file under `dir` with its content (hidden temp files included).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), b"<dir>".to_vec());
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn a_partitioned_local_job_is_read_back_row_for_row_by_pyarrow() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, expected) = input(500, 6);
    fs::write(dir.path().join("in.csv"), csv).unwrap();
    write_job(dir.path(), "  output_base: out\n  partitioning: [country, ingest_date]\n");
    let before = today_utc();
    assert_ok(&run(dir.path(), &[]));
    let after = today_utc();
    let out = dir.path().join("out");
    let table = read_back(out.to_str().unwrap(), None);

    // Every row, with its partition values; the partition columns are not in the files.
    assert_eq!(rows(&table, &["ingest_date"]), expected);
    assert_eq!(table["file_columns"], serde_json::json!(["id", "name", "qty"]));
    // ingest_date is the run's date (TZ=UTC here), the same on every row.
    for row in table["rows"].as_array().unwrap() {
        let d = row["ingest_date"].as_str().unwrap();
        assert!(d == before || d == after, "{d}");
    }
    // The folders, escaped as Hive does; the manifest names every file with its folder.
    let files = manifest_files(&table);
    assert_eq!(files.len(), 6, "{files:?}");
    let date = table["rows"][0]["ingest_date"].as_str().unwrap().to_string();
    for folder in ["country=__HIVE_DEFAULT_PARTITION__", "country=a%2Fb%3Dc%25d%3Ae", "country=São Paulo", "country=C3"]
    {
        let file = format!("{folder}/ingest_date={date}/part-00000.parquet");
        assert!(files.contains(&file), "{file} not in {files:?}");
        assert!(out.join(&file).is_file());
    }

    // A rerun (overwrite) with fewer partitions replaces the table: old folders are gone.
    let (csv, expected) = input(40, 4);
    fs::write(dir.path().join("in.csv"), csv).unwrap();
    assert_ok(&run(dir.path(), &[]));
    let table = read_back(out.to_str().unwrap(), None);
    assert_eq!(rows(&table, &["ingest_date"]), expected);
    assert!(!out.join("country=C5").exists());
    let on_disk: Vec<String> =
        snapshot(&out).keys().map(|p| p.display().to_string()).filter(|p| p.ends_with(".parquet")).collect();
    assert_eq!(on_disk.len(), manifest_files(&table).len(), "{on_disk:?}");
}

#[test]
fn many_partitions_with_few_open_files_still_give_exactly_the_right_rows() {
    let dir = tempfile::tempdir().unwrap();
    // 60 partitions, rows interleaved, at most 4 files open and 7 rows per file.
    let (csv, expected) = input(3000, 60);
    fs::write(dir.path().join("in.csv"), csv).unwrap();
    write_job(
        dir.path(),
        "  output_base: out\n  partitioning: [country]\n  engine:\n    options: {max_open_partitions: 4, max_rows_per_file: 7}\n",
    );
    // Small batches, so every batch holds many partitions and files are closed early often.
    let job = fs::read_to_string(dir.path().join("job.yaml")).unwrap();
    fs::write(
        dir.path().join("job.yaml"),
        job.replace("files: [{path: in.csv}]", "files: [{path: in.csv}]\n  engine: {options: {batch_size: 100}}"),
    )
    .unwrap();
    assert_ok(&run(dir.path(), &[]));
    let out = dir.path().join("out");
    let table = read_back(out.to_str().unwrap(), None);
    assert_eq!(rows(&table, &[]), expected);
    let files = table["manifest"]["files"].as_array().unwrap();
    // 50 rows per partition in 7-row files would be 8 files each; closing files early makes more.
    assert!(files.len() >= 60 * 8, "{} files", files.len());
    assert!(files.iter().all(|f| f["rows"].as_u64().unwrap() <= 7));
    assert_eq!(files.iter().map(|f| f["rows"].as_u64().unwrap()).sum::<u64>(), 3000);
    assert_eq!(table["manifest"]["rows"], 3000);
}

#[test]
fn a_failed_partitioned_run_leaves_the_folder_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = input(100, 5);
    fs::write(dir.path().join("in.csv"), csv).unwrap();
    write_job(dir.path(), "  output_base: out\n  partitioning: [country]\n");
    assert_ok(&run(dir.path(), &[]));
    let out = dir.path().join("out");
    let before = snapshot(&out);

    // New partitions, then a bad value in the last row: the run fails at the end.
    let (mut csv, _) = input(300, 12);
    csv.push_str("300,x,NEW,not-a-number\n");
    fs::write(dir.path().join("in.csv"), csv).unwrap();
    assert_fails(&run(dir.path(), &[]), &["not-a-number"]);
    assert_eq!(snapshot(&out), before, "the folder changed");
}

#[test]
fn partition_columns_must_be_in_the_data_or_the_asset_and_the_job_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, expected) = input(30, 4);
    fs::write(dir.path().join("in.csv"), csv).unwrap();
    // Not in the asset: refused before anything runs.
    write_job(dir.path(), "  output_base: out\n  partitioning: [contry]\n");
    assert_fails(
        &run(dir.path(), &[]),
        &["target.partitioning: column `contry` is not in the asset", "did you mean 'country'"],
    );
    // Without an asset, checked against the data's columns.
    let job = "source:\n  files: [{path: in.csv}]\ntarget:\n  output_base: out\n  partitioning: [region]\n";
    fs::write(dir.path().join("job.yaml"), job).unwrap();
    assert_fails(&run(dir.path(), &[]), &["column `region` is not in the data (its columns: id, name, country, qty)"]);
    assert!(!dir.path().join("out").exists());

    // The asset's target.partitioning applies when the job has none; the job's `[]` wins.
    fs::write(dir.path().join("asset.yaml"), format!("{ASSET}target: {{partitioning: [country]}}\n")).unwrap();
    let job = "asset_path: asset.yaml\nsource:\n  files: [{path: in.csv}]\ntarget:\n  output_base: out\n";
    fs::write(dir.path().join("job.yaml"), job).unwrap();
    assert_ok(&run(dir.path(), &[]));
    let table = read_back(dir.path().join("out").to_str().unwrap(), None);
    assert!(manifest_files(&table).iter().all(|f| f.starts_with("country=")));
    assert_eq!(rows(&table, &[]), expected);
    fs::write(dir.path().join("job.yaml"), format!("{job}  partitioning: []\n")).unwrap();
    assert_ok(&run(dir.path(), &[]));
    let table = read_back(dir.path().join("out").to_str().unwrap(), None);
    assert_eq!(manifest_files(&table), ["part-00000.parquet"]);
    assert_eq!(table["file_columns"], serde_json::json!(["country", "id", "name", "qty"]));
}

#[test]
fn a_partitioned_s3_job_is_read_back_by_pyarrow_and_a_rerun_removes_the_old_objects() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (csv, expected) = input(400, 7);
    fs::write(dir.path().join("in.csv"), csv).unwrap();
    write_job(
        dir.path(),
        &format!(
            "  type: s3\n  partitioning: [ingest_date, country]\n  connection:\n    s3:\n      endpoint: \"${{S3_ENDPOINT}}\"\n      bucket: {BUCKET}\n      prefix: sales/orders\n      access_key_id: \"${{S3_KEY}}\"\n      secret_access_key: \"${{S3_SECRET}}\"\n      path_style_access: true\n      secure: false\n  engine:\n    options: {{max_open_partitions: 2, max_rows_per_file: 30}}\n"
        ),
    );
    let env = [
        ("S3_ENDPOINT", server.endpoint.as_str()),
        ("S3_KEY", server.access_key.as_str()),
        ("S3_SECRET", server.secret_key.as_str()),
    ];
    assert_ok(&run(dir.path(), &env));
    let url = format!("s3://{BUCKET}/sales/orders");
    let table = read_back(&url, Some(&server));
    assert_eq!(rows(&table, &["ingest_date"]), expected);
    assert_eq!(table["file_columns"], serde_json::json!(["id", "name", "qty"]));
    let files = manifest_files(&table);
    assert!(files.iter().all(|f| f.starts_with("ingest_date=") && f.contains("/country=")), "{files:?}");
    assert!(files.iter().any(|f| f.contains("/country=a%2Fb%3Dc%25d%3Ae/")), "{files:?}");

    // A rerun with other partitions: the manifest names only its files, the old objects are gone.
    let (csv, expected) = input(50, 3);
    fs::write(dir.path().join("in.csv"), csv).unwrap();
    assert_ok(&run(dir.path(), &env));
    let table = read_back(&url, Some(&server));
    assert_eq!(rows(&table, &["ingest_date"]), expected);
    let mut want = manifest_files(&table);
    want.push("_manifest.json".into());
    want.sort();
    let listed = server.query(&["list", &format!("{BUCKET}/sales/orders")]);
    let got: Vec<String> = listed.as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string()).collect();
    assert_eq!(got, want);
}

#[test]
fn incremental_partitioned_runs_replace_only_the_changed_inputs_parts_in_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("asset.yaml"), ASSET).unwrap();
    let job = "asset_path: asset.yaml\nsource:\n  files: [{path: a.csv}, {path: b.csv}]\n  incremental: {strategy: file_fingerprint}\ntarget:\n  output_base: out\n  partitioning: [country]\n";
    fs::write(dir.path().join("job.yaml"), job).unwrap();
    // a.csv: ids 0..300 over 6 countries.
    let (a, mut expected) = input(300, 6);
    fs::write(dir.path().join("a.csv"), a).unwrap();
    // b.csv: the same shape, ids offset by 1000.
    let shift = |n: u64, partitions: u64| {
        let (text, mut rows) = input(n, partitions);
        let text: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    format!("{l}\n")
                } else {
                    let (id, rest) = l.split_once(',').unwrap();
                    format!("{},{rest}\n", id.parse::<u64>().unwrap() + 1000)
                }
            })
            .collect();
        for r in &mut rows {
            let id = r["id"].as_ref().unwrap().parse::<u64>().unwrap() + 1000;
            r.insert("id".into(), Some(id.to_string()));
        }
        (text, rows)
    };
    let (b, b_expected) = shift(200, 4);
    fs::write(dir.path().join("b.csv"), b).unwrap();
    assert_ok(&run(dir.path(), &[]));
    let out = dir.path().join("out");
    let mut all = expected.clone();
    all.extend(b_expected);
    let table = read_back(out.to_str().unwrap(), None);
    assert_eq!(rows(&table, &[]), all, "both inputs, every partition");
    let first = manifest_files(&table);
    assert!(first.iter().any(|f| f.starts_with("country=C5/")), "{first:?}");

    // b.csv changes to 2 countries: its parts in the other partitions go, a's stay untouched.
    let (b, b_expected) = shift(50, 2);
    fs::write(dir.path().join("b.csv"), b).unwrap();
    let out_text = run(dir.path(), &[]);
    assert_ok(&out_text);
    expected.extend(b_expected);
    let table = read_back(out.to_str().unwrap(), None);
    assert_eq!(rows(&table, &[]), expected, "a's rows and b's new rows, once");
    let second = manifest_files(&table);
    let a_parts: Vec<&String> = first.iter().filter(|f| second.contains(f)).collect();
    assert!(!a_parts.is_empty(), "a's parts are kept by name: {first:?} -> {second:?}");
    let on_disk: Vec<String> =
        snapshot(&out).keys().map(|p| p.display().to_string()).filter(|p| p.ends_with(".parquet")).collect();
    assert_eq!(on_disk.len(), second.len(), "only the manifest's files are on disk: {on_disk:?}");
}
