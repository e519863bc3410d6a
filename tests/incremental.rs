//! `source.incremental`: which files a rerun skips, re-reads and replaces; `--full-refresh`,
//! `--reset-state`, a corrupt state, files that leave the job, an interrupted publish, the
//! manifest. Crashes and write failures are in `tests/faults.rs`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::{Array, Int64Array};
use dativo_engine::job::{self, Progress, RunReport};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new() -> Folder {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("data")).unwrap();
        Folder { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `data/<name>.csv` with ids `from..to`.
    fn input(&self, name: &str, from: i64, to: i64) {
        let mut text = String::from("id,name\n");
        for id in from..to {
            text.push_str(&format!("{id},n{id}\n"));
        }
        fs::write(self.path(&format!("data/{name}.csv")), text).unwrap();
    }

    fn job(&self, files: &[&str], strategy: &str, extra_source: &str) -> PathBuf {
        let list: String = files.iter().map(|f| format!("    - {{path: data/{f}.csv}}\n")).collect();
        let text = format!(
            "source:\n  files:\n{list}  incremental: {{strategy: {strategy}}}\n{extra_source}target:\n  output_base: out\n  \
             engine: {{options: {{max_rows_per_file: 100}}}}\n"
        );
        fs::write(self.path("job.yaml"), text).unwrap();
        self.path("job.yaml")
    }

    fn run(&self, job: &Path) -> dativo_engine::Result<RunReport> {
        self.run_with(job, false, false)
    }

    fn run_with(&self, job: &Path, full_refresh: bool, reset_state: bool) -> dativo_engine::Result<RunReport> {
        let mut job = job::load(job)?;
        job.full_refresh = full_refresh;
        job.reset_state = reset_state;
        job.run(&|_: &Progress| {})
    }

    fn out(&self) -> PathBuf {
        self.path("out")
    }

    fn state(&self) -> serde_json::Value {
        serde_json::from_slice(&fs::read(self.path("out/_dativo_state.json")).unwrap()).unwrap()
    }
}

/// Visible Parquet files and their bytes.
fn visible(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
        .collect()
}

/// Every id in the visible Parquet files, sorted.
fn ids(dir: &Path) -> Vec<i64> {
    let mut out = Vec::new();
    for name in visible(dir).into_keys() {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(fs::File::open(dir.join(name)).unwrap()).unwrap().build().unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let col = batch.column_by_name("id").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().clone();
            assert_eq!(col.null_count(), 0);
            out.extend(col.values().iter());
        }
    }
    out.sort_unstable();
    out
}

fn range(parts: &[(i64, i64)]) -> Vec<i64> {
    let mut v: Vec<i64> = parts.iter().flat_map(|&(a, b)| a..b).collect();
    v.sort_unstable();
    v
}

/// The manifest's file names and total rows.
fn manifest(dir: &Path) -> (Vec<String>, u64) {
    let m: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("_manifest.json")).unwrap()).unwrap();
    let mut files: Vec<String> =
        m["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap().to_string()).collect();
    files.sort();
    (files, m["rows"].as_u64().unwrap())
}

fn skipped(report: &RunReport) -> usize {
    report.incremental.as_ref().unwrap().skipped.len()
}

fn ingested(report: &RunReport) -> usize {
    report.incremental.as_ref().unwrap().ingested.len()
}

#[test]
fn unchanged_files_are_skipped_and_a_changed_one_replaces_its_outputs() {
    let f = Folder::new();
    f.input("a", 0, 250);
    f.input("b", 1000, 1350);
    let job = f.job(&["a", "b"], "file_fingerprint", "");
    let first = f.run(&job).unwrap();
    assert_eq!((ingested(&first), skipped(&first), first.rows_written), (2, 0, 600));
    assert_eq!(first.files.len(), 3 + 4);
    assert_eq!(ids(&f.out()), range(&[(0, 250), (1000, 1350)]));
    let names: Vec<String> = visible(&f.out()).into_keys().collect();
    assert!(
        names.iter().all(|n| n.starts_with("part-") && n.len() == "part-0123456789ab-00000.parquet".len()),
        "{names:?}"
    );
    assert_eq!(manifest(&f.out()), (names.clone(), 600));

    let before = visible(&f.out());
    let second = f.run(&job).unwrap();
    assert_eq!((ingested(&second), skipped(&second), second.rows_written), (0, 2, 0));
    assert!(second.files.is_empty());
    assert_eq!(visible(&f.out()), before);
    assert_eq!(manifest(&f.out()), (names, 600));

    // b shrinks from 4 parts to 2: its parts are replaced, its old 3rd and 4th part deleted,
    // a's files untouched.
    f.input("b", 2000, 2150);
    let third = f.run(&job).unwrap();
    assert_eq!((ingested(&third), skipped(&third), third.rows_written), (1, 1, 150));
    assert_eq!(ids(&f.out()), range(&[(0, 250), (2000, 2150)]));
    let after = visible(&f.out());
    assert_eq!(after.len(), 3 + 2);
    let unchanged = before.iter().filter(|(n, bytes)| after.get(*n) == Some(bytes)).count();
    assert_eq!(unchanged, 3, "a's three parts stay as they were; b's are rewritten");
    let (listed, rows) = manifest(&f.out());
    assert_eq!((listed, rows), (after.keys().cloned().collect::<Vec<_>>(), 400));
    let state = f.state();
    let entries = state["inputs"].as_object().unwrap();
    assert_eq!(entries.len(), 2);
    for entry in entries.values() {
        assert_eq!(entry["status"], "committed");
        assert_eq!(entry["sha256"].as_str().unwrap().len(), 64);
    }
}

#[test]
fn modified_time_reads_a_touched_file_again_and_fingerprint_does_not() {
    for (strategy, reread) in [("file_modified_time", true), ("file_fingerprint", false)] {
        let f = Folder::new();
        f.input("a", 0, 10);
        let job = f.job(&["a"], strategy, "");
        f.run(&job).unwrap();
        let file = fs::File::options().write(true).open(f.path("data/a.csv")).unwrap();
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60)).unwrap();
        drop(file);
        let report = f.run(&job).unwrap();
        assert_eq!(ingested(&report) == 1, reread, "{strategy}");
        // The recorded fingerprint is the content's sha256, however it was computed.
        use sha2::Digest;
        let want: String =
            sha2::Sha256::digest(fs::read(f.path("data/a.csv")).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
        let state = f.state();
        assert_eq!(
            state["inputs"].as_object().unwrap().values().next().unwrap()["sha256"],
            want.as_str(),
            "{strategy}"
        );
        assert_eq!(ids(&f.out()), range(&[(0, 10)]), "{strategy}");
    }
}

#[test]
fn full_refresh_reads_everything_again_and_reset_state_gets_past_a_corrupt_state() {
    let f = Folder::new();
    f.input("a", 0, 120);
    f.input("b", 500, 530);
    let job = f.job(&["a", "b"], "file_modified_time", "");
    f.run(&job).unwrap();
    let refresh = f.run_with(&job, true, false).unwrap();
    assert_eq!((ingested(&refresh), skipped(&refresh)), (2, 0));
    assert_eq!(ids(&f.out()), range(&[(0, 120), (500, 530)]));

    let state_path = f.path("out/_dativo_state.json");
    let good = fs::read_to_string(&state_path).unwrap();
    fs::write(&state_path, &good[..good.len() / 2]).unwrap();
    let before = visible(&f.out());
    let e = f.run(&job).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("incremental state file {} is corrupt: ", state_path.display()))
            && e.contains("line ")
            && e.ends_with("run with --reset-state to start over (every listed file is ingested again)"),
        "{e}"
    );
    assert_eq!(visible(&f.out()), before, "a corrupt state must stop the job before it writes");
    // --full-refresh does not get past a corrupt state; --reset-state does.
    assert!(f.run_with(&job, true, false).is_err());
    let reset = f.run_with(&job, false, true).unwrap();
    assert_eq!((ingested(&reset), skipped(&reset)), (2, 0));
    assert_eq!(ids(&f.out()), range(&[(0, 120), (500, 530)]));
    assert_eq!(f.state()["inputs"].as_object().unwrap().len(), 2);
    assert_eq!(skipped(&f.run(&job).unwrap()), 2);
}

#[test]
fn a_file_dropped_from_the_job_keeps_its_outputs_and_its_entry() {
    let f = Folder::new();
    f.input("a", 0, 50);
    f.input("b", 100, 150);
    f.run(&f.job(&["a", "b"], "file_fingerprint", "")).unwrap();
    let report = f.run(&f.job(&["a"], "file_fingerprint", "")).unwrap();
    assert_eq!((ingested(&report), skipped(&report)), (0, 1));
    assert_eq!(ids(&f.out()), range(&[(0, 50), (100, 150)]));
    assert_eq!(manifest(&f.out()).1, 100);
    assert_eq!(f.state()["inputs"].as_object().unwrap().len(), 2);
}

#[test]
fn an_interrupted_publish_is_redone_by_the_next_run() {
    // As if a run died between marking `b` publishing and marking it committed, having renamed
    // some new parts while an older, longer version's parts were still there.
    let f = Folder::new();
    f.input("a", 0, 50);
    f.input("b", 100, 230);
    let job = f.job(&["a", "b"], "file_modified_time", "");
    f.run(&job).unwrap();
    let state_path = f.path("out/_dativo_state.json");
    let mut state = f.state();
    let (b_id, _) = state["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, e)| e["path"].as_str().unwrap().ends_with("b.csv"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    state["inputs"][&b_id]["status"] = "publishing".into();
    fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    let first_part = f.out().join(format!("part-{b_id}-00000.parquet"));
    fs::copy(&first_part, f.out().join(format!("part-{b_id}-00007.parquet"))).unwrap();
    fs::remove_file(f.out().join("_manifest.json")).unwrap();
    assert_ne!(ids(&f.out()), range(&[(0, 50), (100, 230)]), "the setup shows duplicates");

    let report = f.run(&job).unwrap();
    assert_eq!((ingested(&report), skipped(&report)), (1, 1), "b is unchanged but its publish never completed");
    assert_eq!(ids(&f.out()), range(&[(0, 50), (100, 230)]));
    assert_eq!(f.state()["inputs"][&b_id]["status"], "committed");
    assert_eq!(manifest(&f.out()).1, 180);
}

#[test]
fn a_bad_input_fails_the_run_after_the_inputs_before_it_are_committed() {
    let f = Folder::new();
    f.input("a", 0, 40);
    f.input("b", 100, 140);
    let job = f.job(&["a", "b"], "file_fingerprint", "");
    f.run(&job).unwrap();
    let b_entry = |state: &serde_json::Value| {
        state["inputs"].as_object().unwrap().values().find(|e| e["path"].as_str().unwrap().ends_with("b.csv")).cloned()
    };
    let b_before = b_entry(&f.state());
    f.input("a", 0, 60);
    fs::write(f.path("data/b.csv"), "id,name\n100,x\nnot-a-number,y\n").unwrap();
    let e = f.run(&job).unwrap_err().to_string();
    assert!(e.contains("b.csv:3") && e.contains("not-a-number"), "{e}");
    // a was committed; b's entry and its files are as before; no manifest (the run failed
    // after changing visible files).
    assert_eq!(ids(&f.out()), range(&[(0, 60), (100, 140)]));
    assert_eq!(b_entry(&f.state()), b_before);
    assert!(!f.out().join("_manifest.json").exists());
    fs::write(f.path("data/b.csv"), "id,name\n100,x\n").unwrap();
    f.run(&job).unwrap();
    assert_eq!(ids(&f.out()), range(&[(0, 60), (100, 101)]));
    assert_eq!(manifest(&f.out()).1, 61);
}

#[test]
fn rejects_are_kept_per_input() {
    let f = Folder::new();
    fs::write(f.path("data/a.csv"), "id,name\n1,a\nx,bad-a\n").unwrap();
    fs::write(f.path("data/b.csv"), "id,name\n2,b\ny,bad-b\n").unwrap();
    let job = f.job(
        &["a", "b"],
        "file_fingerprint",
        "  engine: {options: {on_error: reject, column_types: {id: integer}}}\n",
    );
    let report = f.run(&job).unwrap();
    assert_eq!((report.rows_written, report.rows_rejected), (2, 2));
    let mut rejects: Vec<String> = fs::read_dir(f.out())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("_rejects-") && n.ends_with(".csv"))
        .collect();
    rejects.sort();
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    let all: String = rejects.iter().map(|n| fs::read_to_string(f.out().join(n)).unwrap()).collect();
    assert!(all.contains("bad-a") && all.contains("bad-b"), "{all}");
    assert_eq!(
        f.state()["inputs"].as_object().unwrap().values().map(|e| e["rows_rejected"].as_u64().unwrap()).sum::<u64>(),
        2
    );
}

#[test]
fn the_same_file_twice_is_refused() {
    let f = Folder::new();
    f.input("a", 0, 5);
    let job = f.job(&["a", "a"], "file_fingerprint", "");
    let e = f.run(&job).unwrap_err().to_string();
    assert!(e.contains("source.files[1] is the same input as source.files[0]"), "{e}");
}

#[test]
fn a_plain_job_writes_a_manifest_of_its_files() {
    let f = Folder::new();
    f.input("a", 0, 250);
    fs::write(
        f.path("job.yaml"),
        "source:\n  files: [{path: data/a.csv}]\ntarget:\n  output_base: out\n  engine: {options: {max_rows_per_file: 100}}\n",
    )
    .unwrap();
    f.run(&f.path("job.yaml")).unwrap();
    let (files, rows) = manifest(&f.out());
    assert_eq!(files, ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]);
    assert_eq!(rows, 250);
}

#[test]
fn the_command_line_flags_and_summary() {
    let f = Folder::new();
    f.input("a", 0, 10);
    f.input("b", 10, 20);
    let job = f.job(&["a", "b"], "file_fingerprint", "");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_dativo"))
            .args(["run", "--quiet", "--config"])
            .arg(&job)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (stdout, _) = run(&[]);
    assert!(stdout.contains("inputs: 2 ingested, 0 skipped (unchanged)"), "{stdout}");
    let (stdout, stderr) = run(&[]);
    assert!(stdout.contains("inputs: 0 ingested, 2 skipped (unchanged)\n  skipped: "), "{stdout}");
    assert!(stdout.ends_with("no parquet file written (every input unchanged)\n"), "{stdout}");
    assert!(stderr.contains("a.csv: skipped (unchanged since it was ingested)"), "{stderr}");
    let (stdout, _) = run(&["--full-refresh"]);
    assert!(stdout.contains("inputs: 2 ingested, 0 skipped"), "{stdout}");
    let (stdout, _) = run(&["--reset-state"]);
    assert!(stdout.contains("inputs: 2 ingested, 0 skipped"), "{stdout}");
    assert_eq!(ids(&f.out()), range(&[(0, 20)]));
}

#[test]
fn secrets_stay_out_of_the_state_and_the_manifest() {
    const CANARY: &str = "Canary-7f3a9c-secret";
    let f = Folder::new();
    fs::create_dir_all(f.path(&format!("data/{CANARY}"))).unwrap();
    fs::write(f.path(&format!("data/{CANARY}/a.csv")), "id,name\n1,a\n").unwrap();
    let text = "source:\n  files: [{path: \"data/${DIR}/a.csv\", id: \"id-${DIR}\"}]\n  incremental: {strategy: file_fingerprint}\n\
                target:\n  output_base: out\n";
    let job =
        job::Job::from_text(text, &f.path("job.yaml"), |name| (name == "DIR").then(|| CANARY.to_string())).unwrap();
    let report = job.run(&|_: &Progress| {}).unwrap();
    assert_eq!(report.rows_written, 1);
    let inc = format!("{:?}", report.incremental);
    assert!(!inc.contains(CANARY) && inc.contains("${DIR}"), "{inc}");
    for name in ["_dativo_state.json", "_manifest.json"] {
        let content = fs::read_to_string(f.out().join(name)).unwrap();
        assert!(!content.contains(CANARY), "{name}: {content}");
        assert!(content.contains("${DIR}"), "{name}: {content}");
    }
    for name in visible(&f.out()).into_keys() {
        assert!(!name.contains(CANARY), "{name}");
    }
}

#[test]
fn temp_files_of_a_crashed_run_are_removed_even_for_skipped_inputs() {
    // As if a run died while writing `a` again (e.g. under --full-refresh): its temp files stay
    // behind, and the next run skips `a` as unchanged.
    let f = Folder::new();
    f.input("a", 0, 20);
    let job = f.job(&["a"], "file_fingerprint", "");
    f.run(&job).unwrap();
    let id = f.state()["inputs"].as_object().unwrap().keys().next().unwrap().clone();
    let dead_pid = 999_999_999;
    let temps = [
        format!(".part-{id}-00000.parquet.{dead_pid}.tmp"),
        format!("._dativo_state.json.{dead_pid}.tmp"),
        format!("._manifest.json.{dead_pid}.tmp"),
    ];
    for t in &temps {
        fs::write(f.out().join(t), b"partial").unwrap();
    }
    let report = f.run(&job).unwrap();
    assert_eq!(skipped(&report), 1);
    for t in &temps {
        assert!(!f.out().join(t).exists(), "{t} is left");
    }
    assert_eq!(ids(&f.out()), range(&[(0, 20)]));
}

#[cfg(unix)]
#[test]
fn a_second_run_of_the_job_at_the_same_time_is_refused() {
    use std::os::unix::io::AsRawFd;
    let f = Folder::new();
    f.input("a", 0, 5);
    let job = f.job(&["a"], "file_fingerprint", "");
    f.run(&job).unwrap();
    // Another run holds the folder (a lock is released by the kernel when its holder dies).
    let held = fs::File::open(f.out()).unwrap();
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    let e = f.run_with(&job, true, false).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{} is in use by another dativo run: wait for it to finish", f.out().display())),
        "{e}"
    );
    drop(held);
    assert_eq!(ingested(&f.run_with(&job, true, false).unwrap()), 1);
}
