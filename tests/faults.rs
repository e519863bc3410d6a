//! Faults during `dativo run` of an incremental job, with the real binary: SIGKILL at random
//! moments, half of them right after a random state write, where the commit order matters most
//! (then a rerun gives exactly the rows of a clean run, and every visible Parquet file is
//! readable at every moment), a write failure of the file system (the file size limit,
//! RLIMIT_FSIZE, makes `write` fail as a full disk does), and a read-only output folder. The
//! failures end the job with a clear error and leave the state file and the visible files as
//! they were.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arrow_array::{Array, Int64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A tiny deterministic generator (xorshift64*), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A job folder: `data/f<i>.csv` inputs and `job.yaml` writing `out/`.
struct JobDir {
    dir: tempfile::TempDir,
}

/// Ids of input `file` in `version`: versions differ in row count (and so in part count with
/// `max_rows_per_file`) and in ids, so a stale part or a lost one shows in the id multiset.
fn ids_of(file: usize, version: usize, rows: usize) -> Vec<i64> {
    let base = (file as i64) * 1_000_000 + (version as i64) * 100_000;
    let n = rows + version * rows / 3;
    (0..n as i64).map(|i| base + i).collect()
}

impl JobDir {
    fn new(files: usize, strategy: &str, max_rows_per_file: usize) -> JobDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("data")).unwrap();
        let list: String = (0..files).map(|i| format!("    - {{path: data/f{i}.csv}}\n")).collect();
        fs::write(
            dir.path().join("job.yaml"),
            format!(
                "source:\n  files:\n{list}  incremental:\n    strategy: {strategy}\n  engine:\n    options:\n      \
                 threads: 1\n      batch_size: 500\ntarget:\n  output_base: out\n  engine:\n    options:\n      \
                 max_rows_per_file: {max_rows_per_file}\n      threads: 1\n"
            ),
        )
        .unwrap();
        JobDir { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write_input(&self, file: usize, version: usize, rows: usize) {
        let mut text = String::from("id,name,amount\n");
        for id in ids_of(file, version, rows) {
            text.push_str(&format!("{id},name-{id}-v{version},{}.25\n", id % 1000));
        }
        // Written next to it and renamed, so a run never reads a half-written input.
        let tmp = self.path(&format!("data/.f{file}.csv.tmp"));
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, self.path(&format!("data/f{file}.csv"))).unwrap();
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dativo"));
        cmd.arg("run").arg("--config").arg(self.path("job.yaml")).arg("--quiet").args(extra);
        cmd.env_remove("RUST_BACKTRACE");
        cmd
    }

    fn run(&self, extra: &[&str]) -> Output {
        self.command(extra).output().expect("run dativo")
    }

    fn state(&self) -> Option<Vec<u8>> {
        fs::read(self.path("out/_dativo_state.json")).ok()
    }
}

/// The `error: ...` line of stderr (log lines come before it).
fn error_line(stderr: &str) -> &str {
    stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line in:\n{stderr}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Visible `.parquet` files of `dir` (sorted) with their content, for "nothing changed" checks.
fn visible_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = fs::read_dir(dir) else { return BTreeMap::new() };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
        .collect()
}

/// Every id of every visible Parquet file, sorted; fails the test naming a file that cannot
/// be read.
fn visible_ids(dir: &Path) -> Vec<i64> {
    let mut ids = Vec::new();
    for name in visible_files(dir).into_keys() {
        let file = fs::File::open(dir.join(&name)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap_or_else(|e| panic!("{name} is not a readable Parquet file: {e}"))
            .build()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for batch in reader {
            let batch = batch.unwrap_or_else(|e| panic!("{name}: {e}"));
            let col = batch.column_by_name("id").unwrap_or_else(|| panic!("{name}: no id column"));
            let col = col.as_any().downcast_ref::<Int64Array>().unwrap_or_else(|| panic!("{name}: id is not Int64"));
            assert_eq!(col.null_count(), 0, "{name}: null ids");
            ids.extend(col.values().iter());
        }
    }
    ids.sort_unstable();
    ids
}

fn expected_ids(versions: &[usize], rows: usize) -> Vec<i64> {
    let mut ids: Vec<i64> = versions.iter().enumerate().flat_map(|(f, &v)| ids_of(f, v, rows)).collect();
    ids.sort_unstable();
    ids
}

/// Names in `dir` that are temp files of dativo (`.<name>.<pid>.tmp`).
fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

/// The manifest lists exactly the visible Parquet files, with the right total.
fn check_manifest(dir: &Path, rows: usize) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("_manifest.json")).expect("a manifest after a successful run"))
            .unwrap();
    let mut listed: Vec<String> =
        manifest["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap().to_string()).collect();
    listed.sort();
    let visible: Vec<String> = visible_files(dir).into_keys().collect();
    assert_eq!(listed, visible);
    assert_eq!(manifest["rows"].as_u64().unwrap(), rows as u64);
}

#[test]
fn sigkill_at_random_moments_then_rerun_gives_exactly_the_rows_of_a_clean_run() {
    const FILES: usize = 4;
    const ROWS: usize = 3000;
    const KILLS: usize = 30;
    let seed = std::env::var("DATIVO_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_da71_u64);
    let mut rng = Rng(seed);
    let job = JobDir::new(FILES, "file_modified_time", 700);
    let mut versions = vec![0usize; FILES];
    for (f, &v) in versions.iter().enumerate() {
        job.write_input(f, v, ROWS);
    }

    // A clean run: its duration bounds the kill moments, its rows are the reference.
    let started = Instant::now();
    let clean = job.run(&[]);
    let clean_time = started.elapsed();
    assert!(clean.status.success(), "clean run failed: {}", text(&clean.stderr));
    assert_eq!(visible_ids(&job.path("out")), expected_ids(&versions, ROWS));
    // Reruns rewrite all or part of the output while they are killed.
    let window_ms = (clean_time.as_millis() as u64 * 3 / 4).max(20);

    let mut landed = 0;
    for round in 0..KILLS {
        // Change an input (more or fewer rows and parts) most rounds; now and then force a full
        // refresh, which rewrites unchanged inputs too.
        if rng.below(4) != 0 {
            let f = rng.below(FILES as u64) as usize;
            versions[f] = (versions[f] + 1 + rng.below(2) as usize) % 3;
            job.write_input(f, versions[f], ROWS);
        }
        let extra: &[&str] = if rng.below(4) == 0 { &["--full-refresh"] } else { &[] };
        let mut child = job.command(extra).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn dativo");
        if round % 2 == 0 {
            // A random moment in time: mostly while rows are read and encoded.
            std::thread::sleep(Duration::from_millis(rng.below(window_ms)));
        } else {
            // Right after the k-th replacement of the state file: the narrow moments between
            // recording an input and publishing its files, or between publishing and recording.
            let k = 1 + rng.below(2 * FILES as u64) as usize;
            wait_for_state_writes(&mut child, &job.path("out/_dativo_state.json"), k);
        }
        if child.try_wait().unwrap().is_none() {
            landed += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        // At every moment: no partial Parquet file under a final name, a whole state file.
        let _ = visible_ids(&job.path("out"));
        if let Some(state) = job.state() {
            serde_json::from_slice::<serde_json::Value>(&state)
                .unwrap_or_else(|e| panic!("round {round} (seed {seed}): state file is not whole JSON: {e}"));
        }
    }
    eprintln!("{landed} of {KILLS} kills hit a running job (seed {seed})");
    assert!(landed >= KILLS / 4, "only {landed} of {KILLS} kills hit a running job (seed {seed})");

    let done = job.run(&[]);
    assert!(done.status.success(), "rerun failed (seed {seed}): {}", text(&done.stderr));
    let want = expected_ids(&versions, ROWS);
    let got = visible_ids(&job.path("out"));
    if got != want {
        let mut count: BTreeMap<i64, i64> = BTreeMap::new();
        for id in &got {
            *count.entry(*id).or_default() += 1;
        }
        for id in &want {
            *count.entry(*id).or_default() -= 1;
        }
        let wrong: Vec<_> = count.iter().filter(|(_, c)| **c != 0).take(10).collect();
        panic!(
            "seed {seed}: {} rows visible, {} expected; first differences (id, extra copies): {wrong:?}",
            got.len(),
            want.len()
        );
    }
    check_manifest(&job.path("out"), want.len());
    assert_eq!(temp_files(&job.path("out")), Vec::<String>::new(), "temp files left after a complete run");

    // And one more run changes nothing.
    let before = visible_files(&job.path("out"));
    let again = job.run(&[]);
    assert!(again.status.success());
    assert!(text(&again.stdout).contains(&format!("inputs: 0 ingested, {FILES} skipped (unchanged)")));
    assert_eq!(visible_files(&job.path("out")), before);
}

/// Waits until the file at `path` has been replaced `k` times (each atomic write gives it a new
/// inode) or `child` has exited, watching as closely as the scheduler allows.
fn wait_for_state_writes(child: &mut std::process::Child, path: &Path, k: usize) {
    use std::os::unix::fs::MetadataExt;
    let ino = || fs::metadata(path).map(|m| m.ino()).ok();
    let mut last = ino();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen < k && Instant::now() < deadline {
        let now = ino();
        if now != last {
            seen += 1;
            last = now;
            continue;
        }
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::yield_now();
    }
}

/// Runs `cmd` with a file size limit of `bytes`: a write past it fails with EFBIG, as a full
/// disk fails a write with ENOSPC (SIGXFSZ, which would kill the process, is ignored).
fn with_file_size_limit(cmd: &mut Command, bytes: u64) {
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_failing_write_fails_the_job_clearly_and_changes_neither_state_nor_output() {
    let job = JobDir::new(3, "file_fingerprint", 100_000);
    for f in 0..3 {
        job.write_input(f, 0, 2000);
    }
    let first = job.run(&[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let state = job.state().expect("state written");
    let files = visible_files(&job.path("out"));
    let manifest = fs::read(job.path("out/_manifest.json")).unwrap();

    job.write_input(1, 1, 2000);
    let mut cmd = job.command(&[]);
    with_file_size_limit(&mut cmd, 4096);
    let out = cmd.output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // e.g. "error: cannot write /tmp/.../out/.part-<id>-00000.parquet.<pid>.tmp: File too large (os error 27)"
    let error = error_line(&stderr);
    assert!(error.starts_with("error: cannot write "), "{stderr}");
    assert!(error.contains("/out/.part-") && error.ends_with(".tmp: File too large (os error 27)"), "{stderr}");
    assert_eq!(job.state().unwrap(), state, "the state changed");
    assert_eq!(visible_files(&job.path("out")), files, "visible files changed");
    assert_eq!(fs::read(job.path("out/_manifest.json")).unwrap(), manifest, "the manifest changed");
    assert_eq!(temp_files(&job.path("out")), Vec::<String>::new());

    // Without the limit the next run ingests the changed file.
    let again = job.run(&[]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(visible_ids(&job.path("out")), expected_ids(&[0, 1, 0], 2000));
}

#[test]
fn a_read_only_output_folder_fails_the_job_clearly_and_changes_nothing() {
    let job = JobDir::new(2, "file_modified_time", 100_000);
    for f in 0..2 {
        job.write_input(f, 0, 500);
    }
    assert!(job.run(&[]).status.success());
    let state = job.state().unwrap();
    let files = visible_files(&job.path("out"));
    job.write_input(0, 1, 500);

    let out_dir = job.path("out");
    let mut cmd = job.command(&[]);
    // Root ignores permissions: run the job as `nobody` then (the folder must be readable).
    if unsafe { libc::geteuid() } == 0 {
        for p in [job.dir.path().to_path_buf(), job.path("data"), out_dir.clone()] {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    fs::set_permissions(&out_dir, fs::Permissions::from_mode(0o555)).unwrap();
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            fs::set_permissions(&out_dir, fs::Permissions::from_mode(0o755)).unwrap();
            eprintln!("skipped: running as root and cannot switch to user nobody to run the job ({e})");
            return;
        }
    };
    fs::set_permissions(&out_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let error = error_line(&stderr);
    assert!(error.starts_with("error: cannot create ") && error.contains("/out/.part-"), "{stderr}");
    assert!(error.ends_with(".tmp: Permission denied (os error 13)"), "{stderr}");
    assert_eq!(job.state().unwrap(), state);
    assert_eq!(visible_files(&out_dir), files);
}
