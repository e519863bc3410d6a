//! Tests of [`ParquetSink`]: every user-facing guarantee of the writer.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use ::parquet::basic::Compression as PCompression;
use ::parquet::file::metadata::ParquetMetaData;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::*;
use crate::parquet::options::Compression;

// ---------- helpers ----------

fn all_types_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("d", DataType::Date32, true),
        Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
    ]))
}

fn all_types_batch(schema: &SchemaRef) -> RecordBatch {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![Some(1), None, Some(i64::MIN), Some(i64::MAX)])),
        Arc::new(Float64Array::from(vec![Some(1.5), Some(-0.0), None, Some(f64::INFINITY)])),
        Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true)])),
        Arc::new(StringArray::from(vec![Some("héllo"), Some(""), Some("a,b \"q\""), None])),
        Arc::new(Date32Array::from(vec![None, Some(0), Some(19_000), Some(-1)])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![Some(1_700_000_000_123_456), None, Some(0), Some(-1)])
                .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(schema.clone(), cols).unwrap()
}

fn id_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("name", DataType::Utf8, true)]))
}

/// Rows `start..start+n` of a two-column table.
fn id_batch(schema: &SchemaRef, start: i64, n: usize) -> RecordBatch {
    let ids: Vec<i64> = (start..start + n as i64).collect();
    let names: Vec<String> = ids.iter().map(|i| format!("name-{i}")).collect();
    RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(names))])
        .unwrap()
}

fn opts() -> ParquetOptions {
    ParquetOptions::default()
}

fn read(path: &Path) -> (SchemaRef, Vec<RecordBatch>, Arc<ParquetMetaData>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let meta = builder.metadata().clone();
    let schema = builder.schema().clone();
    let batches = builder.build().unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    (schema, batches, meta)
}

fn ids_of(path: &Path) -> Vec<i64> {
    let (_, batches, _) = read(path);
    batches.iter().flat_map(|b| b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()).collect()
}

/// Sorted names of everything in `dir`, hidden files included.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

fn temps(dir: &Path) -> Vec<String> {
    entries(dir).into_iter().filter(|n| n.ends_with(".tmp")).collect()
}

/// Writes `rows` rows (ids from `start`) in batches of `batch` and commits.
fn run(dir: &Path, options: ParquetOptions, start: i64, rows: usize, batch: usize) -> Vec<CommittedFile> {
    let schema = id_schema();
    let mut sink = ParquetSink::create(dir, schema.clone(), options).unwrap();
    let mut done = 0;
    while done < rows {
        let n = batch.min(rows - done);
        sink.write(&id_batch(&schema, start + done as i64, n)).unwrap();
        done += n;
    }
    sink.finish().unwrap()
}

fn names(files: &[CommittedFile]) -> Vec<String> {
    files.iter().map(|f| f.path.file_name().unwrap().to_str().unwrap().to_string()).collect()
}

// ---------- round trip ----------

#[test]
fn round_trips_values_types_and_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let schema = all_types_schema();
    let batch = all_types_batch(&schema);
    let mut sink = ParquetSink::create(dir.path(), schema.clone(), opts()).unwrap();
    sink.write(&batch).unwrap();
    sink.write(&batch.slice(1, 2)).unwrap();
    assert_eq!(sink.rows_written(), 6);
    let files = sink.finish().unwrap();
    assert_eq!(names(&files), ["part-00000.parquet"]);
    assert_eq!(files[0].rows, 6);
    assert_eq!(files[0].bytes, std::fs::metadata(&files[0].path).unwrap().len());

    let (read_schema, batches, meta) = read(&files[0].path);
    assert_eq!(read_schema, schema, "types, timezone and nullability survive");
    let all = arrow_select::concat::concat_batches(&schema, &batches).unwrap();
    let expected = arrow_select::concat::concat_batches(&schema, &[batch.clone(), batch.slice(1, 2)]).unwrap();
    assert_eq!(all, expected);
    assert_eq!(all.column(0).null_count(), 2);
    assert_eq!(meta.file_metadata().num_rows(), 6);
    assert_eq!(meta.file_metadata().created_by(), Some(format!("dativo {}", env!("CARGO_PKG_VERSION")).as_str()));
}

// ---------- codecs ----------

#[test]
fn every_codec_is_readable_and_recorded() {
    let cases = [
        (Compression::None, PCompression::UNCOMPRESSED),
        (Compression::Snappy, PCompression::SNAPPY),
        (Compression::Gzip(9), PCompression::GZIP(Default::default())),
        (Compression::Lz4, PCompression::LZ4_RAW),
        (Compression::Zstd(7), PCompression::ZSTD(Default::default())),
    ];
    let schema = all_types_schema();
    let batch = all_types_batch(&schema);
    for (codec, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let options = ParquetOptions { compression: codec, ..opts() };
        let mut sink = ParquetSink::create(dir.path(), schema.clone(), options).unwrap();
        sink.write(&batch).unwrap();
        let files = sink.finish().unwrap();
        let (_, batches, meta) = read(&files[0].path);
        assert_eq!(batches, vec![batch.clone()], "{codec:?}");
        for col in meta.row_group(0).columns() {
            // Levels are not stored in Parquet; compare the codec only.
            assert_eq!(
                std::mem::discriminant(&col.compression()),
                std::mem::discriminant(&expected),
                "{codec:?} recorded as {:?}",
                col.compression()
            );
        }
    }
}

/// 20,000 rows: `noise` (random 64-bit integers: nothing for a codec to find once
/// delta-encoded) and `email` (unique but repetitive text, which every codec shrinks).
fn noise_and_text() -> RecordBatch {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: Vec<i64> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as i64
        })
        .collect();
    let email: Vec<String> = (0..20_000).map(|i| format!("customer-{i:08}@example.com")).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("noise", DataType::Int64, false),
        Field::new("email", DataType::Utf8, false),
    ]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(noise)), Arc::new(StringArray::from(email))]).unwrap()
}

#[test]
fn columns_the_codec_cannot_shrink_are_stored_uncompressed() {
    let batch = noise_and_text();
    for (codec, expected) in
        [(Compression::Zstd(3), PCompression::ZSTD(Default::default())), (Compression::Snappy, PCompression::SNAPPY)]
    {
        for adaptive in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let options =
                ParquetOptions { compression: codec, adaptive_compression: adaptive, row_group_size: 8_192, ..opts() };
            let mut sink = ParquetSink::create(dir.path(), batch.schema(), options).unwrap();
            sink.write(&batch.slice(0, 12_000)).unwrap();
            sink.write(&batch.slice(12_000, 8_000)).unwrap();
            let files = sink.finish().unwrap();
            let (_, batches, meta) = read(&files[0].path);
            assert_eq!(arrow_select::concat::concat_batches(&batch.schema(), &batches).unwrap(), batch);
            assert_eq!(meta.num_row_groups(), 3);
            for group in meta.row_groups() {
                let codec_of = |i: usize| std::mem::discriminant(&group.column(i).compression());
                let noise = if adaptive { PCompression::UNCOMPRESSED } else { expected };
                assert_eq!(codec_of(0), std::mem::discriminant(&noise), "{codec:?} adaptive={adaptive}: noise");
                assert_eq!(codec_of(1), std::mem::discriminant(&expected), "{codec:?} adaptive={adaptive}: email");
                assert!(group.column(1).compressed_size() < group.column(1).uncompressed_size() / 2);
            }
        }
    }
}

#[test]
fn bad_options_are_rejected_at_create() {
    let dir = tempfile::tempdir().unwrap();
    let bad = ParquetOptions { compression: Compression::Zstd(99), ..opts() };
    let e = ParquetSink::create(dir.path(), id_schema(), bad).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    assert!(e.to_string().contains("1..=22"), "{e}");
    let bad = ParquetOptions { row_group_size: 0, ..opts() };
    assert!(matches!(ParquetSink::create(dir.path(), id_schema(), bad), Err(Error::Config(_))));
    assert!(entries(dir.path()).is_empty());
}

// ---------- row groups, statistics ----------

#[test]
fn row_group_size_is_respected() {
    let dir = tempfile::tempdir().unwrap();
    let files = run(dir.path(), ParquetOptions { row_group_size: 100, ..opts() }, 0, 250, 70);
    let (_, _, meta) = read(&files[0].path);
    let sizes: Vec<i64> = meta.row_groups().iter().map(|rg| rg.num_rows()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert_eq!(ids_of(&files[0].path), (0..250).collect::<Vec<_>>());
}

#[test]
fn statistics_present_when_on_absent_when_off() {
    let dir = tempfile::tempdir().unwrap();
    let files = run(dir.path(), opts(), 10, 100, 100);
    let (_, _, meta) = read(&files[0].path);
    let col = meta.row_group(0).column(0);
    let stats = col.statistics().expect("statistics on by default");
    match stats {
        ::parquet::file::statistics::Statistics::Int64(s) => {
            assert_eq!(s.min_opt(), Some(&10));
            assert_eq!(s.max_opt(), Some(&109));
        }
        other => panic!("unexpected statistics {other:?}"),
    }
    assert!(col.column_index_offset().is_some(), "page-level statistics (column index) written");

    let dir = tempfile::tempdir().unwrap();
    let files = run(dir.path(), ParquetOptions { statistics: false, ..opts() }, 10, 100, 100);
    let (_, _, meta) = read(&files[0].path);
    for col in meta.row_group(0).columns() {
        assert!(col.statistics().is_none(), "{:?}", col.statistics());
        assert!(col.column_index_offset().is_none());
    }
    assert_eq!(ids_of(&files[0].path), (10..110).collect::<Vec<_>>());
}

// ---------- rolling ----------

#[test]
fn rolls_by_rows_with_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let schema = id_schema();
    let options = ParquetOptions { max_rows_per_file: Some(100), ..opts() };
    let mut sink = ParquetSink::create(dir.path(), schema.clone(), options).unwrap();
    let mut last_bytes = 0;
    for start in (0..350).step_by(64) {
        sink.write(&id_batch(&schema, start, 64.min(350 - start as usize))).unwrap();
        assert!(sink.bytes_written() >= last_bytes);
        last_bytes = sink.bytes_written();
    }
    assert_eq!(sink.rows_written(), 350);
    let files = sink.finish().unwrap();
    assert_eq!(names(&files), ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet", "part-00003.parquet"]);
    assert_eq!(files.iter().map(|f| f.rows).collect::<Vec<_>>(), [100, 100, 100, 50]);
    let mut all = Vec::new();
    for f in &files {
        let ids = ids_of(&f.path);
        assert_eq!(ids.len() as u64, f.rows);
        assert_eq!(f.bytes, std::fs::metadata(&f.path).unwrap().len());
        all.extend(ids);
    }
    assert_eq!(all, (0..350).collect::<Vec<_>>(), "rows in order, none lost or duplicated");
    assert_eq!(entries(dir.path()).len(), 4, "no temp left");
}

#[test]
fn rolling_by_rows_never_makes_an_empty_extra_file() {
    let dir = tempfile::tempdir().unwrap();
    let options = ParquetOptions { max_rows_per_file: Some(100), ..opts() };
    // One batch exactly filling three files, then an empty batch.
    let schema = id_schema();
    let mut sink = ParquetSink::create(dir.path(), schema.clone(), options).unwrap();
    sink.write(&id_batch(&schema, 0, 300)).unwrap();
    sink.write(&id_batch(&schema, 300, 0)).unwrap();
    let files = sink.finish().unwrap();
    assert_eq!(files.iter().map(|f| f.rows).collect::<Vec<_>>(), [100, 100, 100]);
    assert_eq!(entries(dir.path()).len(), 3);
}

#[test]
fn rolls_by_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 64 * 1024;
    let options = ParquetOptions {
        max_bytes_per_file: Some(limit),
        row_group_size: 2_000,
        compression: Compression::None,
        ..opts()
    };
    let files = run(dir.path(), options, 0, 100_000, 1_000);
    assert!(files.len() >= 5, "expected several files, got {}", files.len());
    let mut all = Vec::new();
    for (i, f) in files.iter().enumerate() {
        assert_eq!(f.path.file_name().unwrap().to_str().unwrap(), format!("part-{i:05}.parquet"));
        // A file is closed after the batch that reached the limit: at most one batch
        // (~1,000 rows, ~20 kB uncompressed) plus the footer over it.
        assert!(f.bytes < limit + 40 * 1024, "file {i} is {} bytes", f.bytes);
        if i + 1 < files.len() {
            assert!(f.bytes > limit / 2, "file {i} is only {} bytes", f.bytes);
        }
        let ids = ids_of(&f.path);
        assert_eq!(ids.len() as u64, f.rows);
        all.extend(ids);
    }
    assert_eq!(all, (0..100_000).collect::<Vec<_>>());
}

// ---------- zero rows ----------

#[test]
fn zero_row_run_commits_one_file_with_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let schema = all_types_schema();
    let mut sink = ParquetSink::create(dir.path(), schema.clone(), opts()).unwrap();
    sink.write(&RecordBatch::new_empty(schema.clone())).unwrap();
    let files = sink.finish().unwrap();
    assert_eq!(names(&files), ["part-00000.parquet"]);
    assert_eq!(files[0].rows, 0);
    let (read_schema, batches, meta) = read(&files[0].path);
    assert_eq!(read_schema, schema);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    assert_eq!(meta.file_metadata().num_rows(), 0);
    assert_eq!(entries(dir.path()), ["part-00000.parquet"]);
}

// ---------- temp files, abort, drop ----------

#[test]
fn temp_files_are_hidden_and_not_parquet_until_finish() {
    let dir = tempfile::tempdir().unwrap();
    let schema = id_schema();
    let options = ParquetOptions { max_rows_per_file: Some(10), ..opts() };
    let mut sink = ParquetSink::create(dir.path(), schema.clone(), options).unwrap();
    sink.write(&id_batch(&schema, 0, 25)).unwrap();
    let pid = std::process::id();
    assert_eq!(
        entries(dir.path()),
        [
            format!(".part-00000.parquet.{pid}.tmp"),
            format!(".part-00001.parquet.{pid}.tmp"),
            format!(".part-00002.parquet.{pid}.tmp"),
        ]
    );
    assert!(entries(dir.path()).iter().all(|n| n.starts_with('.') && !n.ends_with(".parquet")));
    sink.finish().unwrap();
    assert_eq!(entries(dir.path()), ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]);
}

/// A previous run's committed files, and their bytes, to check they stay untouched.
fn previous_run(dir: &Path) -> Vec<(String, Vec<u8>)> {
    run(dir, ParquetOptions { max_rows_per_file: Some(10), ..opts() }, 1000, 20, 20);
    entries(dir).into_iter().map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap())).collect()
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    entries(dir).into_iter().map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap())).collect()
}

#[test]
fn abort_and_drop_leave_no_new_file_and_no_temp() {
    for use_drop in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let before = previous_run(dir.path());
        assert_eq!(before.len(), 2);
        let schema = id_schema();
        let options = ParquetOptions { max_rows_per_file: Some(10), ..opts() };
        let mut sink = ParquetSink::create(dir.path(), schema.clone(), options).unwrap();
        sink.write(&id_batch(&schema, 0, 35)).unwrap(); // 3 closed temps + 1 open
        assert_eq!(temps(dir.path()).len(), 4);
        if use_drop {
            drop(sink);
        } else {
            sink.abort();
        }
        assert_eq!(snapshot(dir.path()), before, "drop={use_drop}");
    }
}

#[test]
fn error_during_finish_leaves_previous_files_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let before = previous_run(dir.path());
    let schema = id_schema();
    let options = ParquetOptions { max_rows_per_file: Some(10), ..opts() };
    let mut sink = ParquetSink::create(dir.path(), schema.clone(), options).unwrap();
    sink.write(&id_batch(&schema, 0, 30)).unwrap();
    // Injected failure: the first part's temp file disappears before the commit.
    let first = dir.path().join(format!(".part-00000.parquet.{}.tmp", std::process::id()));
    std::fs::remove_file(&first).unwrap();
    let e = sink.finish().unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Io { .. }), "{msg}");
    assert!(msg.contains("cannot rename") && msg.contains("part-00000.parquet"), "{msg}");
    assert_eq!(snapshot(dir.path()), before, "no new or changed file, no temp left");
}

#[test]
fn error_creating_a_file_names_the_path_and_leaves_previous_files_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let before = previous_run(dir.path());
    let schema = id_schema();
    let mut sink = ParquetSink::create(dir.path(), schema.clone(), opts()).unwrap();
    // Injected failure: something already occupies the temp name (create() cleaned it up, so
    // it appears afterwards; the sink must not write through it).
    let temp = dir.path().join(format!(".part-00000.parquet.{}.tmp", std::process::id()));
    std::fs::create_dir(&temp).unwrap();
    let e = sink.write(&id_batch(&schema, 0, 5)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("cannot create") && msg.contains(&*temp.to_string_lossy()), "{msg}");
    // The sink refuses to go on after an I/O error.
    let e2 = sink.write(&id_batch(&schema, 0, 5)).unwrap_err();
    assert!(e2.to_string().contains("earlier error"), "{e2}");
    assert!(sink.finish().is_err());
    std::fs::remove_dir(&temp).unwrap();
    assert_eq!(snapshot(dir.path()), before);
}

#[cfg(unix)]
#[test]
fn read_only_directory_fails_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let before = previous_run(dir.path());
    let schema = id_schema();
    let options = ParquetOptions { max_rows_per_file: Some(10), ..opts() };
    let mut sink = ParquetSink::create(dir.path(), schema.clone(), options).unwrap();
    sink.write(&id_batch(&schema, 0, 10)).unwrap(); // one closed temp, no open file
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root (and CAP_DAC_OVERRIDE) ignore permissions: then this test proves nothing.
    let probe = dir.path().join("probe");
    if std::fs::write(&probe, b"x").is_ok() {
        std::fs::remove_file(&probe).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        eprintln!("skipped: permissions are not enforced for this user");
        return;
    }
    let e = sink.write(&id_batch(&schema, 10, 5)).unwrap_err();
    let msg = e.to_string();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(msg.contains("cannot create") && msg.contains(".part-00001.parquet"), "{msg}");
    drop(sink);
    assert_eq!(snapshot(dir.path()), before);
}

// ---------- overwrite, append, leftovers ----------

#[test]
fn overwrite_removes_stale_parts_only_at_finish() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(d, ParquetOptions { max_rows_per_file: Some(10), ..opts() }, 1000, 30, 30);
    std::fs::write(d.join("notes.txt"), b"keep").unwrap();
    std::fs::write(d.join("other-00007.parquet"), b"keep").unwrap();
    let before = snapshot(d);

    let schema = id_schema();
    let mut sink = ParquetSink::create(d, schema.clone(), opts()).unwrap();
    sink.write(&id_batch(&schema, 0, 5)).unwrap();
    let before_finish: Vec<_> = snapshot(d).into_iter().filter(|(n, _)| !n.ends_with(".tmp")).collect();
    assert_eq!(before_finish, before, "nothing visible changes before finish");

    let files = sink.finish().unwrap();
    assert_eq!(names(&files), ["part-00000.parquet"]);
    assert_eq!(entries(d), ["notes.txt", "other-00007.parquet", "part-00000.parquet"]);
    assert_eq!(ids_of(&d.join("part-00000.parquet")), (0..5).collect::<Vec<_>>());
}

#[test]
fn append_numbers_after_the_highest_existing_part() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let append = ParquetOptions { write_mode: WriteMode::Append, max_rows_per_file: Some(10), ..opts() };
    // Append into an empty directory starts at 00000.
    let first = run(d, append.clone(), 0, 20, 20);
    assert_eq!(names(&first), ["part-00000.parquet", "part-00001.parquet"]);
    std::fs::write(d.join("part-00005.parquet"), b"not really parquet").unwrap();
    let before = snapshot(d);

    let second = run(d, append, 100, 15, 15);
    assert_eq!(names(&second), ["part-00006.parquet", "part-00007.parquet"]);
    let after = snapshot(d);
    for entry in &before {
        assert!(after.contains(entry), "{} changed", entry.0);
    }
    assert_eq!(after.len(), before.len() + 2);
    assert_eq!(ids_of(&d.join("part-00007.parquet")), (110..115).collect::<Vec<_>>());
}

#[test]
fn create_removes_leftover_temps_of_crashed_runs_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let crashed = ".part-00003.parquet.999999999.tmp";
    let foreign = [".data-00000.parquet.999999999.tmp", "part-00000.parquet.999999999.tmp", ".hidden"];
    for n in std::iter::once(&crashed).chain(&foreign) {
        std::fs::write(d.join(n), b"junk").unwrap();
    }
    let sink = ParquetSink::create(d, id_schema(), opts()).unwrap();
    assert!(!d.join(crashed).exists());
    for n in foreign {
        assert!(d.join(n).exists(), "{n} must be left alone");
    }
    drop(sink);
}

#[test]
fn create_makes_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/c");
    let files = run(&nested, opts(), 0, 3, 3);
    assert_eq!(files[0].path, nested.join("part-00000.parquet"));
    assert_eq!(ids_of(&files[0].path), [0, 1, 2]);
}

#[test]
fn custom_prefix_and_one_sink_per_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let options = ParquetOptions { file_prefix: "events".into(), ..opts() };
    let sink = ParquetSink::create(d, id_schema(), options.clone()).unwrap();
    let e = ParquetSink::create(d, id_schema(), options.clone()).unwrap_err();
    assert!(e.to_string().contains("already writing"), "{e}");
    let other = ParquetSink::create(d, id_schema(), opts()).unwrap();
    let files = sink.finish().unwrap();
    assert_eq!(names(&files), ["events-00000.parquet"]);
    drop(other);
    // Released after finish.
    ParquetSink::create(d, id_schema(), options).unwrap().abort();
}

// ---------- schema ----------

#[test]
fn schema_mismatch_is_a_clear_error_and_leaves_the_sink_usable() {
    let dir = tempfile::tempdir().unwrap();
    let schema = id_schema();
    let mut sink = ParquetSink::create(dir.path(), schema.clone(), opts()).unwrap();

    let wrong_type = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Float64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        wrong_type,
        vec![Arc::new(Float64Array::from(vec![1.0])), Arc::new(StringArray::from(vec!["a"]))],
    )
    .unwrap();
    let e = sink.write(&batch).unwrap_err();
    assert!(matches!(e, Error::Schema(_)), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("column 1") && msg.contains("Float64") && msg.contains("Int64"), "{msg}");

    let fewer = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let batch = RecordBatch::try_new(fewer, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
    let msg = sink.write(&batch).unwrap_err().to_string();
    assert!(msg.contains("1 columns (id)") && msg.contains("2 (id, name)"), "{msg}");

    let renamed = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("label", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        renamed,
        vec![Arc::new(Int64Array::from(vec![1])), Arc::new(StringArray::from(vec!["a"]))],
    )
    .unwrap();
    let msg = sink.write(&batch).unwrap_err().to_string();
    assert!(msg.contains("column 2") && msg.contains("`label`") && msg.contains("`name`"), "{msg}");

    // A nullable batch column where the output's is not null is refused...
    let nullable_id =
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true), Field::new("name", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(
        nullable_id,
        vec![Arc::new(Int64Array::from(vec![Some(7)])), Arc::new(StringArray::from(vec!["a"]))],
    )
    .unwrap();
    let msg = sink.write(&batch).unwrap_err().to_string();
    assert!(msg.contains("(nullable)") && msg.contains("(not null)"), "{msg}");

    // ...but a not-null batch column where the output's is nullable is fine.
    let not_null_name = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        not_null_name,
        vec![Arc::new(Int64Array::from(vec![42])), Arc::new(StringArray::from(vec!["x"]))],
    )
    .unwrap();
    sink.write(&batch).unwrap();
    sink.write(&id_batch(&schema, 0, 2)).unwrap();
    let files = sink.finish().unwrap();
    let (read_schema, _, _) = read(&files[0].path);
    assert_eq!(read_schema, schema, "the file carries the sink's schema");
    assert_eq!(ids_of(&files[0].path), [42, 0, 1]);
}

// ---------- parallel encoding and per-column encodings ----------

/// Rows `start..start+n` shaped like the reference file: unique ids, random-ish integers and
/// e-mails (high cardinality), names and countries from small sets, nullable notes.
fn mixed_batch(schema: &SchemaRef, start: usize, n: usize) -> RecordBatch {
    let countries = ["US", "DE", "FR", "JP", "BR"];
    let names = ["Ann Lee", "Bo Chen", "Cy Diaz", "Di Park"];
    let rows = start..start + n;
    let hash = |i: usize| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.clone().map(|i| i as i64))),
        Arc::new(Int64Array::from_iter_values(rows.clone().map(|i| (hash(i) % 1_000_000) as i64))),
        Arc::new(StringArray::from_iter_values(rows.clone().map(|i| names[i % 4]))),
        Arc::new(StringArray::from_iter_values(rows.clone().map(|i| format!("u{}@example.com", hash(i) % 500_000)))),
        Arc::new(Float64Array::from_iter_values(rows.clone().map(|i| (hash(i) % 100_000) as f64 / 100.0))),
        Arc::new(BooleanArray::from_iter(rows.clone().map(|i| Some(i % 3 == 0)))),
        Arc::new(StringArray::from_iter(rows.clone().map(|i| (i % 10 != 0).then(|| countries[i % 5])))),
    ];
    RecordBatch::try_new(schema.clone(), cols).unwrap()
}

fn mixed_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, false),
        Field::new("amount", DataType::Float64, false),
        Field::new("active", DataType::Boolean, false),
        Field::new("country", DataType::Utf8, true),
    ]))
}

/// Writes `rows` mixed rows in batches of `batch` and returns every file's bytes.
fn write_mixed(dir: &Path, options: ParquetOptions, rows: usize, batch: usize) -> Vec<Vec<u8>> {
    let schema = mixed_schema();
    let mut sink = ParquetSink::create(dir, schema.clone(), options).unwrap();
    let mut done = 0;
    while done < rows {
        let n = batch.min(rows - done);
        sink.write(&mixed_batch(&schema, done, n)).unwrap();
        done += n;
    }
    sink.finish().unwrap().iter().map(|f| std::fs::read(&f.path).unwrap()).collect()
}

#[test]
fn output_is_byte_identical_whatever_the_thread_count() {
    // Row groups that split batches, and a last partial row group.
    let base = ParquetOptions { row_group_size: 7_000, ..opts() };
    let mut outputs = Vec::new();
    for threads in [1, 4, 1, 4, 3] {
        let dir = tempfile::tempdir().unwrap();
        outputs.push(write_mixed(dir.path(), ParquetOptions { threads, ..base.clone() }, 50_000, 6_000));
    }
    assert_eq!(outputs[0].len(), 1);
    for o in &outputs[1..] {
        assert!(o == &outputs[0], "outputs differ between thread counts");
    }

    // Rolling by bytes depends on size estimates: still identical.
    let rolling = ParquetOptions { max_bytes_per_file: Some(200_000), row_group_size: 5_000, ..opts() };
    let one = write_mixed(
        tempfile::tempdir().unwrap().path(),
        ParquetOptions { threads: 1, ..rolling.clone() },
        50_000,
        4_000,
    );
    let four =
        write_mixed(tempfile::tempdir().unwrap().path(), ParquetOptions { threads: 4, ..rolling }, 50_000, 4_000);
    assert!(one.len() > 1, "expected several files, got {}", one.len());
    assert!(one == four, "rolled outputs differ between thread counts");
}

#[test]
fn parallel_output_round_trips_with_row_groups_and_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let options = ParquetOptions { row_group_size: 7_000, threads: 4, ..opts() };
    write_mixed(dir.path(), options, 50_000, 6_000);
    let (_, batches, meta) = read(&dir.path().join("part-00000.parquet"));
    let rows: Vec<usize> = meta.row_groups().iter().map(|g| g.num_rows() as usize).collect();
    assert_eq!(rows, vec![7_000, 7_000, 7_000, 7_000, 7_000, 7_000, 7_000, 1_000]);
    let got = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
    let want = mixed_batch(&mixed_schema(), 0, 50_000);
    assert_eq!(got.columns(), want.columns());
    for g in meta.row_groups() {
        for c in g.columns() {
            assert!(c.statistics().is_some_and(|s| s.null_count_opt().is_some()), "{:?}", c.column_path());
        }
    }
}

#[test]
fn high_cardinality_columns_skip_the_dictionary() {
    use ::parquet::basic::Encoding;
    let dir = tempfile::tempdir().unwrap();
    write_mixed(dir.path(), opts(), 30_000, 10_000);
    let (_, _, meta) = read(&dir.path().join("part-00000.parquet"));
    let encodings = |i: usize| meta.row_group(0).column(i).encodings().collect::<Vec<_>>();
    let dict = |i: usize| encodings(i).contains(&Encoding::RLE_DICTIONARY);
    // id and user_id: unique or nearly; email: mostly distinct.
    assert!(!dict(0) && !dict(1) && !dict(3), "{:?} {:?} {:?}", encodings(0), encodings(1), encodings(3));
    assert!(
        encodings(0).contains(&Encoding::DELTA_BINARY_PACKED) && encodings(1).contains(&Encoding::DELTA_BINARY_PACKED)
    );
    assert!(encodings(3).contains(&Encoding::PLAIN));
    // name and country: a handful of values.
    assert!(dict(2) && dict(6), "{:?} {:?}", encodings(2), encodings(6));

    // A first batch too small to judge keeps arrow-rs' default (dictionary with fallback).
    let dir = tempfile::tempdir().unwrap();
    write_mixed(dir.path(), opts(), 30_000, 100);
    let (_, _, meta) = read(&dir.path().join("part-00000.parquet"));
    assert!(meta.row_group(0).column(0).encodings().any(|e| e == Encoding::RLE_DICTIONARY));
}

#[test]
fn string_views_and_large_strings_are_written_as_the_output_layout() {
    use arrow_array::{Array, LargeStringArray, StringArray, StringViewArray};
    let dir = tempfile::tempdir().unwrap();
    let schema =
        Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true), Field::new("b", DataType::Utf8, true)]));
    let given = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Utf8View, true),
        Field::new("b", DataType::LargeUtf8, true),
    ]));
    let batch = RecordBatch::try_new(
        given,
        vec![
            Arc::new(StringViewArray::from(vec![Some("a long string that is not inlined"), None])),
            Arc::new(LargeStringArray::from(vec![Some("x"), Some("y")])),
        ],
    )
    .unwrap();
    let mut sink = ParquetSink::create(dir.path(), schema.clone(), opts()).unwrap();
    sink.write(&batch).unwrap();
    let files = sink.finish().unwrap();
    let (read_schema, batches, _) = read(&files[0].path);
    assert_eq!(read_schema.field(0).data_type(), &DataType::Utf8);
    let a = batches[0].column(0).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!((a.value(0), a.is_null(1)), ("a long string that is not inlined", true));

    // Other type differences are still refused.
    let ints =
        Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true), Field::new("b", DataType::Utf8, true)]));
    let batch =
        RecordBatch::try_new(ints, vec![Arc::new(Int64Array::from(vec![1])), Arc::new(StringArray::from(vec!["x"]))])
            .unwrap();
    let mut sink = ParquetSink::create(dir.path(), schema, opts()).unwrap();
    let e = sink.write(&batch).unwrap_err().to_string();
    assert!(e.contains("column 1 is `a` Int64 (nullable) in the batch but `a` Utf8 (nullable) in the output"), "{e}");
}
