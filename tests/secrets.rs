//! Canary secrets: a value substituted from `${VAR}` must never come back out of dativo, in
//! any place a user or a log collector sees: stdout, stderr, error messages (CLI, library and
//! C API), the names of the Parquet files, the rejects file and the run report.
//!
//! Every test puts a recognisable canary in an environment variable, uses it through `${VAR}`
//! somewhere in a job, forces a failure or debug logging, and searches every output for it.
//! See README "Job files" -> "General rules" (`${VAR}`) and `src/job/env.rs` (`Redactor`).
//!
//! The logger (`src/cli/logger.rs`) takes its level from the job's `logging.level` only; it
//! does not read `RUST_LOG`. The CLI tests still set `RUST_LOG=trace` so that, should it ever
//! start to, these tests run at the most verbose level.

use std::ffi::{CStr, CString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::ptr;

use dativo::job::{dativo_job_report_free, dativo_job_run};

#[allow(dead_code)]
#[path = "common/s3.rs"]
mod s3;
use dativo::{DativoError, DATIVO_STATUS_OK};

/// The canary: unique enough that finding it anywhere means it leaked.
const CANARY: &str = "CANARY-7f3a9c1e-SECRET";

/// A canary shorter than the redaction threshold (4 bytes, `MIN_REDACTED_LEN`).
const SHORT_CANARY: &str = "q7z";

const GOOD_CSV: &str = "id,name\n1,ann\n2,bob\n3,cy\n";
/// Line 3 is bad (`x` is not an integer); the raw line does not contain the canary.
const ONE_BAD_ROW_CSV: &str = "id,name\n1,ann\nx,bob\n3,cy\n";
/// Line 3 is bad and its bad value *is* the canary (data, not configuration).
const CANARY_IN_DATA_CSV: &str = "id,name\n1,ann\nCANARY-7f3a9c1e-SECRET,bob\n3,cy\n";

const ASSET: &str = "asset:\n  name: people\n  version: \"1.0\"\n  schema:\n    - {name: id, type: integer, required: true}\n    - {name: name, type: string}\n";

fn dativo(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dativo"));
    cmd.args(args).env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE").env("RUST_LOG", "trace");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().expect("run dativo")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, content).unwrap();
    path
}

#[track_caller]
fn assert_clean(what: &str, haystack: &str) {
    assert!(!haystack.contains(CANARY), "the canary leaked into {what}:\n{haystack}");
}

/// Every name under `dir` (recursively), relative to it.
fn names_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return out };
    for entry in entries {
        let path = entry.unwrap().path();
        out.push(path.strip_prefix(dir).unwrap().display().to_string());
        if path.is_dir() {
            out.extend(names_under(&path));
        }
    }
    out
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect()
}

/// A job with the given source file entry, target output_base and extra reader options,
/// debug logging, and the canary also in `tenant_id` and `environment` (both logged).
fn job_yaml(file_path: &str, output_base: &str, reader_options: &str, var: &str) -> String {
    format!(
        "tenant_id: \"tenant-${{{var}}}\"\n\
         environment: \"${{{var}}}\"\n\
         asset_path: asset.yaml\n\
         source:\n  type: csv\n  files:\n    - path: \"{file_path}\"\n      id: \"id-${{{var}}}\"\n\
         \x20 engine:\n    options:\n      delimiter: \",\"\n{reader_options}\
         target:\n  type: local\n  output_base: \"{output_base}\"\n\
         logging:\n  level: debug\n  redaction: false\n"
    )
}

/// Run the CLI's `run`, `check` and `check --data` on `job` with `VAR=value`; returns the
/// outputs, after checking that none of stdout and stderr contains the canary.
fn run_all_commands(job: &Path, var: &str, value: &str) -> Vec<(String, Output)> {
    let config = job.to_str().unwrap();
    let mut outputs = Vec::new();
    for args in [
        vec!["run", "--config", config],
        vec!["check", "--config", config],
        vec!["check", "--data", "--config", config],
    ] {
        let label = args.join(" ");
        let result = dativo(&args, &[(var, value)]);
        assert_clean(&format!("stdout of `{label}`"), &text(&result.stdout));
        assert_clean(&format!("stderr of `{label}`"), &text(&result.stderr));
        outputs.push((label, result));
    }
    outputs
}

// ---------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------

#[test]
fn cli_output_base_under_a_file_fails_without_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    write(dir.path(), "in.csv", GOOD_CSV);
    write(dir.path(), "blocker", "a file, not a directory\n");
    let job = write(dir.path(), "job.yaml", &job_yaml("in.csv", "blocker/${SECRET_OUT}/out", "", "SECRET_OUT"));
    let result = dativo(&["run", "--config", job.to_str().unwrap()], &[("SECRET_OUT", CANARY)]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: ") && stderr.contains("${SECRET_OUT}"), "{stderr}");
    assert_clean("stderr", &stderr);
    assert_clean("stdout", &text(&result.stdout));

    // output_base that *is* a file: refused when the job is loaded.
    write(dir.path(), CANARY, "a file\n");
    let job = write(dir.path(), "job2.yaml", &job_yaml("in.csv", "${SECRET_OUT}", "", "SECRET_OUT"));
    for (label, result) in run_all_commands(&job, "SECRET_OUT", CANARY) {
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{label}: {stderr}");
        assert!(stderr.contains("is a file") && stderr.contains("${SECRET_OUT}"), "{label}: {stderr}");
    }
}

#[test]
fn cli_missing_input_file_fails_without_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    let job = write(dir.path(), "job.yaml", &job_yaml("data/missing-${SECRET_IN}.csv", "out", "", "SECRET_IN"));
    for (label, result) in run_all_commands(&job, "SECRET_IN", CANARY) {
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{label}: {stderr}");
        assert!(stderr.contains("missing-${SECRET_IN}.csv"), "{label}: {stderr}");
    }
    assert!(!dir.path().join("out").exists());
}

#[test]
fn cli_invalid_option_values_fail_without_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    write(dir.path(), "in.csv", GOOD_CSV);
    // Each replaces part of a valid job; every one is a config error quoting the value.
    let cases = [
        // Invalid: a delimiter may have several characters, but not the quote character.
        ("delimiter", "      delimiter: \",\"\n", "      delimiter: \"\\\"${SECRET_OPT}\"\n"),
        ("quote", "      delimiter: \",\"\n", "      quote: \"${SECRET_OPT}\"\n"),
        ("encoding", "      delimiter: \",\"\n", "      encoding: \"${SECRET_OPT}\"\n"),
        ("on_error", "      delimiter: \",\"\n", "      on_error: ${SECRET_OPT}\n"),
        ("batch_size (wrong type)", "      delimiter: \",\"\n", "      batch_size: ${SECRET_OPT}\n"),
        (
            "compression",
            "  type: local\n",
            "  type: local\n  engine:\n    options:\n      compression: ${SECRET_OPT}\n",
        ),
        ("target.type", "  type: local\n", "  type: ${SECRET_OPT}\n"),
        ("source.type", "  type: csv\n", "  type: ${SECRET_OPT}\n"),
        ("logging.level", "  level: debug\n", "  level: ${SECRET_OPT}\n"),
        ("asset name mismatch", "asset_path: asset.yaml\n", "asset_path: asset.yaml\nasset: ${SECRET_OPT}\n"),
        ("asset_path missing", "asset_path: asset.yaml\n", "asset_path: ${SECRET_OPT}.yaml\n"),
        ("parquet_target_size_mb", "  type: local\n", "  type: local\n  parquet_target_size_mb: ${SECRET_OPT}\n"),
    ];
    let base = job_yaml("in.csv", "out", "", "SECRET_OPT");
    for (name, from, to) in cases {
        assert!(base.contains(from), "{name}: {from:?} not in the base job");
        let job = write(dir.path(), "job.yaml", &base.replacen(from, to, 1));
        for (label, result) in run_all_commands(&job, "SECRET_OPT", CANARY) {
            let stderr = text(&result.stderr);
            assert_eq!(result.status.code(), Some(1), "{name}, {label}: {stderr}");
            assert!(stderr.starts_with("error: "), "{name}, {label}: {stderr}");
        }
    }
    assert!(!dir.path().join("out").exists());
}

#[test]
fn cli_unknown_keys_fail_without_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    write(dir.path(), "in.csv", GOOD_CSV);
    let base = job_yaml("in.csv", "out", "", "SECRET_KEY");
    let cases = [
        // The canary as the value of an unknown key (a typo of `delimiter`).
        ("value of an unknown key", "      delimiter: \",\"\n", "      delimeter: \"${SECRET_KEY}\"\n"),
        // The canary as the value of a refused platform key.
        ("value of a refused key", "source:\n", "catalog: {auth_token: \"${SECRET_KEY}\"}\nsource:\n"),
        ("refused credentials", "  type: csv\n", "  type: csv\n  credentials: {password: \"${SECRET_KEY}\"}\n"),
        // The canary as the *name* of an unknown key (quoted in the message).
        ("name of an unknown key", "source:\n", "${SECRET_KEY}: 1\nsource:\n"),
        ("nested unknown key name", "      delimiter: \",\"\n", "      ${SECRET_KEY}: 1\n"),
        // Malformed YAML around the canary.
        ("broken yaml", "  level: debug\n", "  level: [${SECRET_KEY}\n"),
    ];
    for (name, from, to) in cases {
        let job = write(dir.path(), "job.yaml", &base.replacen(from, to, 1));
        for (label, result) in run_all_commands(&job, "SECRET_KEY", CANARY) {
            let stderr = text(&result.stderr);
            assert_eq!(result.status.code(), Some(1), "{name}, {label}: {stderr}");
        }
    }
}

#[test]
fn cli_secret_in_rejects_path_stays_out_of_output_and_rejects_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    write(dir.path(), "in.csv", ONE_BAD_ROW_CSV);
    let options = "      on_error: reject\n      rejects_path: \"rejects-${SECRET_REJ}/bad.csv\"\n";
    let job = write(dir.path(), "job.yaml", &job_yaml("in.csv", "out", options, "SECRET_REJ"));
    for (label, result) in run_all_commands(&job, "SECRET_REJ", CANARY) {
        assert!(result.status.success(), "{label}: {}", text(&result.stderr));
        let rejects = fs::read_to_string(dir.path().join(format!("rejects-{CANARY}/bad.csv"))).unwrap();
        assert_eq!(rejects.lines().count(), 2, "{label}: {rejects}");
        assert!(rejects.contains("x,bob"), "{label}: {rejects}");
        assert_clean(&format!("the rejects file ({label})"), &rejects);
    }
    let mut names = names_under(&dir.path().join("out"));
    names.sort();
    assert_eq!(names, ["_manifest.json", "part-00000.parquet"]);

    // max_rejects exceeded: an error about the rejects, still without the secret.
    let options =
        "      on_error: reject\n      max_rejects: 0\n      rejects_path: \"rejects-${SECRET_REJ}/bad.csv\"\n";
    let job = write(dir.path(), "job.yaml", &job_yaml("in.csv", "out2", options, "SECRET_REJ"));
    let result = dativo(&["run", "--config", job.to_str().unwrap()], &[("SECRET_REJ", CANARY)]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("max_rejects"), "{stderr}");
    assert_clean("stderr (max_rejects)", &stderr);

    // A rejects path that cannot be created (under a file).
    write(dir.path(), "blocker", "file\n");
    let options = "      on_error: reject\n      rejects_path: \"blocker/${SECRET_REJ}/bad.csv\"\n";
    let job = write(dir.path(), "job.yaml", &job_yaml("in.csv", "out3", options, "SECRET_REJ"));
    let result = dativo(&["run", "--config", job.to_str().unwrap()], &[("SECRET_REJ", CANARY)]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("${SECRET_REJ}"), "{stderr}");
    assert_clean("stderr (rejects under a file)", &stderr);
}

/// The rejects file's `file` column names the input file; when the input path was built
/// from a secret, that column must show `${VAR}`, not the value (the rejects file is an
/// output like the report).
#[test]
fn cli_secret_in_input_path_stays_out_of_the_rejects_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    write(dir.path(), &format!("in-{CANARY}/data.csv"), ONE_BAD_ROW_CSV);
    let options = "      on_error: reject\n      rejects_path: rejects.csv\n";
    let job = write(dir.path(), "job.yaml", &job_yaml("in-${SECRET_RIN}/data.csv", "out", options, "SECRET_RIN"));
    for (label, result) in run_all_commands(&job, "SECRET_RIN", CANARY) {
        assert!(result.status.success(), "{label}: {}", text(&result.stderr));
        let rejects = fs::read_to_string(dir.path().join("rejects.csv")).unwrap();
        assert_eq!(rejects.lines().count(), 2, "{label}: {rejects}");
        assert_clean(&format!("the rejects file ({label})"), &rejects);
    }
}

#[test]
fn cli_successful_debug_run_with_secret_paths_prints_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    // The secret is a path component of the input, the output and the rejects file; the data
    // has a column the asset lacks (a warning) and a missing optional column would be logged.
    write(dir.path(), &format!("in-{CANARY}/data.csv"), "id,name,extra\n1,ann,e\n2,bob,f\n");
    let options = "      on_error: skip\n";
    let job = write(
        dir.path(),
        "job.yaml",
        &job_yaml("in-${SECRET_OK}/data.csv", "out/${SECRET_OK}/parquet", options, "SECRET_OK"),
    );
    let out_dir = dir.path().join(format!("out/{CANARY}/parquet"));
    for (label, result) in run_all_commands(&job, "SECRET_OK", CANARY) {
        let (stdout, stderr) = (text(&result.stdout), text(&result.stderr));
        assert!(result.status.success(), "{label}: {stderr}");
        if !label.contains("--data") {
            assert!(stdout.contains("${SECRET_OK}"), "{label}: the paths are shown redacted:\n{stdout}");
        }
        if label.starts_with("run") {
            // Logging really is on (`check` without --data logs nothing), and the logged
            // paths and tenant are redacted.
            assert!(stderr.contains("tenant tenant-${SECRET_OK}"), "{label}: no log lines:\n{stderr}");
        }
    }
    let mut names = names_under(&out_dir);
    names.sort();
    assert_eq!(names, ["_manifest.json", "part-00000.parquet"]);
    assert_clean("the manifest", &fs::read_to_string(out_dir.join("_manifest.json")).unwrap());
    for name in &names {
        assert_clean("the Parquet file names", name);
    }

    // The canary as the whole absolute output path (as a deployment would pass it).
    let abs = dir.path().join(format!("abs-{CANARY}"));
    let job = write(dir.path(), "job2.yaml", &job_yaml("in-${SECRET_OK}/data.csv", "${SECRET_ABS}", "", "SECRET_OK"));
    let result = dativo(
        &["run", "--config", job.to_str().unwrap()],
        &[("SECRET_OK", CANARY), ("SECRET_ABS", abs.to_str().unwrap())],
    );
    let (stdout, stderr) = (text(&result.stdout), text(&result.stderr));
    assert!(result.status.success(), "{stderr}");
    assert!(stdout.contains("parquet: ${SECRET_ABS}/part-00000.parquet"), "{stdout}");
    assert_clean("stdout", &stdout);
    assert_clean("stderr", &stderr);
    assert_eq!(parquet_files(&abs).len(), 1);
}

/// The canary in the *data*, not in the job.
///
/// Decision: data is data. The rejects file exists to let a person see and fix the bad rows,
/// and its `raw_line` is documented as "written byte for byte, so nothing of the input is
/// lost": it must keep the value even when it happens to equal a secret. (Rewriting data that
/// matches an environment variable would silently corrupt the rejects file, and would not
/// protect anything: whoever reads the rejects file can read the input file too.)
/// Messages are another matter: the engine redacts every error and log line, whatever the
/// origin of the text, so the value shows as `${VAR}` in the `on_error: fail` error. Both
/// behaviours are asserted as they are.
#[test]
fn cli_secret_in_the_data_is_kept_in_rejects_but_redacted_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    write(dir.path(), "in.csv", CANARY_IN_DATA_CSV);
    // The variable is used in the job (tenant_id), so it is a known secret.
    let options = "      on_error: reject\n      rejects_path: rejects.csv\n";
    let job = write(dir.path(), "job.yaml", &job_yaml("in.csv", "out", options, "SECRET_DATA"));
    let result = dativo(&["run", "--config", job.to_str().unwrap()], &[("SECRET_DATA", CANARY)]);
    let (stdout, stderr) = (text(&result.stdout), text(&result.stderr));
    assert!(result.status.success(), "{stderr}");
    assert_clean("stdout", &stdout);
    assert_clean("stderr", &stderr);
    let rejects = fs::read_to_string(dir.path().join("rejects.csv")).unwrap();
    assert_eq!(rejects.lines().count(), 2, "{rejects}");
    // raw_line keeps the data byte for byte (CSV-quoted because it holds a comma), and the
    // reason column quotes the bad value as it is too: both describe the data, not the job.
    let row = rejects.lines().nth(1).unwrap();
    assert!(row.ends_with(&format!("\"{CANARY},bob\"")), "data is kept byte for byte: {rejects}");
    assert!(row.contains(&format!("cannot parse \"\"{CANARY}\"\" as integer")), "{rejects}");

    // on_error: fail: the error quotes the value, redacted.
    let job = write(dir.path(), "job.yaml", &job_yaml("in.csv", "out2", "", "SECRET_DATA"));
    let result = dativo(&["run", "--config", job.to_str().unwrap()], &[("SECRET_DATA", CANARY)]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("in.csv:3:") && stderr.contains("cannot parse \"${SECRET_DATA}\""), "{stderr}");
    assert_clean("stderr (on_error: fail)", &stderr);
    assert!(!dir.path().join("out2").exists() || parquet_files(&dir.path().join("out2")).is_empty());
}

/// A secret of fewer than 4 bytes is not redacted (README: "The value of every substituted
/// variable of 4 characters or more is a secret"; `MIN_REDACTED_LEN` in src/job/env.rs).
/// Known weakness, documented: a 3-character password or PIN passed through `${VAR}` shows
/// in errors and logs. This test pins the documented behaviour.
#[test]
fn cli_secret_shorter_than_4_bytes_is_not_redacted_documented_weakness() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    let job = write(dir.path(), "job.yaml", &job_yaml("missing-${SHORT_SECRET}.csv", "out", "", "SHORT_SECRET"));
    let result = dativo(&["run", "--config", job.to_str().unwrap()], &[("SHORT_SECRET", SHORT_CANARY)]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("missing-{SHORT_CANARY}.csv")), "short values are shown as they are: {stderr}");
    assert!(!stderr.contains("${SHORT_SECRET}"), "{stderr}");

    // Exactly 4 bytes is redacted.
    let result = dativo(&["run", "--config", job.to_str().unwrap()], &[("SHORT_SECRET", "q7z9")]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("missing-${SHORT_SECRET}.csv") && !stderr.contains("q7z9"), "{stderr}");
}

/// A secret whose value YAML changes when it parses it (trailing whitespace or newline, as a
/// secret read from a file often has): the parsed value differs from the substituted text, so
/// the redactor, which looks for the exact substituted value, no longer finds it in messages.
#[test]
fn cli_secret_with_trailing_newline_stays_out_of_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    let job = write(dir.path(), "job.yaml", &job_yaml("in.csv", "out", "", "SECRET_NL"));
    let job_text = fs::read_to_string(&job).unwrap().replace("    - path: \"in.csv\"", "    - path: ${SECRET_NL}");
    fs::write(&job, job_text).unwrap();
    let value = format!("{CANARY}\n");
    let result = dativo(&["run", "--config", job.to_str().unwrap()], &[("SECRET_NL", &value)]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert_clean("stderr", &stderr);
}

// ---------------------------------------------------------------------------------------
// Library: dativo_engine::job::load and Job::run
// ---------------------------------------------------------------------------------------

// Each library test uses its own variable name: tests run on parallel threads of one process.

#[test]
fn library_errors_and_report_carry_no_secret() {
    std::env::set_var("SECRET_LIB", CANARY);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    write(dir.path(), "in.csv", ONE_BAD_ROW_CSV);

    // load: a missing input file.
    let job = write(dir.path(), "missing.yaml", &job_yaml("missing-${SECRET_LIB}.csv", "out", "", "SECRET_LIB"));
    let e = dativo_engine::job::load(&job).unwrap_err();
    assert!(e.to_string().contains("missing-${SECRET_LIB}.csv"), "{e}");
    assert_clean("the load error", &e.to_string());
    assert_clean("the load error (Debug)", &format!("{e:?}"));

    // load: an invalid delimiter.
    let bad =
        job_yaml("in.csv", "out", "", "SECRET_LIB").replace("delimiter: \",\"", "delimiter: \"\\\"${SECRET_LIB}\"");
    let job = write(dir.path(), "delim.yaml", &bad);
    let e = dativo_engine::job::load(&job).unwrap_err();
    assert!(matches!(e, dativo_engine::Error::Config(_)), "{e:?}");
    assert_clean("the config error", &e.to_string());
    assert_clean("the config error (Debug)", &format!("{e:?}"));

    // run: an output_base that cannot be created.
    write(dir.path(), "blocker", "file\n");
    let job = write(dir.path(), "blocked.yaml", &job_yaml("in.csv", "blocker/${SECRET_LIB}", "", "SECRET_LIB"));
    let loaded = dativo_engine::job::load(&job).unwrap();
    let e = loaded.run(&|_| {}).unwrap_err();
    assert_clean("the run error", &e.to_string());
    assert_clean("the run error (Debug)", &format!("{e:?}"));

    // run: a bad row with on_error: fail.
    let job = write(dir.path(), "fail.yaml", &job_yaml("in.csv", "out-${SECRET_LIB}", "", "SECRET_LIB"));
    let e = dativo_engine::job::load(&job).unwrap().run(&|_| {}).unwrap_err();
    assert!(e.to_string().contains("in.csv:3:"), "{e}");
    assert_clean("the data error", &e.to_string());

    // run: success with the secret in the output and rejects paths; the report's summary
    // has no paths, and the output file names are dativo's own.
    let options = "      on_error: reject\n      rejects_path: \"rej-${SECRET_LIB}.csv\"\n";
    let job = write(dir.path(), "ok.yaml", &job_yaml("in.csv", "out-${SECRET_LIB}", options, "SECRET_LIB"));
    let loaded = dativo_engine::job::load(&job).unwrap();
    let report = loaded.run(&|_| {}).unwrap();
    assert_eq!((report.rows_written, report.rows_rejected), (2, 1));
    assert_clean("the report summary", &report.summary());
    for file in &report.files {
        assert_clean("the Parquet file name", &file.path.file_name().unwrap().to_string_lossy());
    }
    let rejects = fs::read_to_string(dir.path().join(format!("rej-{CANARY}.csv"))).unwrap();
    assert_clean("the rejects file", &rejects);
    assert_eq!(
        loaded.redact(&loaded.output_dir.display().to_string()),
        dir.path().join("out-${SECRET_LIB}").display().to_string()
    );
    assert_clean("the redactor's Debug", &format!("{:?}", loaded.redactor()));
}

// ---------------------------------------------------------------------------------------
// C API: dativo_job_run
// ---------------------------------------------------------------------------------------

fn c_run(job: &Path) -> (i32, Option<String>) {
    let path = CString::new(job.to_str().unwrap()).unwrap();
    let mut report = ptr::null_mut();
    let mut error = DativoError::default();
    let status = unsafe { dativo_job_run(path.as_ptr(), &mut report, &mut error) };
    let message =
        (!error.message.is_null()).then(|| unsafe { CStr::from_ptr(error.message) }.to_string_lossy().into_owned());
    if let Some(release) = error.release {
        unsafe { release(&mut error) };
    }
    unsafe { dativo_job_report_free(report) };
    (status, message)
}

#[test]
fn c_api_error_messages_carry_no_secret() {
    std::env::set_var("SECRET_CAPI", CANARY);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    write(dir.path(), "in.csv", GOOD_CSV);
    write(dir.path(), "blocker", "file\n");
    let cases = [
        ("output_base under a file", job_yaml("in.csv", "blocker/${SECRET_CAPI}/out", "", "SECRET_CAPI")),
        ("missing input", job_yaml("missing-${SECRET_CAPI}.csv", "out", "", "SECRET_CAPI")),
        (
            "invalid delimiter",
            job_yaml("in.csv", "out", "", "SECRET_CAPI").replace("delimiter: \",\"", "delimiter: \"${SECRET_CAPI}\""),
        ),
        (
            "unknown key's value",
            job_yaml("in.csv", "out", "", "SECRET_CAPI").replace("delimiter: \",\"", "delimeter: \"${SECRET_CAPI}\""),
        ),
    ];
    for (name, yaml) in cases {
        let job = write(dir.path(), "job.yaml", &yaml);
        let (status, message) = c_run(&job);
        assert_ne!(status, DATIVO_STATUS_OK, "{name}");
        let message = message.unwrap_or_else(|| panic!("{name}: no message"));
        assert_clean(&format!("the C API error ({name})"), &message);
    }
    assert!(!dir.path().join("out").exists());

    // Success, with the secret in the output directory: nothing is logged, the file names
    // are dativo's own.
    let job = write(dir.path(), "ok.yaml", &job_yaml("in.csv", "ok-${SECRET_CAPI}", "", "SECRET_CAPI"));
    let (status, message) = c_run(&job);
    assert_eq!(status, DATIVO_STATUS_OK, "{message:?}");
    for name in names_under(&dir.path().join(format!("ok-{CANARY}"))) {
        assert_clean("the Parquet file names", &name);
    }
}

/// Same cause as the trailing newline: inside a double-quoted YAML scalar, an escape
/// sequence in the secret (`\x41`, `\t`, `\\`, ...) is decoded by the YAML parser, so the
/// value in messages (`...SECRETA`) is no longer the substituted text (`...SECRET\x41`).
#[test]
fn cli_secret_with_yaml_escape_in_double_quotes_stays_out_of_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    let job = write(dir.path(), "job.yaml", &job_yaml("missing-${SECRET_ESC}.csv", "out", "", "SECRET_ESC"));
    let value = format!("{CANARY}\\x41");
    let result = dativo(&["run", "--config", job.to_str().unwrap()], &[("SECRET_ESC", &value)]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert_clean("stderr", &stderr);
}

// ---------------------------------------------------------------------------------------
// Secrets that messages quote differently from the text: escaped (a tab, a quote, a
// backslash) or cut (a 300-character value is shown as its first 80 characters and `...`).
// ---------------------------------------------------------------------------------------

/// Every one of these starts with this marker, which must never appear outside the data.
const MARK: &str = "Zq9X";

/// (variable, secret): a tab, a double quote, a backslash, and 300 characters.
fn quoted_secrets(prefix: &str) -> Vec<(String, String)> {
    let long: String =
        format!("{MARK}long-{}", (0..300).map(|i| char::from(b'a' + (i % 26) as u8)).collect::<String>());
    vec![
        (format!("{prefix}_TAB"), format!("{MARK}tab\there-7f3a")),
        (format!("{prefix}_QUOTE"), format!("{MARK}quote\"here-7f3a")),
        (format!("{prefix}_BACKSLASH"), format!("{MARK}back\\slash-7f3a")),
        (format!("{prefix}_LONG"), long[..300].to_string()),
    ]
}

#[track_caller]
fn assert_no_mark(what: &str, haystack: &str) {
    assert!(!haystack.contains(MARK), "a secret (or its escaped or cut form) leaked into {what}:\n{haystack}");
}

/// A job that uses `${var}` in `tenant_id` (a literal block scalar, so any character is
/// taken as it is; the tenant is logged at debug level), reading in.csv.
fn quoted_secret_job(var: &str, output_base: &str, reader_options: &str) -> String {
    format!(
        "tenant_id: |-\n  ${{{var}}}\n\
         asset_path: asset.yaml\n\
         source:\n  type: csv\n  files:\n    - path: in.csv\n\
         \x20 engine:\n    options:\n      delimiter: \",\"\n{reader_options}\
         target:\n  type: local\n  output_base: \"{output_base}\"\n\
         logging:\n  level: debug\n"
    )
}

/// in.csv with one good row, then `secret` as the (bad, not an integer) id of line 3.
fn csv_with_secret_id(secret: &str) -> String {
    format!("id,name\n1,ann\n\"{}\",bob\n", secret.replace('"', "\"\""))
}

#[test]
fn cli_escaped_and_cut_secrets_in_rejected_and_failing_rows_stay_out_of_messages() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    for (var, secret) in quoted_secrets("SECRET_Q") {
        let data = csv_with_secret_id(&secret);
        write(dir.path(), "in.csv", &data);
        let env = [(var.as_str(), secret.as_str())];

        // on_error: reject: the run succeeds; the rejects file keeps the data as it is.
        let options = "      on_error: reject\n      rejects_path: rejects.csv\n";
        let job = write(dir.path(), "job.yaml", &quoted_secret_job(&var, "out", options));
        let result = dativo(&["run", "--config", job.to_str().unwrap()], &env);
        let (stdout, stderr) = (text(&result.stdout), text(&result.stderr));
        assert!(result.status.success(), "{var}: {stderr}");
        assert!(stderr.contains(&format!("${{{var}}}")), "{var}: the tenant is logged, redacted: {stderr}");
        assert_no_mark(&format!("stdout ({var}, reject)"), &stdout);
        assert_no_mark(&format!("stderr ({var}, reject)"), &stderr);
        let rejects = fs::read_to_string(dir.path().join("rejects.csv")).unwrap();
        let row = rejects.lines().nth(1).unwrap_or_else(|| panic!("{var}: {rejects}"));
        assert!(row.contains("in.csv,3,"), "{var}: {rejects}");
        let raw = data.lines().nth(2).unwrap();
        assert!(
            rejects.contains(&format!("\"{}\"", raw.replace('"', "\"\""))),
            "{var}: raw_line is the data: {rejects}"
        );

        // on_error: fail: `run` and `check --data` fail with the value quoted and redacted.
        let job = write(dir.path(), "job.yaml", &quoted_secret_job(&var, "out-fail", ""));
        for command in ["run", "check --data"] {
            let mut args: Vec<&str> = command.split(' ').collect();
            args.extend(["--config", job.to_str().unwrap()]);
            let result = dativo(&args, &env);
            let (stdout, stderr) = (text(&result.stdout), text(&result.stderr));
            assert_eq!(result.status.code(), Some(1), "{var} {command}: {stderr}");
            assert!(stderr.contains("in.csv:3: column 'id' (#1): cannot parse \"${"), "{var} {command}: {stderr}");
            assert!(stderr.contains(&format!("${{{var}}}")), "{var} {command}: {stderr}");
            assert_no_mark(&format!("stdout ({var}, {command})"), &stdout);
            assert_no_mark(&format!("stderr ({var}, {command})"), &stderr);
        }
        assert!(parquet_files(&dir.path().join("out-fail")).is_empty());
    }
}

#[test]
fn library_and_c_api_redact_escaped_and_cut_secrets_from_data() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    for (var, secret) in quoted_secrets("SECRET_QLIB") {
        std::env::set_var(&var, &secret);
        write(dir.path(), "in.csv", &csv_with_secret_id(&secret));

        let job = write(dir.path(), "fail.yaml", &quoted_secret_job(&var, "out-fail", ""));
        let e = dativo_engine::job::load(&job).unwrap().run(&|_| {}).unwrap_err();
        assert!(matches!(e, dativo_engine::Error::Data(_)), "{var}: {e:?}");
        assert!(e.to_string().contains("in.csv:3: column 'id' (#1): cannot parse \"${"), "{var}: {e}");
        assert_no_mark(&format!("the data error ({var})"), &e.to_string());
        assert_no_mark(&format!("the data error, Debug ({var})"), &format!("{e:?}"));
        let e = dativo_engine::job::load(&job).unwrap().check_data(&|_| {}).unwrap_err();
        assert_no_mark(&format!("the check error ({var})"), &e.to_string());

        let (status, message) = c_run(&job);
        assert_ne!(status, DATIVO_STATUS_OK, "{var}");
        let message = message.unwrap_or_else(|| panic!("{var}: no message"));
        assert!(message.contains("cannot parse \"${"), "{var}: {message}");
        assert_no_mark(&format!("the C API error ({var})"), &message);

        let options = "      on_error: reject\n      rejects_path: rejects.csv\n";
        let job = write(dir.path(), "ok.yaml", &quoted_secret_job(&var, "out", options));
        let report = dativo_engine::job::load(&job).unwrap().run(&|_| {}).unwrap();
        assert_eq!((report.rows_written, report.rows_rejected), (1, 1), "{var}");
        assert_no_mark(&format!("the report summary ({var})"), &report.summary());
        assert_no_mark(&format!("the report, Debug ({var})"), &format!("{report:?}"));
    }
}

/// s3:// inputs: the access key and secret of `source.connection` (through `${VAR}`) stay out
/// of stdout, stderr (debug logging), every error (a refused signature on HEAD and on LIST, a
/// missing object, a bad row) and `dativo check`, while the errors name the s3:// URL.
#[test]
fn s3_input_credentials_never_appear_in_output_or_errors() {
    const KEY: &str = "CANARYINPUTKEY9d2e";
    const SECRET: &str = "CANARY-INPUT-SECRET-5c7a1f";
    const WRONG: &str = "CANARY-WRONG-INPUT-SECRET-31";
    let server = s3::S3Server::start_with(KEY, SECRET);
    server.query(&["put", "dativo/in/good.csv", GOOD_CSV]);
    server.query(&["put", "dativo/in/bad.csv", ONE_BAD_ROW_CSV]);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "asset.yaml", ASSET);
    let job = |path: &str| {
        let text = format!(
            "asset_path: asset.yaml\nsource:\n  files: [{{path: '{path}'}}]\n  connection:\n    s3:\n      endpoint: \"${{S3_ENDPOINT}}\"\n      access_key_id: \"${{S3_KEY}}\"\n      secret_access_key: \"${{S3_SECRET}}\"\n      secure: false\ntarget:\n  output_base: out\nlogging:\n  level: debug\n"
        );
        write(dir.path(), "job.yaml", &text)
    };
    let run = |args: &[&str], secret: &str| {
        let env = [("S3_ENDPOINT", server.endpoint.as_str()), ("S3_KEY", KEY), ("S3_SECRET", secret)];
        dativo(args, &env)
    };
    let clean = |what: &str, out: &Output| {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        for canary in [KEY, SECRET, WRONG] {
            assert!(!all.contains(canary), "{canary} leaked into {what}:\n{all}");
        }
        all
    };
    let config = |p: &Path| p.display().to_string();

    let good = job("s3://dativo/in/good.csv");
    let out = run(&["run", "--config", &config(&good)], SECRET);
    assert!(out.status.success(), "{}", text(&out.stderr));
    clean("a successful debug run", &out);
    clean("dativo check", &run(&["check", "--config", &config(&good)], SECRET));

    for (path, what) in [("s3://dativo/in/good.csv", "HEAD"), ("s3://dativo/in/*.csv", "LIST")] {
        let out = run(&["run", "--config", &config(&job(path))], WRONG);
        assert!(!out.status.success(), "a wrong secret fails ({what})");
        let all = clean(&format!("a refused signature ({what})"), &out);
        assert!(all.contains("s3://dativo/in/"), "the error names the object or folder: {all}");
    }
    let out = run(&["run", "--config", &config(&job("s3://dativo/in/none.csv"))], SECRET);
    assert!(!out.status.success());
    assert!(clean("a missing object", &out).contains("s3://dativo/in/none.csv: no such object"));
    let out = run(&["run", "--config", &config(&job("s3://dativo/in/bad.csv"))], SECRET);
    assert!(!out.status.success());
    assert!(clean("a bad row", &out).contains("s3://dativo/in/bad.csv:3: column 'id'"));
}
