//! Parquet writer throughput on ~200k rows of the reference benchmark file (`dativo_engine::gen`: id,
//! user_id, name, email, amount, quantity, created_at, is_active, country, note), parsed once
//! into Arrow batches and then written with snappy (on the default threads and on one thread)
//! and zstd through `ParquetSink` into a temp directory.
//!
//! Run with `cargo bench --bench parquet_write`.

use std::hint::black_box;

use arrow_array::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dativo_engine::csv::{CsvOptions, CsvReader};
use dativo_engine::parquet::{Compression, ParquetOptions, ParquetSink};

const ROWS: u64 = 200_000;

/// The rows as the CSV reader produces them, so the writer sees the real batch shapes and types.
fn batches() -> Vec<RecordBatch> {
    let mut csv = Vec::new();
    dativo_engine::gen::generate(ROWS, &mut csv).expect("generate reference data");
    let reader = CsvReader::from_reader("reference", Box::new(std::io::Cursor::new(csv)), CsvOptions::default())
        .expect("read reference data");
    reader.collect::<dativo_engine::Result<Vec<_>>>().expect("parse reference data")
}

fn bench_write(c: &mut Criterion) {
    let batches = batches();
    let schema = batches[0].schema();
    let in_memory: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
    let mut group = c.benchmark_group("parquet_write");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS));
    // threads 0: the default (one worker per core plus the calling thread); 1: calling thread only.
    let cases = [
        ("snappy", Compression::Snappy, 0),
        ("snappy_1_thread", Compression::Snappy, 1),
        ("zstd", Compression::Zstd(3), 0),
    ];
    for (label, compression, threads) in cases {
        group.bench_function(label, |b| {
            b.iter(|| {
                let dir = tempfile::tempdir().unwrap();
                let options = ParquetOptions { compression, threads, ..ParquetOptions::default() };
                let mut sink = ParquetSink::create(dir.path(), schema.clone(), options).unwrap();
                for batch in &batches {
                    sink.write(batch).unwrap();
                }
                black_box(sink.finish().unwrap())
            })
        });
    }
    group.finish();
    eprintln!("parquet_write: {ROWS} rows, {} MB of Arrow arrays per iteration", in_memory / 1_000_000);
}

criterion_group!(benches, bench_write);
criterion_main!(benches);
