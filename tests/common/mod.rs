//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Read;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use dativo_engine::csv::{CsvOptions, CsvReader};

/// Read `data` (named `data.csv` in messages) to the end: the batches, and the reader for its
/// stats.
pub fn read_bytes(data: &[u8], o: CsvOptions) -> dativo_engine::Result<(Vec<RecordBatch>, CsvReader)> {
    let mut r = CsvReader::from_reader("data.csv", Box::new(std::io::Cursor::new(data.to_vec())), o)?;
    let batches = r.by_ref().collect::<dativo_engine::Result<Vec<_>>>()?;
    Ok((batches, r))
}

/// The rows of `data`, as text.
pub fn read(data: &[u8], o: CsvOptions) -> Vec<Vec<String>> {
    rows(&read_bytes(data, o).unwrap().0)
}

/// The error reading `data` fails with.
pub fn error(data: &[u8], o: CsvOptions) -> String {
    match read_bytes(data, o) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// A row of string literals as the `Vec<String>` that [`rows`] returns.
pub fn v(row: &[&str]) -> Vec<String> {
    row.iter().map(|s| s.to_string()).collect()
}

/// Every cell of the batches as text (`null` for nulls), row by row, so tests can compare
/// whole tables at a glance.
pub fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(b.columns().iter().map(|c| cell(c.as_ref(), r)).collect());
        }
    }
    out
}

pub fn cell(a: &dyn Array, r: usize) -> String {
    if a.is_null(r) {
        return "null".into();
    }
    match a.data_type() {
        DataType::Int64 => a.as_primitive::<Int64Type>().value(r).to_string(),
        DataType::Float64 => a.as_primitive::<Float64Type>().value(r).to_string(),
        DataType::Boolean => a.as_boolean().value(r).to_string(),
        DataType::Utf8 => a.as_string::<i32>().value(r).to_string(),
        DataType::Date32 => format!("d{}", a.as_primitive::<Date32Type>().value(r)),
        DataType::Timestamp(..) => format!("t{}", a.as_primitive::<TimestampMicrosecondType>().value(r)),
        other => panic!("unexpected type {other}"),
    }
}

/// A reader that hands out its bytes in pieces of the given sizes, cycled, to prove that
/// results never depend on where reads happen to end.
pub struct Pieces {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    k: usize,
}

impl Pieces {
    pub fn new(data: &[u8], sizes: &[usize]) -> Pieces {
        Pieces { data: data.to_vec(), pos: 0, sizes: sizes.to_vec(), k: 0 }
    }
}

impl Read for Pieces {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let want = self.sizes[self.k % self.sizes.len()].min(out.len());
        self.k += 1;
        let n = want.min(self.data.len() - self.pos);
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
