//! Read CSV files with the Rust API and count the rows: the Rust side of the binding-overhead
//! benchmark (benches/read_overhead/run), which times the same read through the C API.
//!
//! Usage: cargo run --release --example read_csv -- FILE.csv [FILE.csv ...]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use dativo::csv::{CsvOptions, CsvReader};

fn main() -> ExitCode {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        eprintln!("usage: read_csv FILE.csv [FILE.csv ...]");
        return ExitCode::from(2);
    }
    let start = Instant::now();
    let mut rows = 0;
    let outcome = CsvReader::open(&paths, CsvOptions::default()).and_then(|reader| {
        for batch in reader {
            rows += batch?.num_rows();
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
