//! Parquet writer throughput: ~200k in-memory rows shaped like the reference benchmark file
//! (id, user_id, name, email, amount, quantity, created_at, is_active, country, note), written
//! with snappy (on the default threads and on one thread) and zstd through `ParquetSink` into
//! a temp directory.
//!
//! Run with `cargo bench --bench parquet_write`.

use std::hint::black_box;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dativo::parquet::{Compression, ParquetOptions, ParquetSink};

const ROWS: usize = 200_000;
const BATCH_ROWS: usize = 8_192;

const FIRST: &[&str] = &["Alice", "Bob", "Carla", "Dmitri", "Eve", "Farah", "Goran", "Hana", "Ivo", "Jun"];
const LAST: &[&str] = &["Smith", "Okafor", "Nguyen", "Garcia", "Muller", "Rossi", "Kowalski", "Tanaka"];
const COUNTRIES: &[&str] = &["US", "DE", "FR", "GB", "JP", "BR", "IN", "NG", "CA", "AU"];
const WORDS: &[&str] = &["late", "delivery", "gift", "wrap", "fragile", "call", "before", "door", "left", "side"];

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, false),
        Field::new("amount", DataType::Float64, false),
        Field::new("quantity", DataType::Int64, false),
        Field::new("created_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("is_active", DataType::Boolean, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("note", DataType::Utf8, true),
    ]))
}

/// A small deterministic generator (xorshift64*), so every run benches the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn batches() -> Vec<RecordBatch> {
    let schema = schema();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::new();
    let mut start = 0;
    while start < ROWS {
        let n = BATCH_ROWS.min(ROWS - start);
        let (mut id, mut user, mut name, mut email, mut amount) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut qty, mut created, mut active, mut country, mut note) = (vec![], vec![], vec![], vec![], vec![]);
        for i in start..start + n {
            let (first, last) = (FIRST[rng.below(FIRST.len())], LAST[rng.below(LAST.len())]);
            let uid = rng.below(1_000_000) as i64;
            id.push(i as i64 + 1);
            user.push(uid);
            name.push(format!("{first} {last}"));
            email.push(format!("{}.{}{uid}@example.com", first.to_lowercase(), last.to_lowercase()));
            amount.push(rng.below(1_000_000) as f64 / 100.0);
            qty.push(rng.below(100) as i64 + 1);
            // 2024-01-01 plus up to a year, whole seconds.
            created.push(1_704_067_200_000_000 + (rng.below(31_536_000) as i64) * 1_000_000);
            active.push(rng.below(10) < 7);
            country.push(COUNTRIES[rng.below(COUNTRIES.len())]);
            note.push(match rng.below(20) {
                0 | 1 => None, // 10% empty
                2 => Some(format!("{}, {}, {}", WORDS[rng.below(10)], WORDS[rng.below(10)], WORDS[rng.below(10)])),
                _ => Some(format!("{} {} {}", WORDS[rng.below(10)], WORDS[rng.below(10)], WORDS[rng.below(10)])),
            });
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(id)),
            Arc::new(Int64Array::from(user)),
            Arc::new(StringArray::from(name)),
            Arc::new(StringArray::from(email)),
            Arc::new(Float64Array::from(amount)),
            Arc::new(Int64Array::from(qty)),
            Arc::new(TimestampMicrosecondArray::from(created).with_timezone("UTC")),
            Arc::new(BooleanArray::from(active)),
            Arc::new(StringArray::from(country)),
            Arc::new(StringArray::from(note)),
        ];
        out.push(RecordBatch::try_new(schema.clone(), cols).unwrap());
        start += n;
    }
    out
}

fn bench_write(c: &mut Criterion) {
    let batches = batches();
    let schema = schema();
    let in_memory: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
    let mut group = c.benchmark_group("parquet_write");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS as u64));
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
