//! Jobs with native plugins, end to end through the `dativo` command line: the example plugins
//! of examples/plugins/rust (`libcsv_reader_plugin.so`, `libparquet_writer_plugin.so`) as
//! `source.custom_reader` and `target.custom_writer`, and every way loading one can go wrong.
//!
//! The plugins are separate workspace crates: `cargo build --workspace` builds them into the
//! same target folder as the `dativo` binary (the Makefile does that before `cargo test`).
#![cfg(unix)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

/// The folder of the `dativo` binary, where cargo also puts the workspace's cdylibs.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_dativo")).parent().unwrap().to_path_buf()
}

/// An example plugin library (`csv_reader` or `parquet_writer`).
fn plugin(name: &str) -> PathBuf {
    use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
    let path = target_dir().join(format!("{DLL_PREFIX}{name}_plugin{DLL_SUFFIX}"));
    assert!(
        path.is_file(),
        "{} is missing: the plugin tests need the example plugins; run `cargo build --workspace` first",
        path.display()
    );
    path
}

fn reader() -> String {
    plugin("csv_reader").display().to_string()
}

fn writer() -> String {
    plugin("parquet_writer").display().to_string()
}

/// A folder with a job file and its data: the example orders data and asset, and whatever
/// a test adds.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for file in ["orders.csv", "orders_asset.yaml", "bad_quantity.csv"] {
            fs::copy(repo.join("examples/data").join(file), dir.path().join(file)).unwrap();
        }
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write `job.yaml` and run it with `dativo <command> --quiet --config job.yaml`
    /// (`command` is split at spaces); `env` is added to an environment without
    /// DATIVO_PLUGIN_DIR.
    fn run(&self, command: &str, job: &str, env: &[(&str, &str)]) -> Output {
        let path = self.path("job.yaml");
        fs::write(&path, job).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dativo"));
        cmd.args(command.split(' ')).args(["--quiet", "--config"]).arg(&path).env_remove("DATIVO_PLUGIN_DIR");
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd.output().expect("run dativo")
    }

    fn parquet_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(self.path("out")) else { return vec![] };
        let mut files: Vec<PathBuf> =
            entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect();
        files.sort();
        files
    }

    /// Every file in the output folder, hidden ones included.
    fn output_entries(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.path("out")) else { return vec![] };
        entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }

    fn read_back(&self) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        for file in self.parquet_files() {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(fs::File::open(file).unwrap()).unwrap().build().unwrap();
            out.extend(reader.map(Result::unwrap));
        }
        out
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "dativo failed:\nstdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
}

/// The job fails (exit 1, not a crash) with an error containing every one of `parts`.
#[track_caller]
fn assert_fails_with(out: &Output, parts: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected exit 1:\nstdout: {}\nstderr: {stderr}", text(&out.stdout));
    for part in parts {
        assert!(stderr.contains(part), "stderr lacks {part:?}:\n{stderr}");
    }
    for bad in ["panicked", "internal error", "stack backtrace"] {
        assert!(!stderr.contains(bad), "stderr contains {bad:?}:\n{stderr}");
    }
}

/// The rows of orders.csv as the built-in reader reads them, with the same options.
fn orders_as_builtin_reads_them(setup: &Setup) -> Vec<Vec<String>> {
    let mut reader =
        dativo_engine::csv::CsvReader::open(&[setup.path("orders.csv")], dativo_engine::csv::CsvOptions::default())
            .unwrap();
    let batches: Vec<RecordBatch> = reader.by_ref().map(Result::unwrap).collect();
    common::rows(&batches)
}

fn sha256(path: &Path) -> String {
    let digest = Sha256::digest(fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn custom_reader_feeds_the_parquet_writer() {
    let setup = Setup::new();
    let out = setup.run(
        "run",
        &format!(
            "source:\n  type: csv\n  files: [{{path: orders.csv, id: orders}}]\n  \
             custom_reader: \"{}:dativo_plugin_init\"\ntarget:\n  output_base: out\n",
            reader()
        ),
        &[],
    );
    assert_ok(&out);
    let expected = orders_as_builtin_reads_them(&setup);
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("{} written", expected.len())), "{stdout}");
    // The plugin's input size is unknown: a rate in rows, not "input 0 B" and "0.0 MB/s".
    assert!(stdout.contains(" rows/s") && !stdout.contains("MB/s") && !stdout.contains("input 0 B"), "{stdout}");
    assert_eq!(setup.parquet_files().len(), 1);
    assert_eq!(common::rows(&setup.read_back()), expected);
    // The same manifest guarantee as a CSV job: it names exactly the files of the run.
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(setup.path("out/_manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    let named: Vec<&str> = files.iter().map(|f| f["file"].as_str().unwrap()).collect();
    let on_disk: Vec<String> =
        setup.parquet_files().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(named, on_disk);
    assert_eq!(manifest["rows"].as_u64(), Some(expected.len() as u64));
}

#[test]
fn custom_writer_writes_what_the_builtin_reader_reads() {
    let setup = Setup::new();
    let job = |writer_line: &str, out: &str| {
        format!(
            "source:\n  files: [{{path: orders.csv}}]\nasset_path: orders_asset.yaml\n\
             target:\n  type: local\n  output_base: {out}\n  engine: {{options: {{compression: zstd}}}}\n{writer_line}"
        )
    };
    let builtin = setup.run("run", &job("", "builtin"), &[]);
    assert_ok(&builtin);
    let out = setup.run("run", &job(&format!("  custom_writer: {}\n", writer()), "out"), &[]);
    assert_ok(&out);
    let files = setup.parquet_files();
    assert_eq!(files.iter().map(|f| f.file_name().unwrap().to_owned()).collect::<Vec<_>>(), ["part-00000.parquet"]);
    assert!(text(&out.stdout).contains(&files[0].display().to_string()), "{}", text(&out.stdout));

    let mine = setup.read_back();
    let theirs: Vec<RecordBatch> = {
        let file = fs::File::open(setup.path("builtin/part-00000.parquet")).unwrap();
        ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(mine[0].schema(), theirs[0].schema(), "the asset's schema, required columns non-nullable");
    assert_eq!(
        mine[0].schema().field_with_name("ordered_at").unwrap().data_type(),
        &dativo_engine::schema::timestamp_type()
    );
    assert_eq!(common::rows(&mine), common::rows(&theirs));
    assert!(!common::rows(&mine).is_empty());
}

#[test]
fn both_plugins_with_an_asset_cast_the_plugin_types_to_the_asset() {
    let setup = Setup::new();
    // The reader plugin infers every column as integer; the asset wants integer, double, string.
    fs::write(setup.path("scores.csv"), "id,score,code\n1,7,10\n2,8,20\n3,9,30\n").unwrap();
    fs::write(
        setup.path("scores.yaml"),
        "asset:\n  name: scores\n  schema:\n    - {name: id, type: integer, required: true}\n    \
         - {name: score, type: double}\n    - {name: code, type: string}\n",
    )
    .unwrap();
    let job = format!(
        "source:\n  files: [{{path: scores.csv}}]\n  custom_reader: {}\n  engine: {{options: {{batch_size: 2}}}}\n\
         asset_path: scores.yaml\ntarget:\n  output_base: out\n  custom_writer: {}\n",
        reader(),
        writer()
    );
    let out = setup.run("run", &job, &[]);
    assert_ok(&out);
    let batches = setup.read_back();
    let schema = batches[0].schema();
    let types: Vec<(&str, &DataType, bool)> =
        schema.fields().iter().map(|f| (f.name().as_str(), f.data_type(), f.is_nullable())).collect();
    assert_eq!(
        types,
        [("id", &DataType::Int64, false), ("score", &DataType::Float64, true), ("code", &DataType::Utf8, true)]
    );
    assert_eq!(
        common::rows(&batches),
        [common::v(&["1", "7", "10"]), common::v(&["2", "8", "20"]), common::v(&["3", "9", "30"])]
    );
}

#[test]
fn a_plugin_value_that_does_not_fit_the_asset_fails_the_job() {
    let setup = Setup::new();
    fs::write(
        setup.path("asset.yaml"),
        "asset:\n  name: q\n  schema:\n    - {name: order_id, type: integer}\n    - {name: quantity, type: integer}\n",
    )
    .unwrap();
    // The reader plugin infers quantity as text ("two" on line 5); the asset says integer.
    let job = format!(
        "source:\n  files: [{{path: bad_quantity.csv}}]\n  custom_reader: {}\nasset_path: asset.yaml\n\
         target:\n  output_base: out\n",
        reader()
    );
    let out = setup.run("run", &job, &[]);
    assert_fails_with(&out, &["quantity", "two"]);
    assert!(setup.parquet_files().is_empty(), "{:?}", setup.output_entries());
}

#[test]
fn a_bad_value_mid_stream_fails_the_job_with_file_and_line_and_leaves_no_parquet() {
    for with_writer in [false, true] {
        let setup = Setup::new();
        let writer_line = if with_writer { format!("  custom_writer: {}\n", writer()) } else { String::new() };
        // batch_size 2: the first batch (lines 2-3) is good and reaches the writer first.
        let job = format!(
            "source:\n  files: [{{path: bad_quantity.csv}}]\n  custom_reader: {}\n  engine:\n    options:\n      \
             column_types: {{quantity: integer}}\n      batch_size: 2\ntarget:\n  output_base: out\n{writer_line}",
            reader()
        );
        let out = setup.run("run", &job, &[]);
        assert_fails_with(&out, &["bad_quantity.csv:5", "quantity", "\"two\"", "plugin 'csv_reader'"]);
        assert!(setup.parquet_files().is_empty(), "with_writer {with_writer}: {:?}", setup.output_entries());
        assert!(
            setup.output_entries().iter().all(|e| !e.contains("part-")),
            "no temp files either: {:?}",
            setup.output_entries()
        );
    }
}

#[test]
fn check_data_reads_through_a_reader_plugin_and_writes_nothing() {
    let setup = Setup::new();
    let job = format!(
        "source:\n  files: [{{path: orders.csv}}]\n  custom_reader: {}\ntarget:\n  output_base: out\n  custom_writer: {}\n",
        reader(),
        writer()
    );
    let out = setup.run("check --data", &job, &[]);
    assert_ok(&out);
    let rows = orders_as_builtin_reads_them(&setup).len();
    assert!(text(&out.stdout).contains(&format!("rows: {rows} read")), "{}", text(&out.stdout));
    assert!(setup.output_entries().is_empty(), "{:?}", setup.output_entries());
}

/// A copy of the reader plugin without its debug information in `dir`: the same code, but
/// small enough for a debug build of dativo to hash quickly (the unstripped debug library is
/// over 200 MB). The original when `strip` is not installed.
fn small_reader_copy(dir: &Path) -> PathBuf {
    let copy = dir.join(plugin("csv_reader").file_name().unwrap());
    fs::copy(plugin("csv_reader"), &copy).unwrap();
    let _ = Command::new("strip").arg("--strip-all").arg(&copy).status();
    copy
}

#[test]
fn a_pinned_sha256_must_match_the_library() {
    let setup = Setup::new();
    let library = small_reader_copy(setup.dir.path());
    let job = |hash: &str| {
        format!(
            "source:\n  files: [{{path: orders.csv}}]\n  custom_reader: {}\n  custom_reader_sha256: \"{hash}\"\n\
             target:\n  output_base: out\n",
            library.display()
        )
    };
    let right = sha256(&library);
    assert_ok(&setup.run("run", &job(&right.to_uppercase()), &[]));
    assert_eq!(setup.parquet_files().len(), 1);

    // One digit changed.
    let wrong = format!("{}{}", if right.starts_with('0') { '1' } else { '0' }, &right[1..]);
    fs::remove_dir_all(setup.path("out")).unwrap();
    let out = setup.run("run", &job(&wrong), &[]);
    assert_fails_with(&out, &[&format!("its sha256 is {right}"), &format!("the job pins {wrong}")]);
    assert!(setup.parquet_files().is_empty());
}

#[test]
fn the_plugin_dir_allow_list_admits_only_libraries_inside_it() {
    let job = format!(
        "source:\n  files: [{{path: orders.csv}}]\n  custom_reader: {}\ntarget:\n  output_base: out\n",
        reader()
    );
    let inside = target_dir().display().to_string();
    let setup = Setup::new();
    assert_ok(&setup.run("run", &job, &[("DATIVO_PLUGIN_DIR", &inside)]));
    assert_eq!(setup.parquet_files().len(), 1);

    let setup = Setup::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = setup.run("run", &job, &[("DATIVO_PLUGIN_DIR", &elsewhere.path().display().to_string())]);
    let file_name = plugin("csv_reader").file_name().unwrap().to_string_lossy().into_owned();
    assert_fails_with(&out, &["outside the allowed plugin folder", &file_name]);
    assert!(setup.parquet_files().is_empty());

    // A symbolic link inside the allowed folder to a library outside it does not get in.
    let link = elsewhere.path().join(&file_name);
    std::os::unix::fs::symlink(plugin("csv_reader"), &link).unwrap();
    let linked = job.replace(&reader(), &link.display().to_string());
    let out = setup.run("run", &linked, &[("DATIVO_PLUGIN_DIR", &elsewhere.path().display().to_string())]);
    assert_fails_with(&out, &["outside the allowed plugin folder"]);
}

#[test]
fn a_missing_library_is_a_clear_error() {
    let setup = Setup::new();
    let missing = setup.path("plugins/libnope.so");
    let out = setup.run(
        "run",
        &format!(
            "source:\n  files: [{{path: orders.csv}}]\n  custom_reader: {}\ntarget:\n  output_base: out\n",
            missing.display()
        ),
        &[],
    );
    assert_fails_with(&out, &["libnope.so", "cannot open the library"]);
}

#[test]
fn a_missing_symbol_is_a_clear_error() {
    let setup = Setup::new();
    let out = setup.run(
        "run",
        &format!(
            "source:\n  files: [{{path: orders.csv}}]\n  custom_reader: \"{}:nope\"\ntarget:\n  output_base: out\n",
            reader()
        ),
        &[],
    );
    assert_fails_with(&out, &["exports no symbol 'nope'"]);
    assert!(setup.parquet_files().is_empty());
}

#[test]
fn a_reader_given_as_custom_writer_is_refused() {
    let setup = Setup::new();
    let out = setup.run(
        "run",
        &format!(
            "source:\n  files: [{{path: orders.csv}}]\ntarget:\n  output_base: out\n  custom_writer: {}\n",
            reader()
        ),
        &[],
    );
    assert_fails_with(&out, &["target.custom_writer", "plugin 'csv_reader'", "is a reader, not a writer"]);
    assert!(setup.parquet_files().is_empty());

    let out = setup.run(
        "run",
        &format!(
            "source:\n  files: [{{path: orders.csv}}]\n  custom_reader: {}\ntarget:\n  output_base: out\n",
            writer()
        ),
        &[],
    );
    assert_fails_with(&out, &["source.custom_reader", "plugin 'parquet_writer'", "is a writer, not a reader"]);
}

#[test]
fn plugin_info_describes_each_plugin_and_check_loads_them() {
    let info = |spec: &str| {
        Command::new(env!("CARGO_BIN_EXE_dativo"))
            .args(["plugin", "info", spec])
            .env_remove("DATIVO_PLUGIN_DIR")
            .output()
            .unwrap()
    };
    let out = info(&reader());
    assert_ok(&out);
    let stdout = text(&out.stdout);
    for line in ["name: csv_reader\n", "kind: reader\n", "abi_version: 1\n", "symbol: dativo_plugin_init\n"] {
        assert!(stdout.contains(line), "{stdout}");
    }
    let out = info(&format!("{}:dativo_plugin_init", writer()));
    assert_ok(&out);
    assert!(text(&out.stdout).contains("kind: writer\n"), "{}", text(&out.stdout));
    assert_fails_with(&info(&format!("{}:nope", writer())), &["exports no symbol 'nope'"]);

    let setup = Setup::new();
    let out = setup.run(
        "check",
        &format!(
            "source:\n  files: [{{path: orders.csv}}]\n  custom_reader: {}\ntarget:\n  output_base: out\n  custom_writer: {}\n",
            reader(),
            writer()
        ),
        &[],
    );
    assert_ok(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ok: custom reader "), "{stdout}");
    assert!(stdout.contains("ok: source.custom_reader ") && stdout.contains("plugin 'csv_reader'"), "{stdout}");
    assert!(stdout.contains("ok: target.custom_writer ") && stdout.contains("plugin 'parquet_writer'"), "{stdout}");
}

#[test]
fn a_truncated_empty_or_foreign_library_is_an_error_naming_it_never_a_crash() {
    // The first 4 KiB of a real library used to kill the host with SIGBUS (exit 135).
    let setup = Setup::new();
    let whole = fs::read(plugin("csv_reader")).unwrap();
    let truncated = setup.path("libtruncated.so");
    fs::write(&truncated, &whole[..4096]).unwrap();
    let empty = setup.path("libempty.so");
    fs::write(&empty, b"").unwrap();
    let text_file = setup.path("libtext.so");
    fs::write(&text_file, b"#!/bin/sh\necho not a library\n").unwrap();
    let cases = [
        (&truncated, "the library is truncated or corrupt: its segment #"),
        (&empty, "not a loadable library: the file is empty"),
        (&text_file, "not an ELF shared library: it does not start with the ELF magic 7f 45 4c 46 but with \"#!/b"),
    ];
    for (library, why) in cases {
        let name = library.display().to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_dativo"))
            .args(["plugin", "info", &name])
            .env_remove("DATIVO_PLUGIN_DIR")
            .output()
            .unwrap();
        assert_fails_with(&out, &[&format!("error: plugin {name}: {why}")]);
        for command in ["run", "check"] {
            let job = format!(
                "source:\n  files: [{{path: orders.csv}}]\n  custom_reader: {name}\ntarget:\n  output_base: out\n"
            );
            assert_fails_with(&setup.run(command, &job, &[]), &[&format!("plugin {name}: {why}")]);
            let job = format!(
                "source:\n  files: [{{path: orders.csv}}]\ntarget:\n  output_base: out\n  custom_writer: {name}\n"
            );
            assert_fails_with(&setup.run(command, &job, &[]), &[&format!("plugin {name}: {why}")]);
        }
    }
    assert!(setup.parquet_files().is_empty());
    // libc cut at 4 KiB too: a library the loader may already have mapped.
    if let Some(libc) = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
    {
        let cut = setup.path("libc-cut.so.6");
        fs::write(&cut, &fs::read(libc).unwrap()[..4096]).unwrap();
        let name = cut.display().to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_dativo"))
            .args(["plugin", "info", &name])
            .env_remove("DATIVO_PLUGIN_DIR")
            .output()
            .unwrap();
        assert_fails_with(&out, &[&format!("plugin {name}: the library is truncated or corrupt")]);
    }
}

#[test]
fn an_empty_plugin_dir_variable_is_an_error_naming_it() {
    // `DATIVO_PLUGIN_DIR=$UNSET_VAR` used to turn the allow-list off.
    let expected = "DATIVO_PLUGIN_DIR is set but empty: unset it or give a folder";
    let setup = Setup::new();
    let reader_job = format!(
        "source:\n  files: [{{path: orders.csv}}]\n  custom_reader: {}\ntarget:\n  output_base: out\n",
        reader()
    );
    let writer_job = format!(
        "source:\n  files: [{{path: orders.csv}}]\ntarget:\n  output_base: out\n  custom_writer: {}\n",
        writer()
    );
    for empty in ["", "   "] {
        for command in ["run", "check", "check --data"] {
            for job in [&reader_job, &writer_job] {
                assert_fails_with(&setup.run(command, job, &[("DATIVO_PLUGIN_DIR", empty)]), &[expected]);
            }
        }
        let out = Command::new(env!("CARGO_BIN_EXE_dativo"))
            .args(["plugin", "info", &reader()])
            .env("DATIVO_PLUGIN_DIR", empty)
            .output()
            .unwrap();
        assert_fails_with(&out, &[expected]);
    }
    assert!(setup.parquet_files().is_empty());
    // A job without plugins does not care.
    let plain = "source:\n  files: [{path: orders.csv}]\ntarget:\n  output_base: out\n";
    assert_ok(&setup.run("run", plain, &[("DATIVO_PLUGIN_DIR", "")]));
}

// ------------------------------------------------------------------------------------------
// The legacy Dativo JSON ABI: the platform's specs, a third-party legacy plugin, and
// symbols that are no plugin entry at all.
// ------------------------------------------------------------------------------------------

/// `dativo plugin info SPEC`.
fn plugin_info(spec: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dativo"))
        .args(["plugin", "info", spec])
        .env_remove("DATIVO_PLUGIN_DIR")
        .output()
        .unwrap()
}

#[test]
fn the_platform_specs_create_reader_and_create_writer_run_through_the_legacy_adapter() {
    let setup = Setup::new();
    let job = format!(
        "source:\n  type: csv\n  custom_reader: \"{}:create_reader\"\n  files: [{{path: orders.csv, id: orders}}]\n  \
         engine: {{options: {{batch_size: 4, delimiter: \",\"}}}}\nasset_path: orders_asset.yaml\ntarget:\n  \
         output_base: out\n  custom_writer: \"{}:create_writer\"\n  engine: {{options: {{compression: zstd}}}}\n",
        reader(),
        writer()
    );
    let out = setup.run("run", &job, &[]);
    assert_ok(&out);
    let batches = setup.read_back();
    // Typed by the asset: the reader's text values were converted by the adapter, the
    // writer's records by the writer plugin.
    let schema = batches[0].schema();
    assert_eq!(schema.field_with_name("order_id").unwrap().data_type(), &DataType::Int64);
    assert_eq!(schema.field_with_name("amount").unwrap().data_type(), &DataType::Float64);
    assert_eq!(schema.field_with_name("paid").unwrap().data_type(), &DataType::Boolean);
    assert!(matches!(schema.field_with_name("ordered_at").unwrap().data_type(), DataType::Timestamp(_, _)));
    assert_eq!(common::rows(&batches).len(), orders_as_builtin_reads_them(&setup).len());
    // One file per write_batch call, numbered by the files reported so far.
    let names: Vec<String> = setup.output_entries();
    assert!(
        names.iter().any(|n| n == "part-00000.parquet") && names.iter().any(|n| n == "part-00007.parquet"),
        "{names:?}"
    );

    for (spec, kind) in
        [(format!("{}:create_reader", reader()), "reader"), (format!("{}:create_writer", writer()), "writer")]
    {
        let out = plugin_info(&spec);
        assert_ok(&out);
        let stdout = text(&out.stdout);
        assert!(stdout.contains(&format!("kind: {kind}\n")), "{stdout}");
        assert!(stdout.contains("abi_version: 0 (legacy Dativo JSON ABI)\n"), "{stdout}");
        assert!(stdout.contains(&format!("symbol: create_{kind}\n")), "{stdout}");
    }
}

#[test]
fn the_rust_plugin_example_job_runs_with_the_platform_specs() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let job = repo.join("examples/jobs/rust_plugin_example.yaml");
    let text_of_job = fs::read_to_string(&job).unwrap();
    assert!(text_of_job.contains("libcsv_reader_plugin.so:create_reader"));
    assert!(text_of_job.contains("libparquet_writer_plugin.so:create_writer"));
    // The job names ../../target/debug/...: run a copy pointing at this build's plugins,
    // writing into a temporary folder.
    let setup = Setup::new();
    let copy = text_of_job
        .replace("../../target/debug/libcsv_reader_plugin.so", &reader())
        .replace("../../target/debug/libparquet_writer_plugin.so", &writer())
        .replace("../data/", "")
        .replace("../../out/rust_plugin_example", "out");
    let out = setup.run("run", &copy, &[]);
    assert_ok(&out);
    assert_eq!(common::rows(&setup.read_back()).len(), orders_as_builtin_reads_them(&setup).len());
}

#[test]
fn a_legacy_reader_error_fails_the_job_with_its_message_and_is_not_the_end_of_the_data() {
    let setup = Setup::new();
    let job = format!(
        "source:\n  custom_reader: \"{}:create_reader\"\n  files: [{{path: bad_quantity.csv}}]\n  \
         engine: {{options: {{batch_size: 2, column_types: {{quantity: integer}}}}}}\ntarget:\n  output_base: out\n",
        reader()
    );
    let out = setup.run("run", &job, &[]);
    assert_fails_with(&out, &["plugin 'csv_reader_plugin'", "bad_quantity.csv:5", "quantity", "\"two\""]);
    assert!(setup.parquet_files().is_empty());

    // A missing file: create_reader's own reason.
    let job = format!(
        "source:\n  custom_reader: \"{}:create_reader\"\n  files: [{{path: missing.csv}}]\ntarget:\n  output_base: out\n",
        reader()
    );
    assert_fails_with(&setup.run("run", &job, &[]), &["plugin 'csv_reader_plugin'", "missing.csv"]);
}

/// Build tests/legacy_plugin/third_party.c into `dir` with cc.
fn third_party_plugin(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/legacy_plugin/third_party.c");
    let library = dir.join("libthird_party.so");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .status()
        .expect("a C compiler (cc) builds the third-party legacy plugin");
    assert!(status.success(), "cc failed on {}", source.display());
    library
}

#[test]
fn a_third_party_legacy_plugin_reads_and_writes_through_the_adapter() {
    let setup = Setup::new();
    let library = third_party_plugin(setup.dir.path());
    // Reader, no asset: types inferred from the JSON values (int, string, double, boolean).
    let job = format!(
        "source:\n  custom_reader: \"{}:create_reader\"\n  connection: {{rows: 5}}\ntarget:\n  output_base: out\n",
        library.display()
    );
    let out = setup.run("run", &job, &[]);
    assert_ok(&out);
    let batches = setup.read_back();
    let schema = batches[0].schema();
    let types: Vec<(&str, &DataType)> = schema.fields().iter().map(|f| (f.name().as_str(), f.data_type())).collect();
    assert_eq!(
        types,
        [
            ("id", &DataType::Int64),
            ("name", &DataType::Utf8),
            ("score", &DataType::Float64),
            ("active", &DataType::Boolean)
        ]
    );
    assert_eq!(common::rows(&batches).len(), 5);

    // An error said only on stderr, with NULL: the job fails with it (not 2 rows and success).
    fs::remove_dir_all(setup.path("out")).unwrap();
    let job = format!(
        "source:\n  custom_reader: \"{}:create_reader\"\n  connection: {{rows: 5, fail_at: 3}}\ntarget:\n  \
         output_base: out\n",
        library.display()
    );
    let out = setup.run("run", &job, &[]);
    assert_fails_with(&out, &["plugin 'third_party'", "record 3 is corrupt"]);
    assert!(setup.parquet_files().is_empty());
    let job = format!(
        "source:\n  custom_reader: \"{}:create_reader\"\n  connection: {{mode: broken}}\ntarget:\n  output_base: out\n",
        library.display()
    );
    assert_fails_with(&setup.run("run", &job, &[]), &["create_reader failed", "broken config"]);

    // Writer: the built-in reader's rows as records JSON, one write_batch per batch.
    let job = format!(
        "source:\n  files: [{{path: orders.csv}}]\nasset_path: orders_asset.yaml\ntarget:\n  output_base: out\n  \
         custom_writer: \"{}:create_writer\"\n",
        library.display()
    );
    let out = setup.run("run", &job, &[]);
    assert_ok(&out);
    let lines = fs::read_to_string(setup.path("out/records.jsonl")).unwrap();
    let mut records = 0;
    for line in lines.lines() {
        let request: serde_json::Value = serde_json::from_str(line).unwrap();
        let batch = request["records"].as_array().unwrap();
        records += batch.len();
        assert_eq!(batch[0]["order_id"], 1001);
        assert_eq!(batch[0]["paid"], true);
        assert_eq!(batch[0]["ordered_at"], "2024-03-01T09:14:05Z");
        assert!(request["file_counter"].is_u64());
    }
    assert_eq!(records, orders_as_builtin_reads_them(&setup).len());

    // Both legacy sets and no symbol named: which one is meant cannot be told.
    assert_fails_with(&plugin_info(&library.display().to_string()), &["both a reader and a writer"]);
}

/// The C library this test process runs on (glibc), by path.
fn libc_path() -> Option<String> {
    let maps = fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().filter_map(|l| l.split_whitespace().nth(5)).find(|p| p.contains("/libc.so")).map(str::to_string)
}

#[test]
fn libc_puts_is_a_clear_error_not_a_crash() {
    let Some(libc) = libc_path() else { return };
    let out = plugin_info(&format!("{libc}:puts"));
    assert_fails_with(
        &out,
        &[
            "'puts' is not a dativo plugin entry, so it is not called",
            "dativo_plugin_abi_puts",
            "legacy Dativo functions: none",
        ],
    );
    // In a job too, and by its bare name (which is no file here).
    let setup = Setup::new();
    let job = format!("source:\n  custom_reader: \"{libc}:puts\"\ntarget:\n  output_base: out\n");
    assert_fails_with(&setup.run("run", &job, &[]), &["'puts' is not a dativo plugin entry"]);
    assert_fails_with(&plugin_info("libc.so.6:puts"), &["libc.so.6", "cannot open the library"]);
    // A new-ABI name without its tag is not called either.
    assert_fails_with(&plugin_info(&format!("{libc}:abort")), &["'abort' is not a dativo plugin entry"]);
}

#[test]
fn a_file_that_is_not_elf_is_a_clear_error() {
    let setup = Setup::new();
    let fake = setup.path("libfake.so");
    fs::write(&fake, "#!/bin/sh\necho not a library\n").unwrap();
    let out = plugin_info(&format!("{}:create_reader", fake.display()));
    assert_fails_with(&out, &["libfake.so", "not an ELF shared library", "#!/b"]);
}

#[test]
fn the_c_api_loads_a_legacy_spec_and_streams_its_batches() {
    use dativo::plugin::{
        dativo_plugin_abi_version, dativo_plugin_free, dativo_plugin_kind, dativo_plugin_load,
        dativo_plugin_open_reader,
    };
    use std::ffi::CString;
    let setup = Setup::new();
    let spec = CString::new(format!("{}:create_reader", reader())).unwrap();
    let config = CString::new(
        serde_json::json!({"files": [{"path": setup.path("orders.csv").display().to_string()}]}).to_string(),
    )
    .unwrap();
    unsafe {
        let mut plugin = std::ptr::null_mut();
        let mut error = dativo::DativoError::default();
        assert_eq!(
            dativo_plugin_load(spec.as_ptr(), std::ptr::null(), &mut plugin, &mut error),
            dativo::DATIVO_STATUS_OK
        );
        assert_eq!(dativo_plugin_abi_version(plugin), 0);
        assert_eq!(dativo_plugin_kind(plugin), dativo::plugin_abi::DATIVO_PLUGIN_READER);
        let mut stream = dativo::ArrowArrayStream::empty();
        assert_eq!(
            dativo_plugin_open_reader(plugin, config.as_ptr(), &mut stream, &mut error),
            dativo::DATIVO_STATUS_OK
        );
        let mut imported = dativo::stream::ImportedStream::take(&mut stream, "stream").unwrap();
        let mut batches = Vec::new();
        while let Some(batch) = imported.next_batch() {
            batches.push(batch.unwrap());
        }
        // No asset here: the plugin's values are text, so the columns are strings.
        assert_eq!(batches[0].schema().field_with_name("order_id").unwrap().data_type(), &DataType::Utf8);
        assert_eq!(common::rows(&batches).len(), orders_as_builtin_reads_them(&setup).len());
        dativo_plugin_free(plugin);

        let puts = CString::new(format!("{}:puts", libc_path().unwrap_or_else(|| "/lib/libc.so.6".into()))).unwrap();
        let mut plugin = std::ptr::null_mut();
        let mut error = dativo::DativoError::default();
        assert_ne!(
            dativo_plugin_load(puts.as_ptr(), std::ptr::null(), &mut plugin, &mut error),
            dativo::DATIVO_STATUS_OK
        );
        assert!(plugin.is_null());
        let message = std::ffi::CStr::from_ptr(error.message).to_string_lossy().into_owned();
        assert!(message.contains("'puts'") || message.contains("cannot open"), "{message}");
        (error.release.unwrap())(&mut error);
    }
}

/// `dativo plugin test SPEC ARGS`, outside any plugin folder.
fn plugin_test(spec: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dativo"))
        .args(["plugin", "test", spec])
        .args(args)
        .env_remove("DATIVO_PLUGIN_DIR")
        .output()
        .unwrap()
}

/// `dativo plugin test` with `args`; its stdout after checking that it passed.
#[track_caller]
fn conformance(spec: &str, args: &[&str]) -> String {
    let out = plugin_test(spec, args);
    assert_ok(&out);
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("FAIL"), "{stdout}");
    stdout
}

#[test]
fn the_example_plugins_pass_the_conformance_suite() {
    let setup = Setup::new();
    let files = |name: &str| format!(r#"{{"files": [{{"path": "{}"}}]}}"#, setup.path(name).display());
    let stdout = conformance(&reader(), &["--config", &files("orders.csv"), "--bad-config", &files("missing.csv")]);
    assert!(stdout.ends_with("20 passed, 0 failed, 4 skipped\n"), "{stdout}");
    for line in ["PASS  reader.batches ", "PASS  reader.error ", "SKIP  writer.small_stream "] {
        assert!(stdout.contains(line), "{line:?}:\n{stdout}");
    }

    let stdout = conformance(&format!("{}:dativo_plugin_init", writer()), &[]);
    assert!(stdout.ends_with("16 passed, 0 failed, 8 skipped\n"), "{stdout}");
    assert!(stdout.contains("PASS  writer.stream_error "), "{stdout}");
}

/// The C example plugin, compiled here with the system C compiler as CMake builds it
/// (ctest runs the same suite on CMake's build).
#[test]
fn the_c_example_plugin_passes_the_conformance_suite() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("libnumbers_reader_plugin.so");
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(&compiler)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fPIC", "-shared", "-fvisibility=hidden"])
        .arg("-I")
        .arg(repo.join("include"))
        .arg(repo.join("examples/plugins/c/numbers_reader.c"))
        .arg("-o")
        .arg(&library)
        .status()
        .unwrap_or_else(|e| panic!("{compiler}: {e}: the C plugin test needs a C compiler (cc, or $CC)"));
    assert!(built.success(), "{compiler} failed to build the C example plugin");
    let stdout = conformance(
        &library.display().to_string(),
        &["--config", r#"{"rows": 2500}"#, "--bad-config", r#"{"rows": 2500, "fail_at": 1500}"#],
    );
    assert!(stdout.ends_with("20 passed, 0 failed, 4 skipped\n"), "{stdout}");
    assert!(stdout.contains("3 batch(es), 2500 row(s)"), "{stdout}");
}

#[test]
fn the_conformance_suite_loads_through_the_hosts_checks() {
    // A legacy spec: nothing of the new ABI to check, said as such, and nothing is called.
    let stdout = conformance(&format!("{}:create_reader", reader()), &[]);
    assert!(
        stdout.contains("SKIP  library.opens                 legacy JSON ABI plugin: the conformance suite checks the new ABI; 'create_reader' is the create function of a legacy Dativo reader plugin"),
        "{stdout}"
    );
    assert!(stdout.ends_with("0 passed, 0 failed, 24 skipped\n"), "{stdout}");
    // A function without its tag is never called as an entry, also not by the suite.
    let Some(libc) = libc_path() else { return };
    let out = plugin_test(&format!("{libc}:puts"), &[]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAIL  library.opens ") && stdout.contains("'puts' is not a dativo plugin entry"),
        "{stdout}"
    );
    assert_fails_with(&out, &["1 of 24 conformance checks failed"]);
}

#[test]
fn plugin_test_fails_when_a_check_fails() {
    // No config: the reader cannot open, so the reader checks fail and the exit code says so.
    let out = plugin_test(&reader(), &[]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAIL  reader.open ") && stdout.contains("give the plugin's config with --config"),
        "{stdout}"
    );
    assert_fails_with(&out, &["conformance checks failed"]);
    let out = plugin_test(&reader(), &["--config", "{files"]);
    assert_fails_with(&out, &["--config is not valid JSON"]);
}
