//! Distributed job runs (`Job::run_distributed` + `Job::run_task`, what `dativo run --engine
//! ray` is made of), with executors that run each task on its own thread from a job loaded
//! afresh, as a worker process does. Each run is compared with a local run of the same job:
//! the same rows, file names, manifest, rejects, state and report.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

mod common;

use dativo_engine::job::{self, Progress, RunReport, UnitOutcome, UnitTask};
use dativo_engine::Error;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(files: usize) -> Setup {
        let s = Setup { dir: tempfile::tempdir().unwrap() };
        for f in 0..files {
            s.write_input(f, 50, "");
        }
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Input `f`: `rows` good rows and `bad` appended verbatim.
    fn write_input(&self, f: usize, rows: usize, bad: &str) {
        let mut text = String::from("id,amount,country\n");
        for i in 0..rows {
            text.push_str(&format!("{},{}.5,{}\n", f * 1000 + i, i, if i % 2 == 0 { "FR" } else { "DE" }));
        }
        text.push_str(bad);
        fs::create_dir_all(self.path("in")).unwrap();
        fs::write(self.path(&format!("in/f{f}.csv")), text).unwrap();
    }

    /// A job over `in/f0.csv`..`in/f{files-1}.csv` into `out`, with extra source and
    /// reader-option lines.
    fn job(&self, name: &str, files: usize, out: &str, source: &str, reader: &str) -> PathBuf {
        let list: String = (0..files).map(|f| format!("    - path: in/f{f}.csv\n")).collect();
        let text = format!(
            "tenant_id: acme\nsource:\n  type: csv\n{source}  files:\n{list}  engine:\n    options: {{{reader}}}\n\
             target:\n  output_base: {out}\n  engine:\n    options: {{max_rows_per_file: 20}}\n"
        );
        let path = self.path(name);
        fs::write(&path, text).unwrap();
        path
    }
}

/// Runs every task on its own thread, each from the job file loaded again (a worker).
fn workers(path: &Path) -> impl FnMut(&[UnitTask]) -> dativo_engine::Result<Vec<UnitOutcome>> + '_ {
    move |tasks| {
        Ok(std::thread::scope(|scope| {
            let handles: Vec<_> = tasks
                .iter()
                .map(|task| scope.spawn(move || job::load(path).and_then(|job| job.run_task(task))))
                .collect();
            tasks
                .iter()
                .zip(handles)
                .map(|(task, h)| UnitOutcome { index: task.index, result: h.join().unwrap() })
                .collect()
        }))
    }
}

fn local(path: &Path) -> RunReport {
    job::load(path).unwrap().run(&|_: &Progress| {}).unwrap()
}

fn distributed(path: &Path) -> dativo_engine::Result<RunReport> {
    job::load(path)?.run_distributed(&mut workers(path))
}

/// Every row of the Parquet files in `dir` (sorted), read back with the parquet crate.
fn rows_in(dir: &Path) -> Vec<String> {
    let mut rows = Vec::new();
    for name in visible(dir) {
        if name.ends_with(".parquet") {
            let file = fs::File::open(dir.join(name)).unwrap();
            let batches: Vec<_> =
                ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(|b| b.unwrap()).collect();
            rows.extend(common::rows(&batches).into_iter().map(|r| r.join(",")));
        }
    }
    rows.sort();
    rows
}

/// The visible names of `dir` and, separately, whether anything hidden (a temp, a staged
/// file) is left.
fn visible(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names.into_iter().filter(|n| !n.starts_with('.')).collect()
}

fn hidden(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && !n.ends_with(".lock"))
        .collect()
}

fn manifest_files(dir: &Path) -> Vec<String> {
    let text = fs::read_to_string(dir.join("_manifest.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_plain_distributed_run_writes_what_a_local_run_writes() {
    let s = Setup::new(3);
    s.write_input(1, 50, "1x,notanumber,FR\n");
    let reader = "on_error: reject";
    let local_job = s.job("local.yaml", 3, "local", "", reader);
    let ray_job = s.job("ray.yaml", 3, "ray", "", reader);
    let l = local(&local_job);
    let d = distributed(&ray_job).unwrap();

    let (ld, dd) = (s.path("local"), s.path("ray"));
    assert_eq!(rows_in(&dd), rows_in(&ld));
    assert_eq!(rows_in(&dd).len(), 150);
    // Named as a local run names its files; a file never spans two inputs here (each is its
    // own unit), so 3 inputs x 50 rows in files of at most 20 rows make 9 files (local: 8).
    let parts: Vec<String> = (0..9).map(|i| format!("part-{i:05}.parquet")).collect();
    assert_eq!(manifest_files(&dd), parts);
    assert_eq!(visible(&dd), [vec!["_manifest.json".to_string(), "_rejects.csv".to_string()], parts].concat());
    assert_eq!(manifest_files(&ld).len(), 8);
    assert_eq!(hidden(&dd), Vec::<String>::new());
    // The rejects: one file with the bad row, as the local run's.
    let rejects = |dir: &Path| fs::read_to_string(dir.join("_rejects.csv")).unwrap();
    assert_eq!(rejects(&dd).lines().count(), 2, "{}", rejects(&dd));
    assert_eq!(rejects(&dd).lines().next(), rejects(&ld).lines().next());
    assert!(rejects(&dd).contains("notanumber"));
    for (a, b) in [
        (d.rows_read, l.rows_read),
        (d.rows_written, l.rows_written),
        (d.rows_rejected, l.rows_rejected),
        (d.input_bytes, l.input_bytes),
    ] {
        assert_eq!(a, b, "distributed {d:?}\nlocal {l:?}");
    }
    assert_eq!(d.dialect, l.dialect);
    assert_eq!(d.summary().lines().count(), l.summary().lines().count());

    // A second run with fewer inputs replaces the first run's files (overwrite).
    let fewer = s.job("ray.yaml", 1, "ray", "", reader);
    distributed(&fewer).unwrap();
    assert_eq!(rows_in(&dd).len(), 50);
    let names = ["_manifest.json", "_rejects.csv", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"];
    assert_eq!(visible(&dd), names);
    // No bad row this time: the rejects file is the header alone, as a local run leaves it.
    local(&s.job("local.yaml", 1, "local", "", reader));
    assert_eq!(rejects(&dd), rejects(&ld));
    assert_eq!(rejects(&dd).lines().count(), 1);
}

#[test]
fn a_failed_task_publishes_nothing_and_leaves_nothing() {
    let s = Setup::new(3);
    let path = s.job("job.yaml", 3, "out", "", "");
    distributed(&path).unwrap();
    let before = rows_in(&s.path("out"));
    // Input 2 turns bad (on_error: fail, the default): its task fails, the others stage.
    s.write_input(2, 10, "9x,bad,FR\n");
    s.write_input(0, 70, "");
    let e = distributed(&path).unwrap_err();
    assert!(matches!(e, Error::Data(_)), "{e}");
    assert!(e.to_string().contains("f2.csv"), "{e}");
    assert_eq!(rows_in(&s.path("out")), before, "a failed run changed the output");
    assert_eq!(hidden(&s.path("out")), Vec::<String>::new());
}

#[test]
fn a_retried_task_counts_once_and_its_dead_attempt_is_cleaned() {
    let s = Setup::new(2);
    let path = s.job("job.yaml", 2, "out", "", "");
    // Every task runs twice; the first attempt's result is lost (its worker "died" after
    // staging), so its staged files stay behind for the commit to remove.
    let mut retrying = |tasks: &[UnitTask]| {
        let mut first = workers(&path);
        let lost = first(tasks)?;
        assert!(lost.iter().all(|o| o.result.is_ok()));
        workers(&path)(tasks)
    };
    let report = job::load(&path).unwrap().run_distributed(&mut retrying).unwrap();
    assert_eq!(report.rows_written, 100);
    assert_eq!(rows_in(&s.path("out")).len(), 100);
    assert_eq!(hidden(&s.path("out")), Vec::<String>::new());
}

#[test]
fn incremental_distributed_runs_keep_the_local_state() {
    let s = Setup::new(3);
    let source = "  incremental:\n    strategy: file_modified_time\n    state_path: state/orders.json\n";
    let path = s.job("job.yaml", 3, "out", source, "");
    let first = distributed(&path).unwrap();
    assert_eq!(first.incremental.as_ref().unwrap().ingested.len(), 3);
    assert_eq!(rows_in(&s.path("out")).len(), 150);

    // Nothing changed: no task at all.
    let mut called = false;
    let mut never = |_: &[UnitTask]| {
        called = true;
        Ok(Vec::new())
    };
    let second = job::load(&path).unwrap().run_distributed(&mut never).unwrap();
    assert!(!called);
    assert_eq!(second.incremental.as_ref().unwrap().skipped.len(), 3);

    // One input changes: one task, only its rows replaced; the state is what a local run reads.
    std::thread::sleep(std::time::Duration::from_millis(20));
    s.write_input(1, 30, "");
    let mut tasks_seen = 0;
    let third = {
        let mut inner = workers(&path);
        let mut counting = |tasks: &[UnitTask]| {
            tasks_seen = tasks.len();
            inner(tasks)
        };
        job::load(&path).unwrap().run_distributed(&mut counting).unwrap()
    };
    assert_eq!(tasks_seen, 1);
    assert_eq!(third.rows_written, 30);
    let rows = rows_in(&s.path("out"));
    assert_eq!(rows.len(), 130);
    let local_rerun = local(&path);
    assert_eq!(local_rerun.incremental.as_ref().unwrap().skipped.len(), 3, "the local run disagrees with the state");
    assert_eq!(rows_in(&s.path("out")), rows);
    assert_eq!(hidden(&s.path("out")), Vec::<String>::new());
}

#[test]
fn an_incremental_unit_that_fails_keeps_the_units_before_it() {
    let s = Setup::new(3);
    let source = "  incremental:\n    strategy: file_modified_time\n    state_path: state/orders.json\n";
    let path = s.job("job.yaml", 3, "out", source, "");
    s.write_input(1, 10, "bad,row,x\n");
    let e = distributed(&path).unwrap_err();
    assert!(e.to_string().contains("f1.csv"), "{e}");
    // Input 0 is committed (it comes first), 1 failed, 2 was discarded.
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(s.path("state/orders.json")).unwrap()).unwrap();
    let committed: BTreeMap<String, String> = state["inputs"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| (e["path"].as_str().unwrap().to_string(), e["status"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(committed.len(), 1, "{committed:?}");
    assert!(committed.keys().next().unwrap().ends_with("f0.csv"));
    assert_eq!(rows_in(&s.path("out")).len(), 50);
    assert_eq!(hidden(&s.path("out")), Vec::<String>::new());

    // Fixed: the next run ingests the other two.
    s.write_input(1, 10, "");
    let report = distributed(&path).unwrap();
    assert_eq!(report.incremental.as_ref().unwrap().ingested.len(), 2);
    assert_eq!(rows_in(&s.path("out")).len(), 110);
}

#[test]
fn a_worker_whose_job_differs_refuses_the_task() {
    let s = Setup::new(2);
    let path = s.job("job.yaml", 2, "out", "", "");
    let mut edited = |tasks: &[UnitTask]| {
        // The job file changes between the plan and the tasks.
        fs::write(&path, fs::read_to_string(&path).unwrap().replace("max_rows_per_file: 20", "max_rows_per_file: 7"))
            .unwrap();
        workers(&path)(tasks)
    };
    let e = job::load(&path).unwrap().run_distributed(&mut edited).unwrap_err();
    assert!(e.to_string().contains("resolves the job differently"), "{e}");
    assert!(!s.path("out/_manifest.json").exists());
}

#[test]
fn jobs_it_cannot_distribute_are_refused_with_the_reason() {
    let s = Setup::new(1);
    let path = s.job("job.yaml", 1, "out", "", "");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("  output_base: out\n", "  output_base: out\n  custom_writer: \"plugins/libw.so:create_writer\"\n");
    fs::write(&path, text).unwrap();
    let e = distributed(&path).unwrap_err();
    assert!(e.to_string().contains("a job with a custom writer (it commits its own writes"), "{e}");
}

/// Adds `partitioning: [country]` to a job's target.
fn partitioned(path: &Path) {
    let text =
        fs::read_to_string(path).unwrap().replace("  output_base: ", "  partitioning: [country]\n  output_base: ");
    fs::write(path, text).unwrap();
}

/// Every row under `dir`'s partition folders (sorted), and the folders.
fn partition_rows(dir: &Path) -> (Vec<String>, Vec<String>) {
    let folders: Vec<String> = visible(dir).into_iter().filter(|n| n.contains('=')).collect();
    let mut rows: Vec<String> = folders.iter().flat_map(|f| rows_in(&dir.join(f))).collect();
    rows.sort();
    (rows, folders)
}

#[test]
fn a_partitioned_distributed_run_names_its_folders_as_a_local_run_does() {
    let s = Setup::new(3);
    let local_job = s.job("local.yaml", 3, "local", "", "");
    let ray_job = s.job("ray.yaml", 3, "ray", "", "");
    partitioned(&local_job);
    partitioned(&ray_job);
    local(&local_job);
    // Every task runs twice; the first attempt's result is lost after it staged its files.
    let mut retrying = |tasks: &[UnitTask]| {
        let lost = workers(&ray_job)(tasks)?;
        assert!(lost.iter().all(|o| o.result.is_ok()));
        workers(&ray_job)(tasks)
    };
    let report = job::load(&ray_job).unwrap().run_distributed(&mut retrying).unwrap();
    assert_eq!(report.rows_written, 150);
    let (dd, ld) = (s.path("ray"), s.path("local"));
    assert_eq!(partition_rows(&dd), partition_rows(&ld));
    assert_eq!(partition_rows(&dd).1, ["country=DE", "country=FR"]);
    assert_eq!(visible(&dd), ["_manifest.json", "country=DE", "country=FR"]);
    for folder in ["country=DE", "country=FR"] {
        let names = visible(&dd.join(folder));
        // 3 inputs x 25 rows of each country in files of at most 20 rows: 2 files per input.
        let parts: Vec<String> = (0..6).map(|i| format!("part-{i:05}.parquet")).collect();
        assert_eq!(names, parts, "{folder}: numbered per folder, as a local run numbers them");
        assert_eq!(hidden(&dd.join(folder)), Vec::<String>::new(), "{folder}: the dead attempts' files are gone");
    }
    let mut listed = manifest_files(&dd);
    listed.sort();
    let mut expected: Vec<String> = ["country=DE", "country=FR"]
        .iter()
        .flat_map(|f| (0..6).map(move |i| format!("{f}/part-{i:05}.parquet")))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);

    // Overwrite with one input of FR rows only: the DE partition goes, FR has the new rows.
    fs::write(s.path("in/f0.csv"), "id,amount,country\n1,1.5,FR\n2,2.5,FR\n").unwrap();
    let one = s.job("ray.yaml", 1, "ray", "", "");
    partitioned(&one);
    distributed(&one).unwrap();
    assert_eq!(visible(&dd), ["_manifest.json", "country=FR"]);
    assert_eq!(visible(&dd.join("country=FR")), ["part-00000.parquet"]);
    assert_eq!(partition_rows(&dd).0.len(), 2);
    assert_eq!(manifest_files(&dd), ["country=FR/part-00000.parquet"]);
}

#[test]
fn a_partitioned_incremental_distributed_run_keeps_the_local_state() {
    let s = Setup::new(3);
    let source = "  incremental:\n    strategy: file_modified_time\n    state_path: state/orders.json\n";
    let path = s.job("job.yaml", 3, "out", source, "");
    partitioned(&path);
    distributed(&path).unwrap();
    assert_eq!(partition_rows(&s.path("out")).0.len(), 150);
    std::thread::sleep(std::time::Duration::from_millis(20));
    s.write_input(1, 30, "");
    let report = distributed(&path).unwrap();
    assert_eq!(report.rows_written, 30);
    let (rows, folders) = partition_rows(&s.path("out"));
    assert_eq!((rows.len(), folders), (130, vec!["country=DE".to_string(), "country=FR".to_string()]));
    let local_rerun = local(&path);
    assert_eq!(local_rerun.incremental.as_ref().unwrap().skipped.len(), 3, "the local run disagrees with the state");
    assert_eq!(partition_rows(&s.path("out")).0, rows);
    for folder in ["country=DE", "country=FR"] {
        assert_eq!(hidden(&s.path("out").join(folder)), Vec::<String>::new());
    }
}
