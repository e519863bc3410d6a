//! Dativo platform job files (tests/platform/) run as the platform runs them: `dativo run
//! --config jobs/X.yaml --mode self_hosted` from the folder that holds jobs/, connectors/ and
//! assets/, with the connector recipes' defaults merged under the job's keys.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A copy of tests/platform in a temp folder, the working directory of every run.
struct Platform {
    dir: tempfile::TempDir,
}

impl Platform {
    fn new() -> Platform {
        let dir = tempfile::tempdir().unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/platform");
        copy_tree(&source, dir.path());
        Platform { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        fs::create_dir_all(self.path(rel).parent().unwrap()).unwrap();
        fs::write(self.path(rel), text).unwrap();
    }

    /// `dativo <args>` in the platform folder, with `env` set and STATE_DIR / OUT_BASE unset.
    fn dativo(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dativo"));
        cmd.args(args).current_dir(self.dir.path()).env_remove("STATE_DIR").env_remove("OUT_BASE");
        cmd.env_remove("DATIVO_PLUGIN_DIR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn run(&self, job: &str, env: &[(&str, &str)]) -> Output {
        self.dativo(&["run", "--quiet", "--config", job, "--mode", "self_hosted"], env)
    }

    fn rows_in(&self, folder: &str) -> usize {
        let mut rows = 0;
        for entry in fs::read_dir(self.path(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "parquet") {
                let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).unwrap()).unwrap();
                rows += reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum::<usize>();
            }
        }
        rows
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "failed:\nstdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
}

#[track_caller]
fn assert_fails(out: &Output, parts: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stdout: {}\nstderr: {stderr}", text(&out.stdout));
    for part in parts {
        assert!(stderr.contains(part), "stderr lacks {part:?}:\n{stderr}");
    }
}

#[test]
fn a_platform_job_runs_with_its_connector_recipes_and_odcs_asset() {
    let p = Platform::new();
    let out = p.run("jobs/employee_to_local.yaml", &[]);
    assert_ok(&out);
    // `${OUT_BASE:-out/employee}`: the default, relative to the working directory as on the platform.
    assert_eq!(p.rows_in("out/employee"), 4);
    assert!(text(&out.stdout).contains("4 written"), "{}", text(&out.stdout));
    // The job's `native: {compression: snappy}` wins over the recipe's zstd.
    let file = fs::read_dir(p.path("out/employee"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let meta = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(file).unwrap()).unwrap().metadata().clone();
    assert_eq!(meta.row_group(0).column(0).compression(), parquet::basic::Compression::SNAPPY);

    // The variable, when set, wins over the default; `self-hosted` is accepted too.
    let out = p.dativo(
        &["run", "--quiet", "--config", "jobs/employee_to_local.yaml", "--mode", "self-hosted"],
        &[("OUT_BASE", "elsewhere")],
    );
    assert_ok(&out);
    assert_eq!(p.rows_in("elsewhere"), 4);
}

#[test]
fn recipe_options_are_checked_as_strictly_as_the_job() {
    let p = Platform::new();
    let recipe = fs::read_to_string(p.path("connectors/csv.yaml")).unwrap().replace("chunk_size:", "chunk_sise:");
    p.write("connectors/csv.yaml", &recipe);
    let out = p.run("jobs/employee_to_local.yaml", &[]);
    assert_fails(&out, &["connectors/csv.yaml", "unknown key", "chunk_sise", "did you mean 'chunk_size'"]);

    // A recipe for the wrong role.
    let p = Platform::new();
    let job = fs::read_to_string(p.path("jobs/employee_to_local.yaml")).unwrap();
    p.write(
        "jobs/wrong_role.yaml",
        &job.replace(
            "target_connector_path: connectors/local.yaml",
            "target_connector_path: connectors/local.yaml\n# x",
        )
        .replace("source_connector_path: connectors/csv.yaml", "source_connector_path: connectors/local.yaml"),
    );
    assert_fails(&p.run("jobs/wrong_role.yaml", &[]), &["connectors/local.yaml serves [target], not source"]);
}

#[test]
fn what_dativo_cannot_serve_yet_is_a_clear_error_never_ignored() {
    let p = Platform::new();
    // The platform's S3 recipe partitions by ingest_date, which dativo writes (tests/partition.rs):
    // the job gets as far as the store, which this test does not run.
    assert_fails(
        &p.run("jobs/employee_to_s3.yaml", &[]),
        &["cannot read s3://test-bucket/raw/csv/employee/_manifest.json"],
    );

    let job = fs::read_to_string(p.path("jobs/employee_to_local.yaml")).unwrap();
    // Partitioning declared in the asset.
    p.write(
        "jobs/partitioned.yaml",
        &job.replace("employee.yaml", "employee_partitioned.yaml")
            .replace("asset: csv_employee", "asset: csv_employee_partitioned"),
    );
    let out = p.run("jobs/partitioned.yaml", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The catalog block and the plugin sandbox.
    p.write("jobs/catalog.yaml", &format!("{job}\ncatalog:\n  type: openmetadata\n  connection:\n    api_url: \"${{OPENMETADATA_API_URL:-http://localhost:8585/api}}\"\n"));
    assert_fails(&p.run("jobs/catalog.yaml", &[]), &["catalog is not supported yet"]);
    p.write("jobs/sandbox.yaml", &format!("{job}\nplugins:\n  sandbox:\n    enabled: true\n"));
    assert_fails(&p.run("jobs/sandbox.yaml", &[]), &["plugins.sandbox is not supported"]);
}

#[test]
fn cloud_mode_runs_only_pinned_and_allow_listed_plugins() {
    let p = Platform::new();
    let job = fs::read_to_string(p.path("jobs/employee_to_local.yaml")).unwrap();
    let plugin = Path::new(env!("CARGO_BIN_EXE_dativo")).parent().unwrap().join("libcsv_reader_plugin.so");
    let with_plugin = job.replace(
        "      object: Employee\n",
        &format!("      object: Employee\n  custom_reader: \"{}\"\n", plugin.display()),
    );
    p.write("jobs/plugin.yaml", &with_plugin);
    let cloud =
        |env: &[(&str, &str)]| p.dativo(&["run", "--quiet", "--config", "jobs/plugin.yaml", "--mode", "cloud"], env);
    assert_fails(&cloud(&[]), &["--mode cloud runs only pinned plugins", "custom_reader_sha256"]);
    let digest = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(fs::read(&plugin).unwrap());
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let pinned =
        with_plugin.replace("  custom_reader:", &format!("  custom_reader_sha256: {digest}\n  custom_reader:"));
    p.write("jobs/plugin.yaml", &pinned);
    assert_fails(&cloud(&[]), &["--mode cloud runs only plugins from an allowed folder", "DATIVO_PLUGIN_DIR"]);
}

#[test]
fn the_platforms_state_file_is_migrated_so_switching_ingests_nothing_twice() {
    let p = Platform::new();
    let state = p.path(".local/state/test_tenant/csv.Employee.state.json");
    // The platform's record of data/employees.csv, as it writes it: local time, microseconds.
    let out = Command::new("python3")
        .args([
            "-c",
            "import datetime,os,sys; print(datetime.datetime.fromtimestamp(os.stat(sys.argv[1]).st_mtime).isoformat())",
        ])
        .arg(p.path("data/employees.csv"))
        .output()
        .unwrap();
    assert_ok(&out);
    let modified = text(&out.stdout).trim().to_string();
    let platform = format!(
        "{{\n  \"file_data/employees.csv\": {{\"last_modified\": \"{modified}\", \"file_id\": \"data/employees.csv\"}}\n}}"
    );
    p.write(".local/state/test_tenant/csv.Employee.state.json", &platform);

    let out = p.run("jobs/employee_incremental.yaml", &[]);
    assert_ok(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("0 ingested, 1 skipped"), "{stdout}");
    // dativo's own format now, the platform's original next to it.
    let now = fs::read_to_string(&state).unwrap();
    assert!(now.contains("\"version\"") && now.contains("employees.csv"), "{now}");
    let kept = p.path(".local/state/test_tenant/csv.Employee.state.json.platform.json");
    assert_eq!(fs::read_to_string(kept).unwrap(), platform);

    // A file changed since the platform's run is ingested.
    let csv = fs::read_to_string(p.path("data/employees.csv")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.write("data/employees.csv", &format!("{csv}5,Edsger Dijkstra,5000,true,\n"));
    let out = p.run("jobs/employee_incremental.yaml", &[]);
    assert_ok(&out);
    assert!(text(&out.stdout).contains("1 ingested, 0 skipped"), "{}", text(&out.stdout));
    assert_eq!(p.rows_in("out/employee_incremental"), 5);
}
