//! Job loading: every key, defaults, error messages, `${VAR}`, redaction, paths.

use std::fs;
use std::path::{Path, PathBuf};

use arrow_schema::DataType;

use super::*;
use crate::csv::Encoding;
use crate::csv::OnError;
use crate::parquet::{Compression, WriteMode};

/// A job folder with `data/a.csv`, `data/b.csv` and `assets/users.yaml`.
struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new() -> Folder {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("data")).unwrap();
        fs::create_dir_all(dir.path().join("assets")).unwrap();
        fs::write(dir.path().join("data/a.csv"), "id,email\n1,a@x\n").unwrap();
        fs::write(dir.path().join("data/b.csv"), "id,email\n2,b@x\n").unwrap();
        fs::write(
            dir.path().join("assets/users.yaml"),
            "asset:\n  name: users\n  version: '1'\n  schema:\n    - {name: id, type: bigint, required: true}\n    - {name: email, type: string}\n",
        )
        .unwrap();
        Folder { dir }
    }

    fn job_path(&self) -> PathBuf {
        self.dir.path().join("job.yaml")
    }

    fn load(&self, text: &str) -> Result<Job> {
        self.load_with(text, |_| None)
    }

    fn load_with(&self, text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Job> {
        Job::from_text(text, &self.job_path(), env)
    }

    fn err(&self, text: &str) -> String {
        let e = self.load(text).unwrap_err();
        assert!(matches!(e, Error::Config(_) | Error::Schema(_) | Error::Io { .. }), "{e:?}");
        let m = e.to_string();
        let label = self.job_path().display().to_string();
        m.strip_prefix(&format!("{label}: ")).map(str::to_string).unwrap_or(m)
    }
}

const MINIMAL: &str = "source:\n  files:\n    - path: data/a.csv\ntarget:\n  output_base: out\n";

#[test]
fn minimal_job_and_defaults() {
    let f = Folder::new();
    let job = f.load(MINIMAL).unwrap();
    assert_eq!(job.path, f.job_path());
    assert_eq!(
        job.inputs,
        [InputFile {
            path: f.dir.path().join("data/a.csv"),
            id: None,
            platform_key: "data/a.csv".into(),
            object: None
        }]
    );
    assert_eq!(job.output_dir, f.dir.path().join("out"));
    assert!(job.asset.is_none() && job.asset_name.is_none() && job.tenant_id.is_none());
    assert_eq!(job.mode, ValidationMode::Strict);
    assert_eq!(job.log_level, log::LevelFilter::Info);
    let d = CsvOptions::default();
    assert_eq!(
        (job.csv.delimiter, job.csv.quote, job.csv.escape, job.csv.has_header),
        (d.delimiter, d.quote, d.escape, d.has_header)
    );
    assert_eq!(job.csv.on_error, OnError::Fail);
    assert_eq!(job.csv.rejects_path, None);
    assert!(job.csv.column_types.is_empty());
    assert_eq!(job.parquet.compression, Compression::Snappy);
    assert_eq!(job.parquet.write_mode, WriteMode::Overwrite);
    assert_eq!(job.parquet.max_bytes_per_file, None);
    assert!(job.parquet.statistics);
    assert!(job.parquet.adaptive_compression);
}

#[test]
fn every_key() {
    let f = Folder::new();
    let text = r##"
tenant_id: acme
environment: 42
asset_path: assets/users.yaml
asset: users
schema_validation_mode: warn
logging: {level: DEBUG, redaction: true}
finops: {cost_center: c1, tags: [x]}
classification_overrides: {email: pii}
governance_overrides: {owner: me}
retry_config: {max_retries: 3}
infrastructure: {provider: aws}
source:
  type: csv
  description: users export
  files:
    - {path: data/a.csv, id: users_a}
    - {path: data/b.csv, object: users_b}
  engine:
    type: native
    options:
      delimiter: ";"
      quote: "'"
      escape: "\\"
      header: false
      column_names: [id, email]
      comment: "#"
      null_values: ["", "NULL", "n/a"]
      skip_rows: 2
      batch_size: 1000
      infer_sample_rows: 50
      encoding: utf-16-le
      on_error: reject
      rejects_path: bad/rows.csv
      max_rejects: 10
      max_line_bytes: 4096
      threads: 3
target:
  type: local
  description: lake
  output_base: /tmp/dativo-out
  file_format: parquet
  parquet_target_size_mb: 0.5
  engine:
    type: arrow
    options:
      compression: zstd
      compression_level: 7
      row_group_size: 5000
      max_rows_per_file: 100000
      statistics: false
      adaptive_compression: false
      write_mode: append
      threads: 1
"##;
    let job = f.load(text).unwrap();
    assert_eq!(job.tenant_id.as_deref(), Some("acme"));
    assert_eq!(job.environment.as_deref(), Some("42"));
    assert_eq!(job.asset_name.as_deref(), Some("users"));
    let asset = job.asset.as_ref().unwrap();
    assert_eq!(asset.fields.len(), 2);
    assert_eq!(asset.fields[0].data_type, DataType::Int64);
    assert_eq!(job.mode, ValidationMode::Warn);
    assert_eq!(job.log_level, log::LevelFilter::Debug);
    assert_eq!(job.inputs[0].id.as_deref(), Some("users_a"));
    assert_eq!(job.inputs[1].id.as_deref(), Some("users_b"));
    assert_eq!(job.inputs[1].path, f.dir.path().join("data/b.csv"));
    let c = &job.csv;
    assert_eq!(c.delimiter.as_deref(), Some(&b";"[..]));
    assert_eq!(c.quote, Some(Some(b'\'')));
    assert_eq!(c.escape, Some(Some(b'\\')));
    assert_eq!(c.has_header, Some(false));
    assert_eq!(c.column_names.as_deref(), Some(&["id".to_string(), "email".to_string()][..]));
    assert_eq!(c.comment, Some(b'#'));
    assert_eq!(c.null_values, ["", "NULL", "n/a"]);
    assert_eq!((c.skip_rows, c.batch_size, c.infer_sample_rows), (2, 1000, 50));
    assert_eq!(c.encoding, Encoding::Utf16Le);
    assert_eq!(c.on_error, OnError::Reject);
    assert_eq!(c.rejects_path.as_deref(), Some(f.dir.path().join("bad/rows.csv").as_path()));
    assert_eq!(c.max_rejects, Some(10));
    assert_eq!((c.max_line_bytes, c.threads), (4096, 3));
    let p = &job.parquet;
    assert_eq!(job.output_dir, Path::new("/tmp/dativo-out"));
    assert_eq!(p.compression, Compression::Zstd(7));
    assert_eq!(p.row_group_size, 5000);
    assert_eq!(p.max_rows_per_file, Some(100_000));
    assert_eq!(p.threads, 1);
    assert_eq!(p.max_bytes_per_file, Some(512 * 1024));
    assert!(!p.statistics);
    assert!(!p.adaptive_compression);
    assert_eq!(p.write_mode, WriteMode::Append);
}

#[test]
fn default_rejects_path_is_in_output_base() {
    let f = Folder::new();
    let text = MINIMAL.replace("files:", "engine: {options: {on_error: reject}}\n  files:");
    let job = f.load(&text).unwrap();
    assert_eq!(job.csv.rejects_path, Some(f.dir.path().join("out").join(DEFAULT_REJECTS_FILE)));
    let job = f.load(&MINIMAL.replace("files:", "engine: {options: {on_error: skip}}\n  files:")).unwrap();
    assert_eq!(job.csv.on_error, OnError::Skip);
    assert_eq!(job.csv.rejects_path, None);
}

#[test]
fn inline_asset_flat_and_wrapped() {
    let f = Folder::new();
    let flat = format!("asset:\n  name: inline\n  schema:\n    - {{name: id, type: long, required: true}}\n{MINIMAL}");
    let job = f.load(&flat).unwrap();
    assert_eq!(job.asset.as_ref().unwrap().name, "inline");
    assert_eq!(job.asset_name.as_deref(), Some("inline"));
    assert!(job.asset.as_ref().unwrap().origin.ends_with("job.yaml (inline asset)"));
    let wrapped = format!("asset:\n  asset:\n    name: w\n    schema:\n      - {{name: id, type: int}}\n{MINIMAL}");
    assert_eq!(f.load(&wrapped).unwrap().asset.unwrap().name, "w");
    // Errors inside the inline asset carry the path and line.
    let bad = format!("asset:\n  name: inline\n  schema:\n    - {{name: id, tpye: long}}\n{MINIMAL}");
    let e = f.err(&bad);
    assert!(e.starts_with("unknown key 'asset.schema[0].tpye' (line 4"), "{e}");
    assert!(e.ends_with("did you mean 'type'?"), "{e}");
    let e = f.err(&format!("asset:\n  name: x\n  schema:\n    - {{name: id, type: blob}}\n{MINIMAL}"));
    assert!(e.contains("field 'id' of asset 'x' has unknown type 'blob'"), "{e}");
}

#[test]
fn asset_errors() {
    let f = Folder::new();
    let both =
        format!("asset_path: assets/users.yaml\nasset:\n  name: x\n  schema: [{{name: a, type: int}}]\n{MINIMAL}");
    assert!(f.err(&both).contains("not both"));
    let e = f.err(&format!("asset_path: assets/users.yaml\nasset: orders\n{MINIMAL}"));
    assert!(e.contains("asset: 'orders' but the file at asset_path describes asset 'users'"), "{e}");
    let e = f.load(&format!("asset_path: assets/nope.yaml\n{MINIMAL}")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    assert!(e.to_string().contains("assets/nope.yaml"), "{e}");
    // A name alone is informational.
    let job = f.load(&format!("asset: users\n{MINIMAL}")).unwrap();
    assert_eq!(job.asset_name.as_deref(), Some("users"));
    assert!(job.asset.is_none());
}

#[test]
fn unknown_keys_with_suggestions() {
    let f = Folder::new();
    let text = "source:\n  files:\n    - path: data/a.csv\n  engine:\n    options:\n      delimeter: ';'\ntarget:\n  output_base: out\n";
    assert_eq!(
        f.err(text),
        "unknown key 'source.engine.options.delimeter' (line 6, column 7); did you mean 'delimiter'?"
    );
    let e = f.err(&format!("tenantid: x\n{MINIMAL}"));
    assert_eq!(e, "unknown key 'tenantid' (line 1, column 1); did you mean 'tenant_id'?");
    let e = f.err(&format!("{MINIMAL}  engine:\n    options:\n      compresion: zstd\n"));
    assert!(e.starts_with("unknown key 'target.engine.options.compresion' (line 8, column 7)"), "{e}");
    assert!(e.ends_with("did you mean 'compression'?"), "{e}");
    let e = f.err(&format!("{MINIMAL}  something_else: 1\n"));
    assert_eq!(e, "unknown key 'target.something_else' (line 6, column 3)");
    let e = f.err("source:\n  files:\n    - path: data/a.csv\n      idd: x\ntarget:\n  output_base: out\n");
    assert!(e.starts_with("unknown key 'source.files[0].idd'") && e.ends_with("did you mean 'id'?"), "{e}");
    let e = f.err(&format!("logging: {{levl: info}}\n{MINIMAL}"));
    assert!(e.starts_with("unknown key 'logging.levl'") && e.ends_with("did you mean 'level'?"), "{e}");
}

#[test]
fn bad_values_name_the_key() {
    let f = Folder::new();
    let with_reader = |opts: &str| {
        format!("source:\n  files: [{{path: data/a.csv}}]\n  engine:\n    options: {{{opts}}}\ntarget:\n  output_base: out\n")
    };
    let cases = [
        ("delimiter: \"a\\nb\"", "source.engine.options.delimiter cannot contain a line break"),
        ("delimiter: ',', record_terminator: ','", "source.engine.options.record_terminator: ',' is also the delimiter"),
        ("delimiter: ''", "source.engine.options.delimiter cannot be empty"),
        ("quote: 'ab'", "source.engine.options.quote must be one ASCII character (or \"\\t\"), got 'ab'"),
        ("escape: 'é'", "source.engine.options.escape must be one ASCII character (or \"\\t\"), got 'é'"),
        ("comment: '//'", "source.engine.options.comment must be one ASCII character (or \"\\t\"), got '//'"),
        ("delimiter: '\"'", "source.engine.options.quote: '\"' is also the delimiter"),
        ("batch_size: 0", "source.engine.options.batch_size must be at least 1"),
        ("infer_sample_rows: 0", "source.engine.options.infer_sample_rows must be at least 1"),
        ("max_line_bytes: 0", "source.engine.options.max_line_bytes must be at least 1"),
        ("column_names: []", "source.engine.options.column_names: give at least one name, or remove the key"),
        ("column_names: [a, a]", "source.engine.options.column_names: 'a' appears twice"),
        (
            "encoding: ebcdic",
            "source.engine.options.encoding 'ebcdic' is not supported (use one of: auto, utf-8, utf-16-le, utf-16-be, latin-1, windows-1252)",
        ),
    ];
    for (opts, want) in cases {
        assert_eq!(f.err(&with_reader(opts)), want, "{opts}");
    }
    let e = f.err(&with_reader("on_error: skipp"));
    assert!(
        e.starts_with("source.engine.options.on_error: 'skipp' is not valid (expected one of: fail, skip, reject)"),
        "{e}"
    );
    assert!(e.ends_with("did you mean 'skip'?"), "{e}");
    let e = f.err(&with_reader("header: maybe"));
    assert!(e.starts_with("source.engine.options.header: invalid type"), "{e}");
    let e = f.err(&with_reader("skip_rows: -1"));
    assert!(e.starts_with("source.engine.options.skip_rows: "), "{e}");
    // Tab, written either way.
    assert_eq!(f.load(&with_reader("delimiter: \"\\t\"")).unwrap().csv.delimiter, Some(b"\t".to_vec()));
    assert_eq!(f.load(&with_reader("delimiter: '\\t'")).unwrap().csv.delimiter, Some(b"\t".to_vec()));
    assert_eq!(f.load(&with_reader("delimiter: '+|'")).unwrap().csv.delimiter, Some(b"+|".to_vec()));
    assert_eq!(f.load(&with_reader("quote: ''")).unwrap().csv.quote, Some(None));
    let t = f.load(&with_reader("record_terminator: \"&|\\r\\n\"")).unwrap().csv.record_terminator;
    assert_eq!(t, Some(Some(b"&|".to_vec())));
    assert_eq!(f.load(&with_reader("record_terminator: ''")).unwrap().csv.record_terminator, Some(None));

    let with_writer = |opts: &str| format!("{MINIMAL}  engine:\n    options: {{{opts}}}\n");
    let e = f.err(&with_writer("compression: brotli"));
    assert!(e.starts_with("target.engine.options.compression: unknown compression"), "{e}");
    let e = f.err(&with_writer("compression: gzip, compression_level: 12"));
    assert!(e.starts_with("target.engine.options.compression: gzip compression level 12"), "{e}");
    let e = f.err(&with_writer("compression_level: 3"));
    assert!(e.starts_with("target.engine.options.compression_level: 3 given without compression"), "{e}");
    assert_eq!(f.err(&with_writer("row_group_size: 0")), "target.engine.options.row_group_size must be at least 1");
    assert_eq!(
        f.err(&with_writer("max_rows_per_file: 0")),
        "target.engine.options.max_rows_per_file must be at least 1"
    );
    let e = f.err(&with_writer("write_mode: apend"));
    assert!(
        e.starts_with("target.engine.options.write_mode: 'apend' is not valid")
            && e.ends_with("did you mean 'append'?"),
        "{e}"
    );
    assert_eq!(f.load(&with_writer("compression: gzip")).unwrap().parquet.compression, Compression::Gzip(6));
    let e = f.err(&format!("{MINIMAL}  parquet_target_size_mb: 0\n"));
    assert_eq!(e, "target.parquet_target_size_mb must be a positive number, got 0");
    let e = f.err(&format!("schema_validation_mode: lenient\n{MINIMAL}"));
    assert!(e.starts_with("schema_validation_mode: 'lenient' is not valid (expected one of: strict, warn)"), "{e}");
    let e = f.err(&format!("logging: {{level: verbose}}\n{MINIMAL}"));
    assert_eq!(e, "logging.level 'verbose' is not valid (expected one of: error, warn, info, debug)");
}

#[test]
fn required_sections_and_files() {
    let f = Folder::new();
    let e = f.err("target:\n  output_base: out\n");
    assert!(e.contains("missing field `source`"), "{e}");
    let e = f.err("source:\n  files: [{path: data/a.csv}]\n");
    assert!(e.contains("missing field `target`"), "{e}");
    assert_eq!(
        f.err("source: {type: csv}\ntarget: {output_base: out}\n"),
        "source.files: list at least one input file, e.g. `files: [{path: data/users.csv}]`"
    );
    assert_eq!(
        f.err("source: {files: []}\ntarget: {output_base: out}\n"),
        "source.files: list at least one input file, e.g. `files: [{path: data/users.csv}]`"
    );
    assert_eq!(
        f.err("source: {files: [{path: data/a.csv}]}\ntarget: {type: local}\n"),
        "target.output_base is required: the directory the Parquet files go to"
    );
    let e = f.load("source: {files: [{path: data/missing.csv}]}\ntarget: {output_base: out}\n").unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    let m = e.to_string();
    assert!(m.contains("source.files[0].path: cannot read") && m.contains("data/missing.csv"), "{m}");
    let e = f.err("source: {files: [{path: data}]}\ntarget: {output_base: out}\n");
    assert!(e.contains("is a directory"), "{e}");
    let e = f.err("source: {files: [{path: data/a.csv}]}\ntarget: {output_base: data/a.csv}\n");
    assert!(e.contains("is a file, not a directory"), "{e}");
    assert_eq!(f.err(""), "the file is empty");
}

#[test]
fn not_supported_keys() {
    let f = Folder::new();
    let cases = [
        ("catalog: {type: openmetadata}\n", "catalog is not supported yet: dativo does not push lineage"),
        ("plugins: {sandbox: {enabled: true}}\n", "plugins.sandbox is not supported: dativo runs plugins in its own"),
    ];
    for (extra, want) in cases {
        let e = f.err(&format!("{extra}{MINIMAL}"));
        assert!(e.starts_with(want), "{e}");
    }
    // Connector names alone are informational; a recipe path must name a readable recipe.
    assert!(f.load(&format!("source_connector: csv\ntarget_connector: local\n{MINIMAL}")).is_ok());
    let e = f.err(&format!("source_connector_path: missing.yaml\n{MINIMAL}"));
    assert!(e.contains("source_connector_path: cannot read the connector recipe"), "{e}");
    // `plugins:` without a sandbox is fine.
    assert!(f.load(&format!("plugins: {{}}\n{MINIMAL}")).is_ok());
    let src =
        |extra: &str| format!("source:\n  files: [{{path: data/a.csv}}]\n  {extra}\ntarget:\n  output_base: out\n");
    assert!(f
        .err(&src("incremental: {strategy: mtime}"))
        .starts_with("source.incremental.strategy 'mtime' is not supported: use file_modified_time"));
    for key in ["credentials", "objects", "tables", "sheets", "dsn", "rate_limits"] {
        let e = f.err(&src(&format!("{key}: x")));
        assert!(e.starts_with(&format!("source.{key} is not supported by dativo")), "{e}");
    }
    // `source.connection` is the connection of s3:// inputs, and nothing else.
    let e = f.err(&src("connection: {region: x}"));
    assert!(e.starts_with("source.connection is read only for s3:// input files"), "{e}");
    assert!(f.err(&src("type: postgres")).starts_with("source.type 'postgres' is not supported"));
    let e = f.err("source:\n  files: [{path: gs://bucket/in.csv}]\ntarget:\n  output_base: out\n");
    assert!(e.starts_with("source.files[0].path: gs:// input files are not supported"), "{e}");
    // What is wrong with an s3:// input shows before any request is sent.
    let s3 = |path: &str, extra: &str| {
        f.err(&format!("source:\n  files: [{{path: '{path}'}}]\n{extra}target:\n  output_base: out\n"))
    };
    assert!(s3("s3:///in.csv", "").starts_with("source.files[0].path: 's3:///in.csv' has no bucket name"));
    assert!(s3("s3://b/raw/", "").starts_with("source.files[0].path: 's3://b/raw/' names a folder, not an object"));
    assert!(s3("s3://b", "").contains("names a folder"));
    let e = s3("s3://b/in.csv", "  connection: {bucket: b}\n");
    assert!(e.starts_with("source.connection: bucket and prefix are not read here"), "{e}");
    let e = s3("s3://b/in.csv", "  connection: {endpoint: 'http://127.0.0.1:1', secure: true}\n");
    assert!(e.starts_with("source.connection.endpoint 'http://127.0.0.1:1' is plain HTTP"), "{e}");
    let e = s3("s3://b/in.csv", "  connection: {s3: {access_key_id: k}}\n");
    assert!(e.starts_with("source.connection: give both access_key_id and secret_access_key"), "{e}");
    let tgt =
        |extra: &str| format!("source:\n  files: [{{path: data/a.csv}}]\ntarget:\n  output_base: out\n  {extra}\n");
    for (key, value) in [("catalog", "x"), ("warehouse", "x"), ("branch", "x"), ("connection", "x")] {
        let e = f.err(&tgt(&format!("{key}: {value}")));
        assert!(e.starts_with(&format!("target.{key} is not supported yet: ")), "{e}");
    }
    // An empty partition list is an unpartitioned folder, which dativo writes.
    assert!(f.load(&tgt("partitioning: []")).is_ok());
    // Partition columns are checked against the data when the run starts (no asset here).
    assert_eq!(f.load(&tgt("partitioning: [ingest_date, x]")).unwrap().partitioning, ["ingest_date", "x"]);
    let e = f.err(&tgt("partitioning: [x, x]"));
    assert!(e.starts_with("target.partitioning lists `x` twice"), "{e}");
    // s3 and minio are object-store targets (see `resolve/lake.rs`): they want an s3:// URL.
    assert!(f.err(&tgt("type: s3")).starts_with("target.output_base 'out' is not an s3:// URL"));
    // iceberg is a table in a catalog (see `resolve/iceberg.rs`): it wants one.
    assert!(f.err(&tgt("type: iceberg")).starts_with("target.type iceberg needs a catalog"));
    assert!(f.err(&tgt("file_format: csv")).starts_with("target.file_format 'csv' is not supported"));
    // Case does not matter for the supported ones.
    assert!(f.load(&tgt("type: LOCAL\n  file_format: Parquet")).is_ok());
}

#[test]
fn plugin_keys() {
    let f = Folder::new();
    let src = |extra: &str| format!("source:\n  {extra}\ntarget:\n  output_base: out\n");
    let e = f.err(&src("custom_reader: {path: lib.so}"));
    assert!(e.contains("source.custom_reader: invalid type: map, expected a string"), "{e}");
    let e = f.err(&src("custom_reader: 'lib.so:'"));
    assert!(e.contains("source.custom_reader: plugin 'lib.so:': the name after ':' is empty"), "{e}");
    let e = f.err(&src("files: [{path: data/a.csv}]\n  custom_reader_sha256: ab"));
    assert!(e.contains("source.custom_reader_sha256 is set but source.custom_reader is not"), "{e}");
    let e = f.err(&src("custom_reader: lib.so\n  custom_reader_sha256: xyz"));
    assert!(e.contains("source.custom_reader_sha256 must be 64 hex digits"), "{e}");

    // With a custom reader, the keys only a plugin can serve are its config; files need not
    // exist (they are the plugin's to interpret), and the plugin is only loaded at run time.
    let job = f
        .load(&src("type: postgres\n  custom_reader: plugins/libpg.so:make\n  connection: {host: db}\n  \
             files: [{path: not/here.csv, id: t1}]"))
        .unwrap();
    let reader = job.reader_plugin.as_ref().unwrap();
    assert_eq!(reader.spec.to_string(), format!("{}:make", f.dir.path().join("plugins/libpg.so").display()));
    assert_eq!(reader.config["connection"]["host"], "db");
    assert_eq!(reader.config["files"][0]["path"], f.dir.path().join("not/here.csv").display().to_string());
    assert_eq!(reader.config["files"][0]["id"], "t1");
    assert!(job.inputs.is_empty());

    // engine.options belong to the plugin: passed through, not checked against the CSV
    // reader's keys, which still catch mistakes in a job without a plugin.
    let job = f.load(&src("custom_reader: libpg.so\n  engine: {options: {table: users, batch_size: 5}}")).unwrap();
    assert_eq!(job.reader_plugin.unwrap().config["engine"]["options"]["table"], "users");
    let e = f.err(&src("files: [{path: data/a.csv}]\n  engine: {options: {table: users}}"));
    assert!(e.starts_with("unknown key 'source.engine.options.table' (line 3"), "{e}");

    let tgt = |extra: &str| {
        format!(
            "source:\n  files: [{{path: data/a.csv}}]\ntarget:\n  output_base: out\n  custom_writer: w.so\n  {extra}\n"
        )
    };
    let job = f
        .load(&tgt("type: s3\n  connection: {bucket: b}\n  partitioning: [date]\n  engine: {options: {acl: private}}"))
        .unwrap();
    let config = &job.writer_plugin.as_ref().unwrap().config;
    assert_eq!(config["partitioning"][0], "date");
    assert_eq!(config["engine"]["options"]["acl"], "private");
}

#[test]
fn env_substitution_and_redaction() {
    let f = Folder::new();
    let env = |name: &str| match name {
        "TENANT" => Some("acme-corp".to_string()),
        "OUT" => Some("secret-output-dir".to_string()),
        "DELIM" => Some(";".to_string()),
        _ => None,
    };
    let text = "tenant_id: ${TENANT}\nsource:\n  files: [{path: data/a.csv}]\n  engine: {options: {delimiter: '${DELIM}'}}\ntarget:\n  output_base: ${OUT}\n";
    let job = f.load_with(text, env).unwrap();
    assert_eq!(job.tenant_id.as_deref(), Some("acme-corp"));
    assert_eq!(job.csv.delimiter.as_deref(), Some(&b";"[..]));
    assert_eq!(job.output_dir, f.dir.path().join("secret-output-dir"));
    assert_eq!(job.redact("writing to /x/secret-output-dir/part-0"), "writing to /x/${OUT}/part-0");
    assert_eq!(job.redact("tenant acme-corp"), "tenant ${TENANT}");
    assert_eq!(job.redact("a;b"), "a;b", "values under 4 bytes are not redacted");

    // Missing variable: named, with its line.
    let e = f.load_with("tenant_id: x\nenvironment: ${NOPE}\n", env).unwrap_err().to_string();
    assert!(e.contains("line 2: environment variable NOPE is not set (used as ${NOPE};"), "{e}");

    // A secret never appears in an error, whatever the error.
    let bad_value = "tenant_id: ${TENANT}\nsource:\n  files: [{path: data/a.csv}]\n  engine: {options: {encoding: '${TENANT}'}}\ntarget: {output_base: out}\n";
    let e = f.load_with(bad_value, env).unwrap_err().to_string();
    assert!(!e.contains("acme-corp"), "{e}");
    assert!(e.contains("encoding '${TENANT}' is not supported"), "{e}");
    let missing_file = "source:\n  files: [{path: '${TENANT}/a.csv'}]\ntarget: {output_base: out}\n";
    let e = f.load_with(missing_file, env).unwrap_err().to_string();
    assert!(!e.contains("acme-corp") && e.contains("${TENANT}/a.csv"), "{e}");
    let yaml_error = "source:\n  files: [{path: data/a.csv}]\ntarget: {output_base: out}\n${TENANT}: 1\n";
    let e = f.load_with(yaml_error, env).unwrap_err().to_string();
    assert!(!e.contains("acme-corp") && e.contains("unknown key '${TENANT}'"), "{e}");
}

#[test]
fn relative_paths_resolve_against_the_job_folder() {
    let f = Folder::new();
    let text = "asset_path: assets/users.yaml\nsource:\n  files: [{path: data/a.csv}, {path: ../x/../JOB/data/b.csv}]\n  engine: {options: {on_error: reject, rejects_path: rej/r.csv}}\ntarget: {output_base: out/users}\n";
    // `JOB` is the job folder's own name, reached through its parent.
    let name = f.dir.path().file_name().unwrap().to_string_lossy().into_owned();
    fs::create_dir_all(f.dir.path().parent().unwrap().join("x")).ok();
    let text = text.replace("JOB", &name);
    let job = f.load(&text).unwrap();
    let d = f.dir.path();
    assert_eq!(job.inputs[0].path, d.join("data/a.csv"));
    // `..` is resolved lexically, so messages show the path a person would write.
    assert_eq!(job.inputs[1].path, d.join("data/b.csv"));
    assert_eq!(job.output_dir, d.join("out/users"));
    assert_eq!(job.csv.rejects_path, Some(d.join("rej/r.csv")));
    assert_eq!(job.asset.unwrap().origin, d.join("assets/users.yaml").display().to_string());
    // Absolute paths stay as they are.
    let abs = d.join("data/a.csv").display().to_string();
    let job = f.load(&format!("source: {{files: [{{path: '{abs}'}}]}}\ntarget: {{output_base: /tmp/o}}\n")).unwrap();
    assert_eq!(job.inputs[0].path, Path::new(&abs));
    assert_eq!(job.output_dir, Path::new("/tmp/o"));
}

#[test]
fn load_reads_the_file_and_reports_a_missing_one() {
    let f = Folder::new();
    fs::write(f.job_path(), MINIMAL).unwrap();
    let job = load(&f.job_path()).unwrap();
    assert_eq!(job.inputs.len(), 1);
    let e = load(&f.dir.path().join("nope.yaml")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("nope.yaml"), "{e}");
}

#[test]
fn paths_are_normalized_lexically() {
    let n = |p: &str| normalize(Path::new(p)).display().to_string();
    assert_eq!(n("examples/jobs/../../out/q"), "out/q");
    assert_eq!(n("examples/jobs/../data/o.csv"), "examples/data/o.csv");
    assert_eq!(n("../x/./y"), "../x/y");
    assert_eq!(n("/../a"), "/a");
    assert_eq!(n("a/.."), ".");
}

#[test]
fn column_types_pin_types_without_an_asset_and_conflict_with_one() {
    let f = Folder::new();
    let with_types = "source:\n  files:\n    - path: data/a.csv\n  engine:\n    options:\n      column_types: {id: string}\ntarget:\n  output_base: out\n";
    let job = f.load(with_types).unwrap();
    assert_eq!(job.csv.column_types, vec![arrow_schema::Field::new("id", DataType::Utf8, true)]);
    let report = job.run(&|_| {}).unwrap();
    assert_eq!(report.rows_written, 1);

    let with_asset = with_types.replace("target:", "asset_path: assets/users.yaml\ntarget:");
    assert_eq!(
        f.err(&with_asset),
        "source.engine.options.column_types cannot be combined with an asset: the asset types every column (change the types there)"
    );
}

#[test]
fn incremental_keys() {
    let f = Folder::new();
    let job = |inc: &str, target_extra: &str| {
        format!(
            "source:\n  files: [{{path: data/a.csv}}]\n  incremental: {inc}\ntarget:\n  output_base: out\n{target_extra}"
        )
    };
    let loaded = f.load(&job("{strategy: file_modified_time}", "")).unwrap();
    let inc = loaded.incremental.unwrap();
    assert_eq!(inc.strategy, state::Strategy::FileModifiedTime);
    assert_eq!(inc.state_path, f.dir.path().join("out/_dativo_state.json"));
    assert_eq!(inc.lookback_days, 0);
    assert!(!loaded.full_refresh && !loaded.reset_state);
    let loaded = f.load(&job("{strategy: file_fingerprint, state_path: state/s.json, lookback_days: 2}", "")).unwrap();
    let inc = loaded.incremental.unwrap();
    assert_eq!(inc.strategy, state::Strategy::FileFingerprint);
    assert_eq!(inc.state_path, f.dir.path().join("state/s.json"));
    assert_eq!(inc.lookback_days, 2);
    assert!(f.load(MINIMAL).unwrap().incremental.is_none());

    assert_eq!(
        f.err(&job("{state_path: s.json}", "")),
        "source.incremental.strategy is required: file_modified_time or file_fingerprint"
    );
    assert!(f
        .err(&job("{strategy: file_fingerprint, cursor_field: updated_at}", ""))
        .starts_with("source.incremental.cursor_field is not supported by dativo"));
    assert!(f
        .err(&job("{strategy: file_fingerprint, stat_path: s.json}", ""))
        .starts_with("unknown key 'source.incremental.stat_path'"));
    assert!(f
        .err(&job("{strategy: file_fingerprint}", "  engine: {options: {write_mode: append}}\n"))
        .starts_with("target.engine.options.write_mode: append cannot be combined with source.incremental"));
    assert_eq!(
        f.err(&job("{strategy: file_fingerprint, state_path: data}", "")),
        format!("source.incremental.state_path: {} is a directory, not a file", f.dir.path().join("data").display())
    );
}

#[test]
fn a_glob_is_one_input_per_matching_file_in_sorted_order() {
    let f = Folder::new();
    fs::write(f.dir.path().join("data/2025-02.csv"), "id,email\n4,d@x\n").unwrap();
    fs::write(f.dir.path().join("data/2025-01.csv"), "id,email\n3,c@x\n").unwrap();
    fs::write(f.dir.path().join("data/2024-12.csv"), "id,email\n0,z@x\n").unwrap();
    fs::create_dir_all(f.dir.path().join("data/more/deep")).unwrap();
    fs::write(f.dir.path().join("data/more/deep/2025-03.csv"), "id,email\n5,e@x\n").unwrap();
    let names = |job: &Job| -> Vec<String> {
        job.inputs.iter().map(|i| i.path.strip_prefix(f.dir.path()).unwrap().display().to_string()).collect()
    };
    let job = f
        .load("source:\n  files: [{path: data/2025-*.csv}, {path: data/a.csv}]\ntarget:\n  output_base: out\n")
        .unwrap();
    assert_eq!(names(&job), ["data/2025-01.csv", "data/2025-02.csv", "data/a.csv"], "sorted matches, then the list");
    assert!(job.inputs.iter().all(|i| i.object.is_none() && i.id.is_none()));
    let job = f.load("source:\n  files: [{path: 'data/**/2025-*.csv'}]\ntarget:\n  output_base: out\n").unwrap();
    assert_eq!(names(&job), ["data/2025-01.csv", "data/2025-02.csv", "data/more/deep/2025-03.csv"]);
    // One match keeps the entry's id; several cannot share it.
    let job = f.load("source:\n  files: [{path: 'data/2024-*.csv', id: old}]\ntarget:\n  output_base: out\n").unwrap();
    assert_eq!(job.inputs[0].id.as_deref(), Some("old"));
    let e = f.err("source:\n  files: [{path: 'data/2025-*.csv', id: x}]\ntarget:\n  output_base: out\n");
    assert!(e.starts_with("source.files[0].path: id 'x' names one input, but the glob matches 2 files"), "{e}");
}

#[test]
fn a_glob_that_matches_nothing_names_the_pattern_and_the_folder() {
    let f = Folder::new();
    let e = f.err("source:\n  files: [{path: data/2031-*.csv}]\ntarget:\n  output_base: out\n");
    let folder = f.dir.path().join("data");
    assert_eq!(
        e,
        format!(
            "source.files[0].path: the glob 'data/2031-*.csv' matches no file (searched {} for '2031-*.csv')",
            folder.display()
        )
    );
    let e = f.err("source:\n  files: [{path: nowhere/*.csv}]\ntarget:\n  output_base: out\n");
    assert!(e.starts_with("source.files[0].path: cannot search ") && e.contains("nowhere"), "{e}");
    let e = f.err("source:\n  files: [{path: 'data/[a.csv'}]\ntarget:\n  output_base: out\n");
    assert!(e.contains("is not a valid glob"), "{e}");
    // A literal path that does not exist keeps its error; a folder suggests a glob.
    let e = f.err("source:\n  files: [{path: data/zz.csv}]\ntarget:\n  output_base: out\n");
    assert!(e.starts_with("source.files[0].path: cannot read") && e.contains("zz.csv"), "{e}");
    let e = f.err("source:\n  files: [{path: data}]\ntarget:\n  output_base: out\n");
    assert!(e.contains("is a directory; list the files in it, or give a glob such as data/*.csv"), "{e}");
    // A file whose name has glob characters is read as named.
    fs::write(f.dir.path().join("data/[x].csv"), "id,email\n9,x@x\n").unwrap();
    let job = f.load("source:\n  files: [{path: 'data/[x].csv'}]\ntarget:\n  output_base: out\n").unwrap();
    assert_eq!(job.inputs.len(), 1);
    assert!(job.inputs[0].path.ends_with("data/[x].csv"));
}
