//! The staged write protocol end to end: tasks stage, attempts fail or run twice, one commit.

use std::fs::{self, File};
use std::path::Path;
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use arrow_array::{Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::*;
use crate::parquet::ParquetSink;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]))
}

/// One task attempt: writes ids `start..start+rows` under `prefix` (rolling every 4 rows) and
/// stages them.
fn stage(dir: &Path, prefix: &str, start: i64, rows: i64) -> Vec<StagedFile> {
    let opts = ParquetOptions { max_rows_per_file: Some(4), file_prefix: prefix.into(), ..ParquetOptions::default() };
    let mut sink = ParquetSink::create(dir, schema(), opts).unwrap();
    let ids: Vec<i64> = (start..start + rows).collect();
    sink.write(&RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(ids))]).unwrap()).unwrap();
    sink.stage().unwrap()
}

/// Sorted names of everything in `dir`, hidden files included.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

fn visible_parts(dir: &Path) -> Vec<String> {
    entries(dir).into_iter().filter(|n| n.ends_with(".parquet")).collect()
}

/// Every id of the files the manifest lists, sorted, read back with the parquet crate.
fn ids_of_manifest(dir: &Path) -> (Manifest, Vec<i64>) {
    let manifest: Manifest = serde_json::from_slice(&fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    let mut ids = Vec::new();
    for f in &manifest.files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(dir.join(&f.file)).unwrap()).unwrap();
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            ids.extend(batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().iter());
        }
    }
    ids.sort();
    (manifest, ids)
}

#[test]
fn publish_makes_exactly_the_listed_attempts_visible_and_removes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let task0 = stage(dir, "part-w1-00000", 0, 6);
    // Task 1 ran twice: the first attempt staged and then "failed" (its result never reached
    // the driver), the retry staged again under the same final names.
    let lost_attempt = stage(dir, "part-w1-00001", 6, 5);
    let retry = stage(dir, "part-w1-00001", 6, 5);
    assert_eq!(
        lost_attempt.iter().map(|f| &f.final_name).collect::<Vec<_>>(),
        retry.iter().map(|f| &f.final_name).collect::<Vec<_>>()
    );
    assert_ne!(lost_attempt[0].temp_path, retry[0].temp_path, "attempts never share a staged file");
    // A killed attempt's half-written temp (its process is gone).
    let killed = dir.join(".part-w1-00002-00000.parquet.999999999.tmp");
    fs::write(&killed, b"half").unwrap();
    assert!(visible_parts(dir).is_empty(), "staging publishes nothing: {:?}", entries(dir));
    assert!(task0.iter().chain(&retry).all(|f| f.temp_path.is_absolute() && f.temp_path.exists()));

    let listed: Vec<StagedFile> = task0.iter().chain(&retry).cloned().collect();
    let committed = publish_staged(dir, &listed, "part", WriteMode::Overwrite).unwrap();

    let names: Vec<String> = listed.iter().map(|f| f.final_name.clone()).collect();
    assert_eq!(committed.iter().map(|c| c.path.file_name().unwrap().to_str().unwrap()).collect::<Vec<_>>(), names);
    assert_eq!(
        names,
        [
            "part-w1-00000-00000.parquet",
            "part-w1-00000-00001.parquet",
            "part-w1-00001-00000.parquet",
            "part-w1-00001-00001.parquet"
        ]
    );
    let mut expected = names.clone();
    expected.push(MANIFEST_FILE.to_string());
    expected.sort();
    assert_eq!(entries(dir), expected, "no staged or temp file is left");
    let (manifest, ids) = ids_of_manifest(dir);
    assert_eq!(ids, (0..11).collect::<Vec<_>>(), "every row once");
    assert_eq!(manifest.rows, 11);
    assert_eq!(manifest.files.iter().map(|f| f.file.clone()).collect::<Vec<_>>(), names);
}

#[test]
fn overwrite_replaces_every_part_of_the_prefix_and_append_adds_to_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("other-00000.parquet"), b"not ours").unwrap();
    let first = stage(dir, "part-w1-00000", 0, 3);
    publish_staged(dir, &first, "part", WriteMode::Overwrite).unwrap();

    let second = stage(dir, "part-w2-00000", 100, 2);
    publish_staged(dir, &second, "part", WriteMode::Append).unwrap();
    let (manifest, ids) = ids_of_manifest(dir);
    assert_eq!(ids, [0, 1, 2, 100, 101]);
    assert_eq!(manifest.files.len(), 2);
    assert_eq!(
        visible_parts(dir),
        ["other-00000.parquet", "part-w1-00000-00000.parquet", "part-w2-00000-00000.parquet"]
    );

    let third = stage(dir, "part-w3-00000", 200, 1);
    publish_staged(dir, &third, "part", WriteMode::Overwrite).unwrap();
    let (manifest, ids) = ids_of_manifest(dir);
    assert_eq!(ids, [200]);
    assert_eq!(manifest.rows, 1);
    assert_eq!(visible_parts(dir), ["other-00000.parquet", "part-w3-00000-00000.parquet"], "another prefix is kept");
}

#[test]
fn publish_checks_every_file_before_changing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let old = stage(dir, "part-old", 0, 2);
    publish_staged(dir, &old, "part", WriteMode::Overwrite).unwrap();
    let before = entries(dir);
    let good = stage(dir, "part-w1-00000", 10, 5);
    let fails =
        |files: Vec<StagedFile>| publish_staged(dir, &files, "part", WriteMode::Overwrite).unwrap_err().to_string();

    let twice = vec![good[0].clone(), good[0].clone()];
    assert!(fails(twice).contains("final_name `part-w1-00000-00000.parquet` is listed twice"));
    let mut gone = good[0].clone();
    gone.temp_path.set_file_name(".part-w1-00000-00000.parquet.1-0.staged");
    let e = fails(vec![good[1].clone(), gone]);
    assert!(e.contains("staged file is gone") && e.contains(".part-w1-00000-00000.parquet.1-0.staged"), "{e}");
    let mut resized = good[0].clone();
    resized.bytes += 1;
    assert!(fails(vec![resized]).contains("it was changed after staging"));
    let mut renamed = good[0].clone();
    renamed.final_name = "../escape.parquet".into();
    assert!(fails(vec![renamed]).contains("is not a part of file_prefix `part`"));
    let mut elsewhere = good[0].clone();
    elsewhere.temp_path = std::env::temp_dir().join(elsewhere.temp_path.file_name().unwrap());
    assert!(fails(vec![elsewhere]).contains("not a staged file of `part` in"));

    let mut after = before.clone();
    after.extend(good.iter().map(|f| f.temp_path.file_name().unwrap().to_str().unwrap().to_string()));
    after.sort();
    assert_eq!(entries(dir), after, "a failed check changed nothing");
    publish_staged(dir, &good, "part", WriteMode::Overwrite).unwrap();
    assert_eq!(ids_of_manifest(dir).1, [10, 11, 12, 13, 14]);
}

#[test]
fn discard_removes_staged_files_and_dead_temps_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let kept = stage(dir, "part-w1-00000", 0, 2);
    publish_staged(dir, &kept, "part", WriteMode::Overwrite).unwrap();
    let before = entries(dir);
    stage(dir, "part-w2-00000", 10, 2);
    fs::write(dir.join(".part-w2-00001-00000.parquet.999999999.tmp"), b"x").unwrap();
    let own_live_temp = format!(".part-w2-00002-00000.parquet.{}.tmp", std::process::id());
    fs::write(dir.join(&own_live_temp), b"x").unwrap();
    discard_staged(dir, "part").unwrap();
    let mut expected = before;
    expected.push(own_live_temp);
    expected.sort();
    assert_eq!(entries(dir), expected, "a live writer's temp stays; the rest of the failed write goes");
    discard_staged(&dir.join("missing"), "part").unwrap();
}

/// One partitioned task attempt: ids `start..start+rows`, even ids in `p=even/`, odd in `p=odd/`.
fn stage_partitioned(dir: &Path, prefix: &str, start: i64, rows: i64) -> Vec<StagedFile> {
    use crate::parquet::{PartitionColumn, PartitionedSink};
    let with_p =
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("p", DataType::Utf8, false)]));
    let opts = ParquetOptions { max_rows_per_file: Some(4), file_prefix: prefix.into(), ..ParquetOptions::default() };
    let mut sink =
        PartitionedSink::create_local(dir, with_p.clone(), vec![PartitionColumn::Data("p".into())], opts).unwrap();
    let ids: Vec<i64> = (start..start + rows).collect();
    let p: Vec<&str> = ids.iter().map(|i| if i % 2 == 0 { "even" } else { "odd" }).collect();
    let batch = RecordBatch::try_new(
        with_p,
        vec![Arc::new(Int64Array::from(ids)), Arc::new(arrow_array::StringArray::from(p))],
    )
    .unwrap();
    sink.write(&batch).unwrap();
    sink.stage().unwrap()
}

#[test]
fn partitioned_staged_files_are_published_in_their_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // An older write's parts: at the top and in a partition this write does not have.
    fs::create_dir_all(dir.join("p=gone")).unwrap();
    fs::write(dir.join("p=gone/part-00000.parquet"), b"old").unwrap();
    fs::write(dir.join("part-00007.parquet"), b"old").unwrap();
    let task0 = stage_partitioned(dir, "part-w1-00000", 0, 6);
    let lost = stage_partitioned(dir, "part-w1-00001", 6, 4);
    let retry = stage_partitioned(dir, "part-w1-00001", 6, 4);
    assert!(task0.iter().all(|f| f.final_name.starts_with("p=even/") || f.final_name.starts_with("p=odd/")));
    assert!(visible_parts(&dir.join("p=even")).is_empty(), "staging publishes nothing");

    // A final name outside partition folders, or a file staged in another folder, is refused
    // with nothing changed.
    let mut escaped = task0.clone();
    escaped[0].final_name = format!("../{}", escaped[0].final_name);
    let e = publish_staged(dir, &escaped, "part", WriteMode::Overwrite).unwrap_err().to_string();
    assert!(e.contains("partition folders"), "{e}");
    let mut moved = task0.clone();
    let name = moved[0].final_name.clone();
    moved[0].final_name = match name.strip_prefix("p=even/") {
        Some(rest) => format!("p=odd/{rest}"),
        None => format!("p=even/{}", name.trim_start_matches("p=odd/")),
    };
    assert!(publish_staged(dir, &moved, "part", WriteMode::Overwrite).is_err());
    assert!(dir.join("p=gone/part-00000.parquet").exists());

    let listed: Vec<StagedFile> = task0.iter().chain(&retry).cloned().collect();
    let committed = publish_staged(dir, &listed, "part", WriteMode::Overwrite).unwrap();
    assert_eq!(committed.len(), listed.len());
    let (manifest, ids) = ids_of_manifest(dir);
    assert_eq!(ids, (0..10).collect::<Vec<_>>());
    assert!(manifest.files.iter().all(|f| f.file.starts_with("p=even/") || f.file.starts_with("p=odd/")));
    // Overwrite removed the other partition and the top-level part; the lost attempt's staged
    // files are gone from the folders.
    assert_eq!(entries(dir), ["_manifest.json", "p=even", "p=odd"]);
    for folder in ["p=even", "p=odd"] {
        assert!(entries(&dir.join(folder)).iter().all(|n| n.ends_with(".parquet")), "{:?}", entries(&dir.join(folder)));
    }
    assert!(lost.iter().all(|f| !f.temp_path.exists()));
}
