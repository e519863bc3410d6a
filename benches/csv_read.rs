//! CSV -> Arrow read throughput on the reference file's format: ~20 MB made once with
//! `dativo_engine::gen::generate` into a temp file, then `CsvReader::open` + every batch, per iteration.
//!
//! `reference_20mb` reads with default options (the dialect is sniffed), and
//! `reference_20mb_explicit_dialect` with the dialect given (nothing sniffed): the pair shows
//! what sniffing costs.
//!
//! Run with `cargo bench --bench csv_read`. The full-size comparison with DuckDB is
//! `make perf` (benches/perf.sh).

use std::fs::File;
use std::hint::black_box;
use std::io::BufWriter;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dativo_engine::csv::{CsvOptions, CsvReader};

/// ~20 MB at ~106 bytes per row.
const ROWS: u64 = 190_000;

fn read_all(path: &PathBuf) -> u64 {
    read_with(path, CsvOptions::default())
}

/// The reference file's dialect given, so nothing is sniffed.
fn explicit() -> CsvOptions {
    CsvOptions {
        delimiter: Some(b",".to_vec()),
        quote: Some(Some(b'"')),
        has_header: Some(true),
        ..CsvOptions::default()
    }
}

fn read_with(path: &PathBuf, options: CsvOptions) -> u64 {
    let reader = CsvReader::open(std::slice::from_ref(path), options).expect("open reference file");
    let mut rows = 0;
    for batch in reader {
        rows += batch.expect("read batch").num_rows() as u64;
    }
    rows
}

fn csv_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ref.csv");
    let mut out = BufWriter::new(File::create(&path).expect("create temp file"));
    dativo_engine::gen::generate(ROWS, &mut out).expect("generate reference data");
    drop(out);
    let bytes = std::fs::metadata(&path).expect("stat temp file").len();
    assert_eq!(read_all(&path), ROWS, "the reader must return every generated row");

    let mut group = c.benchmark_group("csv_read");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    // Default options: the dialect is sniffed from the first 64 KiB.
    group.bench_function("reference_20mb", |b| b.iter(|| black_box(read_all(&path))));
    // The same file with its dialect given: no sniffing, the difference is its cost.
    group.bench_function("reference_20mb_explicit_dialect", |b| b.iter(|| black_box(read_with(&path, explicit()))));
    group.finish();
}

criterion_group!(benches, csv_read);
criterion_main!(benches);
