//! The `dativo` command line, run as a user runs it: exit codes, what goes to stdout and
//! stderr, and the files it writes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dativo(args: &[&str]) -> Output {
    dativo_with_env(args, &[])
}

fn dativo_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dativo"));
    cmd.args(args).env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().expect("run dativo")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_panic_text(stderr: &str) {
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace", "internal error"] {
        assert!(!stderr.contains(bad), "stderr contains {bad:?}:\n{stderr}");
    }
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

/// A copy of the quickstart example (job, data, asset) in `root`, laid out as in the
/// repository so the job's relative paths resolve inside `root`. Returns the job path.
fn copy_quickstart(root: &Path) -> PathBuf {
    fs::create_dir_all(root.join("examples/jobs")).unwrap();
    fs::create_dir_all(root.join("examples/data")).unwrap();
    for file in ["examples/jobs/quickstart.yaml", "examples/data/orders.csv", "examples/data/orders_asset.yaml"] {
        fs::copy(repo_file(file), root.join(file)).unwrap();
    }
    root.join("examples/jobs/quickstart.yaml")
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect()
}

#[test]
fn gen_writes_header_and_the_requested_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ref.csv");
    let result = dativo(&["gen", "--rows", "250", out.to_str().unwrap()]);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    let csv = fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().count(), 251);
    assert!(csv.starts_with("id,user_id,name,email,amount,quantity,created_at,is_active,country,note\n"));
}

#[test]
fn gen_to_stdout_matches_gen_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ref.csv");
    assert!(dativo(&["gen", "--rows", "100", out.to_str().unwrap()]).status.success());
    let piped = dativo(&["gen", "--rows", "100", "-"]);
    assert!(piped.status.success());
    assert_eq!(piped.stdout, fs::read(&out).unwrap());
}

#[test]
fn infer_prints_an_asset_that_dativo_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("payments.csv");
    fs::write(
        &csv,
        "id,amount,payer,paid,day,at\n\
         1,10.50,Ann,true,2024-01-02,2024-01-02T10:00:00\n\
         2,3.25,\"Lee, Bo\",false,2024-01-03,2024-01-03T11:30:15.5\n\
         3,7,,true,2024-01-04,2024-01-04 12:00:00\n",
    )
    .unwrap();
    let result = dativo(&["infer", csv.to_str().unwrap()]);
    let stdout = text(&result.stdout);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));

    let asset = dativo_engine::schema::Asset::parse(&stdout, "inferred").expect("infer output is a valid asset");
    assert_eq!(asset.name, "payments");
    assert_eq!(asset.version.as_deref(), Some("1.0"));
    let types: Vec<(&str, &str, bool)> =
        asset.fields.iter().map(|f| (f.name.as_str(), f.type_name.as_str(), f.required)).collect();
    assert_eq!(
        types,
        [
            ("id", "integer", false),
            ("amount", "double", false),
            ("payer", "string", false),
            ("paid", "boolean", false),
            ("day", "date", false),
            ("at", "timestamp", false),
        ]
    );
}

#[test]
fn infer_honours_delimiter_and_no_header() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("plain.tsv");
    fs::write(&csv, "1\tx\n2\ty\n").unwrap();
    let result = dativo(&["infer", "--delimiter", "tab", "--no-header", "--sample-rows", "5", csv.to_str().unwrap()]);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    let asset = dativo_engine::schema::Asset::parse(&text(&result.stdout), "inferred").unwrap();
    let names: Vec<&str> = asset.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["column_1", "column_2"]);
    assert_eq!(asset.fields[0].type_name, "integer");
}

#[test]
fn run_quickstart_prints_a_summary_and_writes_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let job = copy_quickstart(dir.path());
    let result = dativo(&["run", "--config", job.to_str().unwrap()]);
    let stdout = text(&result.stdout);
    let stderr = text(&result.stderr);
    assert!(result.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("rows: 30 read, 30 written, 0 rejected"), "{stdout}");
    assert!(stdout.contains("parquet: "), "{stdout}");
    assert_no_panic_text(&stderr);

    let files = parquet_files(&dir.path().join("out/quickstart"));
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = fs::read(&files[0]).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    // The summary names the file it wrote.
    let name = files[0].file_name().unwrap().to_str().unwrap();
    assert!(stdout.contains(name), "{stdout}");
}

#[test]
fn run_quiet_prints_no_progress() {
    let dir = tempfile::tempdir().unwrap();
    let job = copy_quickstart(dir.path());
    let result = dativo(&["run", "--quiet", "--config", job.to_str().unwrap()]);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    assert!(!text(&result.stderr).contains("progress:"));
}

#[test]
fn check_validates_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let job = copy_quickstart(dir.path());
    let result = dativo(&["check", "--config", job.to_str().unwrap()]);
    let stdout = text(&result.stdout);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    assert!(stdout.starts_with("ok: 1 input file"), "{stdout}");
    assert!(stdout.contains("orders.csv") && stdout.contains("order_id") && stdout.contains("note"), "{stdout}");
    assert!(parquet_files(&dir.path().join("out/quickstart")).is_empty());
}

#[test]
fn check_data_reads_every_row_writes_nothing_and_reports_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let job = copy_quickstart(dir.path());
    let job_arg = job.to_str().unwrap();
    let result = dativo(&["check", "--data", "--quiet", "--config", job_arg]);
    let stdout = text(&result.stdout);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    assert!(stdout.contains("rows: 30 read, 0 written, 0 rejected"), "{stdout}");
    assert!(stdout.contains("no parquet written"), "{stdout}");
    assert!(parquet_files(&dir.path().join("out/quickstart")).is_empty());

    // A bad value deep in the data is found without writing anything.
    let csv = dir.path().join("examples/data/orders.csv");
    let mut data = fs::read_to_string(&csv).unwrap();
    let last = data.lines().last().unwrap().to_string();
    let bad = last.replacen(last.split(',').next().unwrap(), "not-a-number", 1);
    data.push_str(&format!("{bad}\n"));
    fs::write(&csv, data).unwrap();
    let result = dativo(&["check", "--data", "--quiet", "--config", job_arg]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("orders.csv:32: column 'order_id' (#1): cannot parse \"not-a-number\" as integer"),
        "{stderr}"
    );
    assert_no_panic_text(&stderr);
    assert!(parquet_files(&dir.path().join("out/quickstart")).is_empty());
}

#[test]
fn secrets_from_the_environment_stay_out_of_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let job = copy_quickstart(dir.path());
    let secret_dir = dir.path().join("s3cr3t-output-dir");
    let yaml = fs::read_to_string(&job).unwrap().replace("../../out/quickstart", "${DATIVO_TEST_OUTPUT}");
    fs::write(&job, yaml).unwrap();
    let secret = secret_dir.to_str().unwrap();
    for command in ["run", "check"] {
        let result = dativo_with_env(&[command, "--config", job.to_str().unwrap()], &[("DATIVO_TEST_OUTPUT", secret)]);
        let (stdout, stderr) = (text(&result.stdout), text(&result.stderr));
        assert!(result.status.success(), "{command}: stderr: {stderr}");
        assert!(!stdout.contains("s3cr3t") && !stderr.contains("s3cr3t"), "{command}:\n{stdout}\n{stderr}");
    }
    assert_eq!(parquet_files(&secret_dir).len(), 1);
}

#[test]
fn a_bad_config_exits_1_with_an_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let job = copy_quickstart(dir.path());
    let yaml = fs::read_to_string(&job).unwrap().replace("schema_validation_mode", "schema_validaton_mode");
    fs::write(&job, yaml).unwrap();
    for command in ["run", "check"] {
        let result = dativo(&[command, "--config", job.to_str().unwrap()]);
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{command}: {stderr}");
        assert!(stderr.starts_with("error: "), "{command}: {stderr}");
        assert!(stderr.contains("schema_validaton_mode"), "{command}: {stderr}");
        assert_no_panic_text(&stderr);
    }
}

#[test]
fn a_missing_config_exits_1() {
    let result = dativo(&["run", "--config", "/nonexistent/dativo/job.yaml"]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr.starts_with("error: ") && stderr.contains("/nonexistent/dativo/job.yaml"), "{stderr}");
    assert_no_panic_text(&stderr);
}

#[test]
fn a_missing_csv_for_infer_exits_1() {
    let result = dativo(&["infer", "/nonexistent/dativo/data.csv"]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_no_panic_text(&stderr);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(dativo(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(dativo(&["run"]).status.code(), Some(2)); // --config is required
    assert_eq!(dativo(&["gen", "--rows", "many", "x.csv"]).status.code(), Some(2));
    assert_eq!(dativo(&[]).status.code(), Some(2));
}

#[test]
fn version_prints_the_crate_version() {
    let result = dativo(&["--version"]);
    assert!(result.status.success());
    assert_eq!(text(&result.stdout).trim(), format!("dativo {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_thread_count_out_of_range_is_a_config_error_naming_the_option_never_an_abort() {
    // `threads: 30000` used to start 30,000 threads and abort the process (exit 134).
    let dir = tempfile::tempdir().unwrap();
    let job = copy_quickstart(dir.path());
    let original = fs::read_to_string(&job).unwrap();
    let cases = [
        (
            original.replace("      delimiter: \",\"", "      delimiter: \",\"\n      threads: 30000"),
            "source.engine.options.threads must be 0 (one per core) or between 1 and 256, got 30000",
        ),
        (
            original.replace("      compression: snappy", "      compression: snappy\n      threads: 257"),
            "target.engine.options.threads must be 0 (one per core) or between 1 and 256, got 257",
        ),
    ];
    for (yaml, expected) in cases {
        fs::write(&job, &yaml).unwrap();
        for args in [&["check"][..], &["check", "--data", "--quiet"][..], &["run", "--quiet"][..]] {
            let mut args = args.to_vec();
            args.extend(["--config", job.to_str().unwrap()]);
            let result = dativo(&args);
            let stderr = text(&result.stderr);
            assert_eq!(result.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(stderr.contains(expected), "{args:?}: {stderr}");
            assert_no_panic_text(&stderr);
        }
    }
    assert!(parquet_files(&dir.path().join("out/quickstart")).is_empty());
    // The bound itself is allowed.
    fs::write(&job, original.replace("      delimiter: \",\"", "      delimiter: \",\"\n      threads: 256")).unwrap();
    let result = dativo(&["check", "--data", "--quiet", "--config", job.to_str().unwrap()]);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
}
