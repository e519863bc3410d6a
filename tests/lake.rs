//! Jobs with an object-store target (`target.type: s3` / `minio`) against a real S3-compatible
//! server (SeaweedFS, see `common/s3.rs`), checked by an independent reader (pyarrow's S3
//! filesystem, `common/s3_reader.py`): the rows come back exactly, a failed run changes nothing
//! a manifest reader sees, orphans are removed, credentials never leak, and a run killed at
//! random moments and run again leaves every row exactly once.

#[allow(dead_code)]
#[path = "common/s3.rs"]
mod s3;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use s3::{S3Server, BUCKET};

const ASSET: &str = "name: Sales-Orders\nversion: \"1.0\"\ndomain: finance\ndataProduct: revenue\nschema:\n  - {name: id, type: integer, required: true}\n  - {name: name, type: string}\n  - {name: amount, type: double}\n  - {name: active, type: boolean}\n  - {name: note, type: string}\n";

/// Row `i` of the generated input, as the CSV line and as pyarrow reads it back.
fn row(i: u64) -> (String, Value) {
    let name = if i % 7 == 0 { format!("\"last, first {i}\"") } else { format!("name{i}") };
    let amount = (i as f64) * 0.25;
    let active = i % 3 == 0;
    let note = if i % 10 == 0 { String::new() } else { format!("n{}", i % 97) };
    let line = format!("{i},{name},{amount},{active},{note}\n");
    let name_value = name.trim_matches('"').to_string();
    let note_value = if note.is_empty() { Value::Null } else { json!(note) };
    (line, json!([i, name_value, amount, active, note_value]))
}

fn csv(rows: std::ops::Range<u64>) -> (String, Vec<Value>) {
    let mut text = String::from("id,name,amount,active,note\n");
    let mut expected = Vec::new();
    for i in rows {
        let (line, value) = row(i);
        text.push_str(&line);
        expected.push(value);
    }
    (text, expected)
}

/// A job folder: the asset, an input and a job writing to `server` through `${VAR}` keys.
struct Job {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Job {
    fn new(server: &S3Server, connection_extra: &str, options: &str) -> Job {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("asset.yaml"), ASSET).unwrap();
        let job = format!(
            "tenant_id: acme\nasset_path: asset.yaml\nsource:\n  files:\n    - {{path: in.csv, object: orders}}\n  engine:\n    options: {{{options}}}\ntarget:\n  type: s3\n  connection:\n    s3:\n      endpoint: \"${{S3_ENDPOINT}}\"\n      bucket: {BUCKET}\n      access_key_id: \"${{S3_KEY}}\"\n      secret_access_key: \"${{S3_SECRET}}\"\n      region: us-east-1\n      path_style_access: true\n      secure: false\n{connection_extra}  engine:\n    options: {{max_rows_per_file: 4000}}\nlogging:\n  level: debug\n"
        );
        fs::write(dir.path().join("job.yaml"), job).unwrap();
        let env = vec![
            ("S3_ENDPOINT".into(), server.endpoint.clone()),
            ("S3_KEY".into(), server.access_key.clone()),
            ("S3_SECRET".into(), server.secret_key.clone()),
        ];
        Job { dir, env }
    }

    fn input(&self, text: &str) {
        fs::write(self.dir.path().join("in.csv"), text).unwrap();
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dativo"));
        cmd.arg("run").arg("--config").arg(self.dir.path().join("job.yaml")).env("RUST_LOG", "trace");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self) -> Output {
        self.command().output().expect("run dativo")
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "dativo failed:\nstdout:\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr));
}

/// The manifest's file names.
fn manifest_files(table: &Value) -> Vec<String> {
    table["manifest"]["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap().to_string()).collect()
}

/// Every object under the prefix is the manifest or a file it names.
#[track_caller]
fn assert_only_manifest_objects(table: &Value) {
    let mut want = manifest_files(table);
    want.push("_manifest.json".into());
    want.sort();
    let got: Vec<String> =
        table["objects"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string()).collect();
    assert_eq!(got, want, "objects under the prefix");
}

/// The platform layout `<bucket>/<domain>/<data_product>/<table>/` (no prefix given).
const TABLE: &str = "dativo/finance/revenue/sales_orders";

#[test]
fn a_csv_job_to_s3_is_read_back_row_for_row_by_pyarrow() {
    let server = S3Server::start();
    let job = Job::new(&server, "", "");
    let (input, expected) = csv(0..10_000);
    job.input(&input);
    let out = job.run();
    assert_ok(&out);

    let table = server.query(&["table", TABLE]);
    assert_eq!(table["rows"].as_array().unwrap(), &expected, "rows read back by pyarrow");
    assert_eq!(table["manifest"]["rows"], json!(10_000));
    let files = manifest_files(&table);
    assert_eq!(files.len(), 3, "max_rows_per_file 4000: {files:?}");
    assert!(files.iter().all(|f| f.starts_with("part-") && f.ends_with(".parquet")), "{files:?}");
    assert_eq!(
        table["schema"],
        json!(["id:int64", "name:string", "amount:double", "active:bool", "note:string"]),
        "types of the asset"
    );
    assert_only_manifest_objects(&table);
    assert!(text(&out.stderr).contains("s3://dativo/finance/revenue/sales_orders"), "{}", text(&out.stderr));

    // A second run replaces the table: new files, the old ones deleted after the new manifest.
    let (input, expected) = csv(500..1_500);
    job.input(&input);
    assert_ok(&job.run());
    let table2 = server.query(&["table", TABLE]);
    assert_eq!(table2["rows"].as_array().unwrap(), &expected);
    assert!(manifest_files(&table2).iter().all(|f| !files.contains(f)), "run-unique names");
    assert_only_manifest_objects(&table2);

    // With prefix given, and append mode: the files of both runs, old ones first.
    let prefixed = Job::new(&server, "      prefix: raw/orders/\n", "");
    fs::write(
        prefixed.path().join("job.yaml"),
        fs::read_to_string(prefixed.path().join("job.yaml"))
            .unwrap()
            .replace("max_rows_per_file: 4000", "write_mode: append"),
    )
    .unwrap();
    let (first, mut want) = csv(0..100);
    prefixed.input(&first);
    assert_ok(&prefixed.run());
    let (second, more) = csv(100..150);
    prefixed.input(&second);
    assert_ok(&prefixed.run());
    want.extend(more);
    let appended = server.query(&["table", "dativo/raw/orders"]);
    assert_eq!(appended["rows"].as_array().unwrap(), &want);
    assert_eq!(manifest_files(&appended).len(), 2);
    assert_only_manifest_objects(&appended);
}

#[test]
fn a_failed_run_changes_no_manifest_and_the_next_run_removes_orphans() {
    let server = S3Server::start();
    let job = Job::new(&server, "", "on_error: fail");
    let (input, _) = csv(0..6_000);
    job.input(&input);
    assert_ok(&job.run());
    let before = server.query(&["table", TABLE]);

    // Line 9002 is bad: by then two objects of this run are complete.
    let (mut bad, _) = csv(0..12_000);
    bad = bad.replacen("\n9000,", "\nnot-a-number,", 1);
    job.input(&bad);
    let out = job.run();
    assert!(!out.status.success(), "a bad row with on_error: fail fails the run");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("not-a-number") && stderr.contains("in.csv"), "{stderr}");
    let after = server.query(&["table", TABLE]);
    assert_eq!(after, before, "the manifest, its rows and the objects are unchanged");

    // A killed run leaves objects no manifest names; the next run deletes them.
    let orphan = format!("{TABLE}/part-0123456789ab-00000.parquet");
    server.query(&["put", &orphan, "half an upload"]);
    let (input, expected) = csv(0..2_000);
    job.input(&input);
    let out = job.run();
    assert_ok(&out);
    let table = server.query(&["table", TABLE]);
    assert_eq!(table["rows"].as_array().unwrap(), &expected);
    assert_only_manifest_objects(&table);
    assert!(text(&out.stderr).contains("removed 1 object(s) of failed runs"), "{}", text(&out.stderr));
}

/// A canary access key and secret: finding either anywhere means it leaked.
const KEY_CANARY: &str = "CANARYKEY7f3a9c1e";
const SECRET_CANARY: &str = "CANARY-SECRET-2b8d4e6f-0a1c";

#[test]
fn s3_credentials_never_appear_in_output_errors_or_objects() {
    let server = S3Server::start_with(KEY_CANARY, SECRET_CANARY);
    let job = Job::new(&server, "", "");
    let (input, _) = csv(0..500);
    job.input(&input);
    let clean = |what: &str, haystack: &str| {
        for canary in [KEY_CANARY, SECRET_CANARY] {
            assert!(!haystack.contains(canary), "{canary} leaked into {what}:\n{haystack}");
        }
    };
    let out = job.run();
    assert_ok(&out);
    clean("stdout", &text(&out.stdout));
    clean("stderr (debug logging)", &text(&out.stderr));
    let table = server.query(&["table", TABLE]);
    clean("the objects and the manifest", &table.to_string());

    // A wrong secret: the server refuses the signature and names the access key in its answer.
    let mut wrong = Job::new(&server, "", "");
    wrong.env[2].1 = "CANARY-WRONG-SECRET-99".into();
    wrong.input(&input);
    let out = wrong.run();
    assert!(!out.status.success(), "a wrong secret fails the run");
    let stderr = text(&out.stderr);
    clean("the error of a refused signature", &stderr);
    assert!(!stderr.contains("CANARY-WRONG-SECRET-99"), "{stderr}");
    assert!(stderr.contains("s3://dativo/finance/revenue/sales_orders"), "the error names the object: {stderr}");
    clean("stdout", &text(&out.stdout));
    // `dativo check` prints the resolved job: no secrets either.
    let check = Command::new(env!("CARGO_BIN_EXE_dativo"))
        .args(["check", "--config"])
        .arg(job.path().join("job.yaml"))
        .envs(job.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    clean("dativo check", &format!("{}{}", text(&check.stdout), text(&check.stderr)));
}

/// xorshift: a reproducible sequence of kill times.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn sigkill_during_upload_then_rerun_leaves_every_row_exactly_once() {
    let server = S3Server::start();
    let job = Job::new(&server, "", "");
    let (input, expected) = csv(0..100_000);
    job.input(&input);
    // A clean run first: the kills land within its duration (each run replaces the table).
    let started = std::time::Instant::now();
    assert_ok(&job.run());
    let clean_run = started.elapsed().as_millis() as u64;
    let mut seed: u64 = std::env::var("DATIVO_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_1a4e);
    let mut killed = 0;
    for kill in 0..8 {
        let mut child = job.command().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let wait = Duration::from_millis(next(&mut seed) % clean_run.max(1));
        std::thread::sleep(wait);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        killed += usize::from(!status.success());
        // Whatever the moment: there is a manifest (the clean run's or a killed run's new one),
        // and it names whole, readable files (the reader checks each file's rows against it).
        let table = server.query(&["table", TABLE]);
        let rows = table["rows"].as_array().unwrap();
        eprintln!("kill {kill} after {wait:?}: {status}, {} object(s)", table["objects"].as_array().unwrap().len());
        assert_eq!(rows, &expected, "kill {kill} after {wait:?} ({status}): the manifest's rows");
    }
    assert!(killed >= 4, "only {killed} of 8 runs were killed before they ended (a clean run took {clean_run} ms)");
    let out = job.run();
    assert_ok(&out);
    let table = server.query(&["table", TABLE]);
    assert_eq!(table["rows"].as_array().unwrap(), &expected, "every row exactly once");
    assert_only_manifest_objects(&table);
}

#[test]
fn the_test_server_starts_on_loopback_only() {
    let server = S3Server::start();
    let out = Command::new("ss").args(["-ltnp"]).output();
    if let Ok(out) = out {
        let pid = format!("pid={},", server.pid());
        for line in text(&out.stdout).lines().filter(|l| l.contains(&pid)) {
            assert!(line.contains("127.0.0.1:"), "weed listens beyond loopback: {line}");
        }
    }
    assert!(server.start_seconds < 30.0);
}

/// `job` made incremental over `inputs` (files in its folder), its state in `state/job.json`.
fn make_incremental(job: &Job, inputs: &[&str]) {
    let listed: String = inputs.iter().map(|name| format!("    - {{path: {name}}}\n")).collect();
    let path = job.path().join("job.yaml");
    let text = fs::read_to_string(&path).unwrap().replace(
        "  files:\n    - {path: in.csv, object: orders}\n",
        &format!(
            "  files:\n{listed}  incremental:\n    strategy: file_modified_time\n    state_path: state/job.json\n"
        ),
    );
    fs::write(path, text).unwrap();
}

/// The table's rows, ordered by id (an incremental manifest lists inputs by input id).
fn rows_by_id(table: &Value) -> Vec<Value> {
    let mut rows = table["rows"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r[0].as_u64().unwrap());
    rows
}

#[test]
fn incremental_runs_to_s3_commit_input_by_input_and_skip_unchanged_files() {
    let server = S3Server::start();
    let job = Job::new(&server, "", "");
    make_incremental(&job, &["a.csv", "b.csv", "c.csv"]);
    let mut expected = Vec::new();
    for (name, rows) in [("a.csv", 0..3_000), ("b.csv", 3_000..9_000), ("c.csv", 9_000..9_500)] {
        let (text, values) = csv(rows);
        fs::write(job.path().join(name), text).unwrap();
        expected.extend(values);
    }
    let out = job.run();
    assert_ok(&out);
    assert!(text(&out.stderr).contains("3 file(s) ingested, 0 skipped"), "{}", text(&out.stderr));
    let first = server.query(&["table", TABLE]);
    assert_eq!(rows_by_id(&first), expected, "rows read back by pyarrow");
    assert_only_manifest_objects(&first);
    let state: Value = serde_json::from_slice(&fs::read(job.path().join("state/job.json")).unwrap()).unwrap();
    let entries = state["inputs"].as_object().unwrap();
    assert_eq!(entries.len(), 3);
    assert!(entries.values().all(|e| e["status"] == "committed"), "{state}");

    // Nothing changed: nothing is read, the table is the same.
    let out = job.run();
    assert_ok(&out);
    assert!(text(&out.stderr).contains("0 file(s) ingested, 3 skipped"), "{}", text(&out.stderr));
    assert_eq!(server.query(&["table", TABLE]), first, "an unchanged rerun changes no object");

    // b.csv shrinks: its rows are replaced, a's and c's objects are kept.
    std::thread::sleep(Duration::from_millis(20));
    let (text_b, values_b) = csv(3_000..4_000);
    fs::write(job.path().join("b.csv"), text_b).unwrap();
    let out = job.run();
    assert_ok(&out);
    assert!(text(&out.stderr).contains("1 file(s) ingested, 2 skipped"), "{}", text(&out.stderr));
    let third = server.query(&["table", TABLE]);
    let mut want: Vec<Value> =
        expected.iter().filter(|r| !(3_000..9_000).contains(&r[0].as_u64().unwrap())).cloned().collect();
    want.extend(values_b);
    want.sort_by_key(|r| r[0].as_u64().unwrap());
    assert_eq!(rows_by_id(&third), want, "b's new rows, once");
    let kept: Vec<String> = manifest_files(&first).into_iter().filter(|f| manifest_files(&third).contains(f)).collect();
    assert!(!kept.is_empty(), "a's and c's objects are kept, not rewritten");
    assert_only_manifest_objects(&third);

    // The state must be local: its default would be in the bucket.
    let bare = Job::new(&server, "", "");
    make_incremental(&bare, &["a.csv"]);
    fs::write(bare.path().join("a.csv"), csv(0..10).0).unwrap();
    let path = bare.path().join("job.yaml");
    fs::write(&path, fs::read_to_string(&path).unwrap().replace("    state_path: state/job.json\n", "")).unwrap();
    let out = bare.run();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("source.incremental.state_path is required"), "{}", text(&out.stderr));
}

#[test]
fn sigkill_during_incremental_runs_to_s3_then_rerun_leaves_every_row_exactly_once() {
    let server = S3Server::start();
    let job = Job::new(&server, "", "");
    let names = ["a.csv", "b.csv", "c.csv", "d.csv"];
    make_incremental(&job, &names);
    let mut expected = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let start = i as u64 * 25_000;
        let (text, values) = csv(start..start + 25_000);
        fs::write(job.path().join(name), text).unwrap();
        expected.extend(values);
    }
    let full_refresh = || {
        let mut cmd = job.command();
        cmd.arg("--full-refresh");
        cmd
    };
    // A clean run first: the kills land within its duration. Every later run re-reads every
    // input (--full-refresh), so a kill can land in any input's commit.
    let started = std::time::Instant::now();
    assert_ok(&full_refresh().output().unwrap());
    let clean_run = started.elapsed().as_millis() as u64;
    let mut seed: u64 = std::env::var("DATIVO_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x1ace_5eed);
    let mut killed = 0;
    for kill in 0..8 {
        let mut child = full_refresh().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let wait = Duration::from_millis(next(&mut seed) % clean_run.max(1));
        std::thread::sleep(wait);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        killed += usize::from(!status.success());
        // Whatever the moment: the manifest names whole files, and no row twice.
        let table = server.query(&["table", TABLE]);
        let rows = rows_by_id(&table);
        let mut ids: Vec<u64> = rows.iter().map(|r| r[0].as_u64().unwrap()).collect();
        ids.dedup();
        eprintln!("kill {kill} after {wait:?}: {status}, {} row(s) in the manifest", rows.len());
        assert_eq!(ids.len(), rows.len(), "kill {kill} after {wait:?}: a row twice in the manifest");
        // Ids are 0..100_000 in order, so row `id` of the input is `expected[id]`.
        let foreign = rows.iter().find(|r| expected.get(r[0].as_u64().unwrap() as usize) != Some(*r));
        assert!(foreign.is_none(), "kill {kill}: a row that is not in the input: {foreign:?}");
    }
    assert!(killed >= 4, "only {killed} of 8 runs were killed before they ended (a clean run took {clean_run} ms)");
    // One plain rerun completes whatever a kill left.
    assert_ok(&job.run());
    let table = server.query(&["table", TABLE]);
    assert_eq!(rows_by_id(&table), expected, "every row exactly once");
    assert_only_manifest_objects(&table);
}

/// A platform job in a folder with the platform's s3 and minio recipes (tests/platform/connectors)
/// and the asset: `target` is the job's whole target section.
fn recipe_job(recipe: &str, target: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let connectors = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/platform/connectors");
    fs::copy(connectors.join(format!("{recipe}.yaml")), dir.path().join(format!("{recipe}.yaml"))).unwrap();
    fs::write(dir.path().join("asset.yaml"), ASSET).unwrap();
    let job = format!(
        "tenant_id: acme\ntarget_connector: {recipe}\ntarget_connector_path: {recipe}.yaml\nasset_path: asset.yaml\n\
         source:\n  files: [{{path: in.csv, object: orders}}]\ntarget:\n{target}"
    );
    fs::write(dir.path().join("job.yaml"), job).unwrap();
    let path = dir.path().join("job.yaml");
    (dir, path)
}

/// `dativo run` of `job` from its folder (platform jobs' paths are relative to the working
/// directory), with only `env` of the recipes' variables set.
fn run_recipe_job(job: &std::path::Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dativo"));
    cmd.args(["run", "--mode", "self_hosted", "--config"]).arg(job).current_dir(job.parent().unwrap());
    for var in [
        "S3_BUCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "MINIO_ENDPOINT",
        "MINIO_BUCKET",
        "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "debug").envs(env.iter().copied());
    cmd.output().unwrap()
}

#[test]
fn the_platforms_s3_and_minio_recipes_give_the_connection_keys_a_job_leaves_out() {
    let server = S3Server::start();
    let (input, expected) = csv(0..2_500);
    let (key, secret) = (server.access_key.as_str(), server.secret_key.as_str());
    // `partitioning: []`: the recipes' engine options partition by ingest_date; the rows are
    // compared unpartitioned here (tests/partition.rs covers partitions).
    let only_bucket = format!("  partitioning: []\n  connection:\n    bucket: {BUCKET}\n    prefix: recipes/minio\n");
    let (dir, job) = recipe_job("minio", &only_bucket);
    fs::write(dir.path().join("in.csv"), &input).unwrap();
    // minio.yaml: endpoint, keys, secure: false and path-style from the template and the
    // MINIO_* variables; MINIO_BUCKET is not set, and need not be: the job gives the bucket.
    let minio_env =
        [("MINIO_ENDPOINT", server.endpoint.as_str()), ("MINIO_ACCESS_KEY", key), ("MINIO_SECRET_KEY", secret)];
    let out = run_recipe_job(&job, &minio_env);
    assert_ok(&out);
    let logs = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!logs.contains(secret) && !logs.contains(key), "a key in the output:\n{logs}");
    let table = server.query(&["table", &format!("{BUCKET}/recipes/minio")]);
    assert_eq!(table["rows"].as_array().unwrap(), &expected, "rows read back by pyarrow");

    // A template key the job leaves out, whose variable is not set: the key and the variable
    // are named, no value is shown, nothing is written.
    let out = run_recipe_job(&job, &minio_env[..2]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "minio.yaml: connection_template.secret_access_key: environment variable MINIO_SECRET_KEY is not set"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("target.connection.secret_access_key"), "what to do instead: {stderr}");
    assert!(!stderr.contains(key) && !stderr.contains(&server.endpoint), "a value in the error: {stderr}");

    // s3.yaml: its endpoint (AWS) and bucket are the job's here; keys and region come from
    // AWS_* variables. S3_BUCKET, which the template's bucket names, is not set.
    let target = format!(
        "  partitioning: []\n  connection:\n    s3:\n      bucket: {BUCKET}\n      prefix: recipes/s3\n      endpoint: \"${{S3_ENDPOINT}}\"\n"
    );
    let (dir, job) = recipe_job("s3", &target);
    fs::write(dir.path().join("in.csv"), &input).unwrap();
    let s3_env = [
        ("S3_ENDPOINT", server.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_REGION", "us-east-1"),
    ];
    assert_ok(&run_recipe_job(&job, &s3_env));
    let table = server.query(&["table", &format!("{BUCKET}/recipes/s3")]);
    assert_eq!(table["rows"].as_array().unwrap(), &expected, "rows read back by pyarrow");
    let out = run_recipe_job(&job, &s3_env[..3]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("connection_template.region: environment variable AWS_REGION is not set"), "{stderr}");

    // A source recipe's template is the connection of s3:// inputs (its bucket is not read:
    // each path names its bucket, so MINIO_BUCKET stays unset).
    let (part, part_rows) = csv(0..1_000);
    server.query(&["put", &format!("{BUCKET}/raw/in.csv"), &part]);
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("asset.yaml"), ASSET).unwrap();
    fs::write(
        dir.path().join("objects.yaml"),
        "name: objects\ntype: csv\nroles: [source]\nconnection_template:\n  endpoint: \"${MINIO_ENDPOINT}\"\n  \
         bucket: \"${MINIO_BUCKET}\"\n  access_key_id: \"${MINIO_ACCESS_KEY}\"\n  secret_access_key: \
         \"${MINIO_SECRET_KEY}\"\n  secure: false\n",
    )
    .unwrap();
    let job = dir.path().join("job.yaml");
    fs::write(
        &job,
        format!(
            "tenant_id: acme\nsource_connector_path: objects.yaml\nasset_path: asset.yaml\nsource:\n  files: [{{path: \
             's3://{BUCKET}/raw/in.csv', object: orders}}]\ntarget:\n  output_base: out\n"
        ),
    )
    .unwrap();
    assert_ok(&run_recipe_job(&job, &minio_env));
    let local = server.query(&["local", dir.path().join("out").to_str().unwrap()]);
    assert_eq!(local["rows"].as_array().unwrap(), &part_rows, "the object's rows, read back by pyarrow");
}
