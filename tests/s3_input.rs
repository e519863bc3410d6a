//! `s3://` input files and globs against a real S3-compatible server (SeaweedFS, see
//! `common/s3.rs`): CSV objects are uploaded with pyarrow, `dativo run` reads them by glob, and
//! the Parquet it writes (to a local folder and to the bucket) is read back by pyarrow
//! (`common/s3_reader.py`) and compared row for row with the input. Also: a bad value names
//! the object's URL, line and column; a missing object or an empty glob is a clear error; a
//! large object is read with bounded memory (peak RSS reported).

#[allow(dead_code)]
#[path = "common/s3.rs"]
mod s3;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use s3::{S3Server, BUCKET};

const ASSET: &str = "name: orders\nversion: \"1.0\"\nschema:\n  - {name: id, type: integer, required: true}\n  - {name: name, type: string}\n  - {name: amount, type: double}\n";

/// Rows `range` as CSV text (with a header) and as pyarrow reads them back.
fn csv(range: std::ops::Range<u64>) -> (String, Vec<Value>) {
    let mut text = String::from("id,name,amount\n");
    let mut rows = Vec::new();
    for i in range {
        let name = if i % 5 == 0 { format!("last, first {i}") } else { format!("name{i}") };
        let quoted = if name.contains(',') { format!("\"{name}\"") } else { name.clone() };
        let amount = i as f64 * 0.5;
        text.push_str(&format!("{i},{quoted},{amount}\n"));
        rows.push(json!([i, name, amount]));
    }
    (text, rows)
}

/// The connection keys of `server`, through `${VAR}`s, indented under `connection:`.
const CONNECTION: &str = "    s3:\n      endpoint: \"${S3_ENDPOINT}\"\n      access_key_id: \"${S3_KEY}\"\n      secret_access_key: \"${S3_SECRET}\"\n      region: us-east-1\n      path_style_access: true\n      secure: false\n";

/// A job folder with the asset and `job.yaml` (`source` and `target` as given).
struct Job {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Job {
    fn new(server: &S3Server, source: &str, target: &str) -> Job {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("asset.yaml"), ASSET).unwrap();
        fs::write(dir.path().join("job.yaml"), format!("asset_path: asset.yaml\nsource:\n{source}target:\n{target}"))
            .unwrap();
        let env = vec![
            ("S3_ENDPOINT".into(), server.endpoint.clone()),
            ("S3_KEY".into(), server.access_key.clone()),
            ("S3_SECRET".into(), server.secret_key.clone()),
        ];
        Job { dir, env }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dativo"));
        cmd.args(args).arg("--config").arg(self.dir.path().join("job.yaml")).env("RUST_LOG", "debug");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    fn run(&self) -> Output {
        self.command(&["run"]).output().expect("run dativo")
    }

    fn out(&self) -> String {
        self.dir.path().join("out").display().to_string()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "dativo failed:\nstdout:\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr));
}

fn put(server: &S3Server, key: &str, body: &str) {
    server.query(&["put", &format!("{BUCKET}/{key}"), body]);
}

#[test]
fn an_s3_glob_is_read_row_for_row_into_a_local_folder_and_into_the_bucket() {
    let server = S3Server::start();
    // Uploaded out of order; the glob reads them sorted by key. Neither the text file nor the
    // object in a sub-folder matches `raw/2025-*.csv`.
    let parts = [("raw/2025-02.csv", 1000..2500), ("raw/2025-01.csv", 0..1000), ("raw/2025-03.csv", 2500..2600)];
    let mut expected = Vec::new();
    for (key, range) in parts.iter().cloned() {
        put(&server, key, &csv(range).0);
    }
    for range in [0..1000, 1000..2500, 2500..2600] {
        expected.extend(csv(range).1);
    }
    put(&server, "raw/notes.txt", "not,a,match\n");
    put(&server, "raw/sub/2025-04.csv", &csv(9000..9010).0);

    // To a local folder, with the source's own connection.
    let source = format!("  files: [{{path: 's3://{BUCKET}/raw/2025-*.csv'}}]\n  connection:\n{CONNECTION}");
    let job = Job::new(&server, &source, "  output_base: out\n");
    let out = job.run();
    assert_ok(&out);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("3 input file(s)"), "{stderr}");
    let local = server.query(&["local", &job.out()]);
    assert_eq!(local["rows"].as_array().unwrap(), &expected, "rows read back by pyarrow, in key order");
    assert_eq!(local["manifest"]["rows"], json!(2600));

    // To the bucket, with no source.connection: the inputs use the target's.
    let target =
        format!("  type: s3\n  connection:\n{CONNECTION}      bucket: {BUCKET}\n      prefix: tables/orders\n");
    let source = format!("  files:\n    - {{path: 's3://{BUCKET}/raw/2025-0[12].csv'}}\n    - {{path: 's3://{BUCKET}/raw/2025-03.csv'}}\n");
    let job = Job::new(&server, &source, &target);
    assert_ok(&job.run());
    let table = server.query(&["table", &format!("{BUCKET}/tables/orders")]);
    assert_eq!(table["rows"].as_array().unwrap(), &expected, "rows read back from the bucket");
    assert_eq!(table["schema"], json!(["id:int64", "name:string", "amount:double"]));

    // `**` reaches the sub-folder too.
    let source = format!("  files: [{{path: 's3://{BUCKET}/raw/**/2025-*.csv'}}]\n  connection:\n{CONNECTION}");
    let job = Job::new(&server, &source, "  output_base: out\n");
    assert_ok(&job.run());
    let rows = server.query(&["local", &job.out()])["rows"].as_array().unwrap().len();
    assert_eq!(rows, 2610);
}

#[test]
fn a_bad_value_in_an_object_names_its_url_line_and_column() {
    let server = S3Server::start();
    put(&server, "in/bad.csv", "id,name,amount\n1,a,1.5\n2,b,2.5\n3,c,lots\n");
    let source = format!("  files: [{{path: 's3://{BUCKET}/in/bad.csv'}}]\n  connection:\n{CONNECTION}");
    let job = Job::new(&server, &source, "  output_base: out\n");
    let out = job.run();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("s3://{BUCKET}/in/bad.csv:4: column 'amount'")), "{stderr}");
    assert!(stderr.contains("lots"), "the value: {stderr}");
    assert!(!Path::new(&job.out()).join("_manifest.json").exists(), "a failed run commits nothing");
}

#[test]
fn a_missing_object_or_an_empty_glob_is_a_clear_error() {
    let server = S3Server::start();
    put(&server, "in/a.csv", "id,name,amount\n1,a,1.5\n");
    let fails = |path: &str| -> String {
        let source = format!("  files: [{{path: '{path}'}}]\n  connection:\n{CONNECTION}");
        let job = Job::new(&server, &source, "  output_base: out\n");
        let out = job.command(&["check"]).output().unwrap();
        assert!(!out.status.success(), "{path} should fail");
        text(&out.stderr)
    };
    let e = fails(&format!("s3://{BUCKET}/in/b.csv"));
    assert!(e.contains(&format!("source.files[0].path: cannot read s3://{BUCKET}/in/b.csv: no such object")), "{e}");
    let e = fails(&format!("s3://{BUCKET}/in/*.tsv"));
    assert!(
        e.contains(&format!(
            "the glob 's3://{BUCKET}/in/*.tsv' matches no object (listed s3://{BUCKET}/in/: 1 object(s) there)"
        )),
        "{e}"
    );
    let e = fails("s3://no-such-bucket/in/a.csv");
    assert!(e.contains("s3://no-such-bucket/in/a.csv"), "{e}");
    assert!(!e.contains(&server.secret_key) && !e.contains(&server.access_key), "{e}");
}

/// Peak resident memory of `cmd` in MiB (VmHWM, read until it exits).
fn peak_rss_mib(cmd: &mut Command) -> (Output, f64) {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let pid = child.id();
    let watcher = std::thread::spawn(move || {
        let mut peak_kib = 0u64;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(600) {
            let Ok(status) = fs::read_to_string(&status_file) else { break };
            // A zombie has no VmHWM line any more: the last reading stands.
            let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) else { break };
            peak_kib = peak_kib.max(line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(10));
        }
        peak_kib
    });
    let out = child.wait_with_output().unwrap();
    let _ = pid;
    (out, watcher.join().unwrap() as f64 / 1024.0)
}

#[test]
fn a_large_object_is_read_with_bounded_memory() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    // One generated CSV, uploaded whole (80 MiB) and as its first quarter (20 MiB).
    let (mut body, mut rows, mut quarter) = (String::from("id,name,amount\n"), 0u64, None);
    while body.len() < 80 << 20 {
        body.push_str(&format!("{rows},name-{rows}-padding-padding-padding,{}.25\n", rows % 1000));
        rows += 1;
        if quarter.is_none() && body.len() >= 20 << 20 {
            quarter = Some((body.len(), rows));
        }
    }
    let (quarter_len, quarter_rows) = quarter.unwrap();
    let mib = |n: usize| n as f64 / (1 << 20) as f64;
    let (big_mib, small_mib) = (mib(body.len()), mib(quarter_len));
    for (name, text) in [("big.csv", &body[..]), ("small.csv", &body[..quarter_len])] {
        let file = dir.path().join(name);
        fs::write(&file, text).unwrap();
        server.query(&["upload", &format!("{BUCKET}/big/{name}"), file.to_str().unwrap()]);
    }
    drop(body);

    // Read every row and write nothing (`dativo check --data`), so the numbers are the reader's.
    let read = |path: &str, connection: bool, want_rows: u64| -> f64 {
        let conn = if connection { format!("  connection:\n{CONNECTION}") } else { String::new() };
        let job = Job::new(&server, &format!("  files: [{{path: '{path}'}}]\n{conn}"), "  output_base: out\n");
        let (out, peak) = peak_rss_mib(&mut job.command(&["check", "--data", "--quiet"]));
        assert_ok(&out);
        let report = text(&out.stdout) + &text(&out.stderr);
        assert!(report.contains(&want_rows.to_string()), "every row of {path} read: {report}");
        peak
    };
    let local = read(dir.path().join("big.csv").to_str().unwrap(), false, rows);
    let small = read(&format!("s3://{BUCKET}/big/small.csv"), true, quarter_rows);
    let big = read(&format!("s3://{BUCKET}/big/big.csv"), true, rows);
    eprintln!(
        "peak RSS of `dativo check --data`: local {big_mib:.0} MiB file {local:.0} MiB; s3 object of \
         {small_mib:.0} MiB {small:.0} MiB, of {big_mib:.0} MiB {big:.0} MiB"
    );
    // Generous, and robust: four times the object adds far less than the 60 MiB it grew by
    // (the object is never held whole: two 8 MiB ranges at most, beside the reader's chunks).
    assert!(big < small + 40.0, "s3: {small:.0} MiB for {small_mib:.0} MiB, {big:.0} MiB for {big_mib:.0} MiB");

    // And the rows arrive whole: a run to a local folder counts them all.
    let source = format!("  files: [{{path: 's3://{BUCKET}/big/big.csv'}}]\n  connection:\n{CONNECTION}");
    let job = Job::new(&server, &source, "  output_base: out\n");
    assert_ok(&job.run());
    let manifest: Value =
        serde_json::from_slice(&fs::read(Path::new(&job.out()).join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["rows"], json!(rows));
}

/// A client of the test server's bucket (dativo's own: for what pyarrow cannot show, an ETag).
fn store_of(server: &S3Server) -> dativo_engine::store::Store {
    dativo_engine::store::Store::connect(&dativo_engine::store::StoreConfig {
        bucket: BUCKET.into(),
        prefix: String::new(),
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".into(),
        access_key_id: Some(server.access_key.clone()),
        secret_access_key: Some(server.secret_key.clone()),
        session_token: None,
        path_style: true,
        allow_http: true,
    })
    .unwrap()
}

#[test]
fn an_object_replaced_after_the_job_saw_it_fails_the_read() {
    use std::io::Read;
    let server = S3Server::start();
    put(&server, "in/a.csv", "id\n1\n2\n");
    let store = std::sync::Arc::new(store_of(&server));
    let stamp = store.head("in/a.csv").unwrap().expect("the object exists");
    assert_eq!(stamp.size, 7);
    assert!(stamp.e_tag.is_some() && stamp.modified_ns > 0, "{stamp:?}");
    let mut text = String::new();
    store.reader("in/a.csv", &stamp).read_to_string(&mut text).unwrap();
    assert_eq!(text, "id\n1\n2\n");

    put(&server, "in/a.csv", "id\n9\n8\n");
    let err = store.reader("in/a.csv", &stamp).read_to_string(&mut String::new()).unwrap_err().to_string();
    assert!(err.contains(&format!("s3://{BUCKET}/in/a.csv changed while it was being read")), "{err}");
    assert_ne!(store.head("in/a.csv").unwrap().unwrap().e_tag, stamp.e_tag, "a new version, a new ETag");
}

/// `source.incremental` over the objects `s3://BUCKET/<folder>/*.csv`, its state in
/// `state/job.json`.
fn incremental_source(folder: &str, strategy: &str) -> String {
    format!(
        "  files: [{{path: 's3://{BUCKET}/{folder}/*.csv'}}]\n  connection:\n{CONNECTION}  incremental:\n    \
         strategy: {strategy}\n    state_path: state/job.json\n"
    )
}

/// Rows ordered by id (an incremental manifest lists inputs by input id, not by key).
fn by_id(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(|r| r[0].as_u64().unwrap());
    rows
}

/// The rows of `wanted` ranges, as pyarrow reads them, ordered by id.
fn rows_of(wanted: &[std::ops::Range<u64>]) -> Vec<Value> {
    by_id(wanted.iter().flat_map(|r| csv(r.clone()).1).collect())
}

/// `dativo run`'s summary line must say `n_in` file(s) ingested and `n_skip` skipped.
#[track_caller]
fn assert_summary(out: &Output, n_in: usize, n_skip: usize) {
    assert_ok(out);
    let stderr = text(&out.stderr);
    let want = format!("{n_in} file(s) ingested, {n_skip} skipped (unchanged)");
    assert!(stderr.contains(&want), "expected '{want}':\n{stderr}");
}

#[test]
fn incremental_runs_over_s3_inputs_skip_unchanged_objects_and_reread_replaced_ones() {
    let server = S3Server::start();
    // Into a local folder (strategy file_modified_time) and into the bucket (file_fingerprint,
    // which compares ETags for objects): the same story.
    let local = ("  output_base: out\n".to_string(), "file_modified_time");
    let bucket = (
        format!("  type: s3\n  connection:\n{CONNECTION}      bucket: {BUCKET}\n      prefix: tables/orders\n"),
        "file_fingerprint",
    );
    for (round, (target, strategy)) in [local, bucket].into_iter().enumerate() {
        let rows = |job: &Job| -> (Value, Vec<Value>) {
            let table = if round == 0 {
                server.query(&["local", &job.out()])
            } else {
                server.query(&["table", &format!("{BUCKET}/tables/orders")])
            };
            let rows = by_id(table["rows"].as_array().unwrap().clone());
            (table, rows)
        };
        // Each round has its own folder of inputs.
        let raw = format!("raw{round}");
        for (name, range) in [("a.csv", 0..1000), ("b.csv", 2000..4000), ("c.csv", 4000..4500)] {
            put(&server, &format!("{raw}/{name}"), &csv(range).0);
        }
        let job = Job::new(&server, &incremental_source(&raw, strategy), &target);
        assert_summary(&job.run(), 3, 0);
        let (first, got) = rows(&job);
        assert_eq!(got, rows_of(&[0..1000, 2000..4000, 4000..4500]), "round {round}: every row, read back by pyarrow");

        // The state keys each object by its URL and records the version read: its ETag.
        let state: Value = serde_json::from_slice(&fs::read(job.dir.path().join("state/job.json")).unwrap()).unwrap();
        let entries = state["inputs"].as_object().unwrap();
        assert_eq!(entries.len(), 3, "{state}");
        let b = entries.values().find(|e| e["path"] == format!("s3://{BUCKET}/{raw}/b.csv")).expect("b's entry");
        assert!(b["e_tag"].as_str().is_some_and(|t| !t.is_empty()) && b.get("sha256").is_none(), "{b}");
        assert_eq!(b["status"], "committed");
        assert_eq!(b["rows"], json!(2000));

        // Nothing changed: no object is read again and the output is the same.
        let out = job.run();
        assert_summary(&out, 0, 3);
        assert!(text(&out.stderr).contains(&format!("s3://{BUCKET}/{raw}/a.csv: skipped")), "{}", text(&out.stderr));
        assert_eq!(rows(&job).0, first, "round {round}: an unchanged rerun changes nothing");

        // b is replaced right away by as many bytes (ids 6000.. have as many digits as 2000..):
        // a new ETag, perhaps the same Last-Modified second. Only b's rows are replaced.
        let (new_b, _) = csv(6000..8000);
        assert_eq!(new_b.len(), csv(2000..4000).0.len(), "the same size");
        put(&server, &format!("{raw}/b.csv"), &new_b);
        let out = job.run();
        assert_summary(&out, 1, 2);
        assert!(text(&out.stderr).contains(&format!("s3://{BUCKET}/{raw}/b.csv: ingesting (changed)")));
        let (third, got) = rows(&job);
        assert_eq!(got, rows_of(&[0..1000, 4000..4500, 6000..8000]), "round {round}: b's new rows, once");
        let kept = |t: &Value| -> Vec<String> {
            t["manifest"]["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap().to_string()).collect()
        };
        if round == 1 {
            // In the bucket every commit has new names: two of the three files are the same.
            assert_eq!(kept(&first).iter().filter(|f| kept(&third).contains(f)).count(), 2, "a's and c's kept");
        }

        // A new object: only it is read.
        put(&server, &format!("{raw}/d.csv"), &csv(9000..9100).0);
        assert_summary(&job.run(), 1, 3);
        let (fourth, got) = rows(&job);
        assert_eq!(got, rows_of(&[0..1000, 4000..4500, 6000..8000, 9000..9100]), "round {round}: d's rows added");
        if round == 1 {
            // Only the manifest and the files it names are under the table's prefix.
            let mut want = kept(&fourth);
            want.push("_manifest.json".into());
            want.sort();
            assert_eq!(fourth["objects"], json!(want));
        }
    }
}

/// xorshift: a reproducible sequence of kill times.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Each state entry's status and output files, by input id (none before the state exists).
fn state_entries(path: &Path) -> std::collections::BTreeMap<String, (String, Value)> {
    let Ok(text) = fs::read(path) else { return Default::default() };
    let state: Value = serde_json::from_slice(&text).unwrap();
    let entries = state["inputs"].as_object().unwrap();
    entries
        .iter()
        .map(|(id, e)| (id.clone(), (e["status"].as_str().unwrap().to_string(), e["outputs"].clone())))
        .collect()
}

#[test]
fn sigkill_during_incremental_runs_over_s3_inputs_then_rerun_leaves_every_row_exactly_once() {
    let server = S3Server::start();
    let ranges: Vec<std::ops::Range<u64>> = (0..4).map(|i| i * 25_000..(i + 1) * 25_000).collect();
    // Each object through a local file: its text is too long for an argument.
    let files = tempfile::tempdir().unwrap();
    for (i, range) in ranges.iter().enumerate() {
        let file = files.path().join(format!("part-{i}.csv"));
        fs::write(&file, csv(range.clone()).0).unwrap();
        server.query(&["upload", &format!("{BUCKET}/in/part-{i}.csv"), file.to_str().unwrap()]);
    }
    let expected = rows_of(&ranges);
    let target =
        format!("  type: s3\n  connection:\n{CONNECTION}      bucket: {BUCKET}\n      prefix: tables/orders\n");
    let job = Job::new(&server, &incremental_source("in", "file_modified_time"), &target);
    let table = || server.query(&["table", &format!("{BUCKET}/tables/orders")]);
    let state = job.dir.path().join("state/job.json");
    // A clean run first: the kills land within its duration. Every later run re-reads every
    // object (--full-refresh), so a kill can land in any input's commit.
    let started = Instant::now();
    assert_ok(&job.command(&["run", "--full-refresh"]).output().unwrap());
    let clean_run = started.elapsed().as_millis() as u64;
    let mut seed: u64 = std::env::var("DATIVO_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x0b1e_c75e);
    let mut killed = 0;
    let mut landed = Vec::new();
    for kill in 0..8 {
        let before = state_entries(&state);
        let mut child =
            job.command(&["run", "--full-refresh"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let wait = Duration::from_millis(next(&mut seed) % clean_run.max(1));
        std::thread::sleep(wait);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        killed += usize::from(!status.success());
        // Whatever the moment: the manifest names whole files, no row twice, no foreign row.
        let table = table();
        let rows = by_id(table["rows"].as_array().unwrap().clone());
        let mut ids: Vec<u64> = rows.iter().map(|r| r[0].as_u64().unwrap()).collect();
        ids.dedup();
        // Where the kill landed: how many inputs this run committed (new output names in the
        // state) and whether one was between its two state writes (`publishing`).
        let after = state_entries(&state);
        let committed = after
            .iter()
            .filter(|(id, (st, out))| st == "committed" && before.get(*id).map(|b| &b.1) != Some(out))
            .count();
        let publishing = after.values().filter(|(st, _)| st == "publishing").count();
        landed.push(format!("{committed}{}", if publishing > 0 { "+p" } else { "" }));
        eprintln!(
            "kill {kill} after {wait:?} of a {clean_run} ms run: {status}; manifest {} row(s); this run had \
             committed {committed} of 4 inputs, {publishing} publishing",
            rows.len()
        );
        assert_eq!(ids.len(), rows.len(), "kill {kill} after {wait:?}: a row twice in the manifest");
        // Ids are 0..100_000 in order, so row `id` of the input is `expected[id]`.
        let foreign = rows.iter().find(|r| expected.get(r[0].as_u64().unwrap() as usize) != Some(*r));
        assert!(foreign.is_none(), "kill {kill}: a row that is not in the input: {foreign:?}");
    }
    eprintln!("{killed} of 8 runs killed; inputs committed by each run before its kill: {}", landed.join(", "));
    assert!(killed >= 4, "only {killed} of 8 runs were killed before they ended (a clean run took {clean_run} ms)");
    // One plain rerun completes whatever a kill left.
    assert_ok(&job.run());
    let table = table();
    assert_eq!(by_id(table["rows"].as_array().unwrap().clone()), expected, "every row exactly once");
    let mut want: Vec<String> = table["manifest"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap().to_string())
        .collect();
    want.push("_manifest.json".into());
    want.sort();
    assert_eq!(table["objects"], json!(want), "only the manifest and the files it names");
    let entries = state_entries(&state);
    assert!(entries.len() == 4 && entries.values().all(|(st, _)| st == "committed"), "{entries:?}");
}

#[test]
fn an_object_replaced_after_the_job_loaded_fails_the_incremental_run_and_commits_nothing_of_it() {
    let server = S3Server::start();
    put(&server, "swap/a.csv", &csv(0..100).0);
    put(&server, "swap/b.csv", &csv(100..300).0);
    let job = Job::new(&server, &incremental_source("swap", "file_modified_time"), "  output_base: out\n");
    let load = || {
        let text = fs::read_to_string(job.dir.path().join("job.yaml")).unwrap();
        let vars = job.env.clone();
        dativo_engine::job::Job::from_text(&text, &job.dir.path().join("job.yaml"), move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .unwrap()
    };
    // The job loads (HEAD/LIST: each object's stamp), then b is replaced before it is read.
    let loaded = load();
    put(&server, "swap/b.csv", &csv(500..900).0);
    let err = loaded.run(&|_| {}).unwrap_err().to_string();
    assert!(err.contains(&format!("s3://{BUCKET}/swap/b.csv changed while it was being read")), "{err}");
    // a was committed before b failed; b has no entry, so the state never names a version
    // whose rows were not committed.
    let state: Value = serde_json::from_slice(&fs::read(job.dir.path().join("state/job.json")).unwrap()).unwrap();
    let paths: Vec<&str> = state["inputs"].as_object().unwrap().values().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, [format!("s3://{BUCKET}/swap/a.csv")], "{state}");

    // The next run sees the new version and reads only b: every row once, b's new rows.
    let out = job.run();
    assert_summary(&out, 1, 1);
    let got = by_id(server.query(&["local", &job.out()])["rows"].as_array().unwrap().clone());
    assert_eq!(got, rows_of(&[0..100, 500..900]));
    let state: Value = serde_json::from_slice(&fs::read(job.dir.path().join("state/job.json")).unwrap()).unwrap();
    let b = state["inputs"].as_object().unwrap().values().find(|e| e["path"] == format!("s3://{BUCKET}/swap/b.csv"));
    let e_tag = store_of(&server).head("swap/b.csv").unwrap().unwrap().e_tag.unwrap();
    assert_eq!(b.unwrap()["e_tag"], json!(e_tag), "the state records the ETag of the version read");
}
