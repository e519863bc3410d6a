//! Read CSV files with the Rust API and count the rows: the Rust side of the binding-overhead
//! benchmark (benches/read_overhead/run), which times the same read through the C API.
//!
//! Usage: cargo run --release --example read_csv -- [--keep] FILE.csv [FILE.csv ...]
//!
//! `--keep` holds every batch until the end, as a table in memory does (the counterpart of
//! Python's `dativo.read_csv(...).read_all()`); by default each batch is dropped once counted.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use dativo_engine::csv::{CsvOptions, CsvReader};

fn main() -> ExitCode {
    let mut args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let keep = args.first().is_some_and(|a| a.as_os_str() == "--keep");
    let paths = if keep { args.split_off(1) } else { args };
    if paths.is_empty() {
        eprintln!("usage: read_csv [--keep] FILE.csv [FILE.csv ...]");
        return ExitCode::from(2);
    }
    let start = Instant::now();
    let mut rows = 0;
    let mut kept = Vec::new();
    let outcome = CsvReader::open(&paths, CsvOptions::default()).and_then(|reader| {
        for batch in reader {
            let batch = batch?;
            rows += batch.num_rows();
            if keep {
                kept.push(batch);
            }
        }
        Ok(())
    });
    match outcome {
        Ok(()) => {
            println!("rows {rows} seconds {:.3}", start.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
