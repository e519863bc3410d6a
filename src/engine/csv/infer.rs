//! Column type inference from a sample of records.
//!
//! Each value votes for the types it fits; a column gets the narrowest type every sampled
//! value fits, in the order boolean, integer, double, date, timestamp — else string. The
//! schema is fixed after sampling: a later value that does not fit is a bad row, never a
//! silent widening.

use arrow_schema::DataType;

use crate::schema::timestamp_type;

use super::fields::{tokenize, Dialect, Tokenized};
use super::records::Chunk;
use super::values;

const BOOL: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 4;
const DATE: u8 = 8;
const TIMESTAMP: u8 = 16;
const ALL: u8 = BOOL | INT | FLOAT | DATE | TIMESTAMP;

pub(crate) fn fits(v: &[u8]) -> u8 {
    if values::parse_bool_strict(v).is_some() {
        return BOOL;
    }
    match values::parse_i64(v) {
        // Leading zeros (zip codes, phone numbers) would be lost as numbers: keep as text.
        Ok(_) if values::has_leading_zero(v) => return 0,
        Ok(_) => return INT | FLOAT,
        // Digits beyond i64 are identifiers, not measurements: a float would round them.
        Err(values::Invalid::Range) => return 0,
        Err(values::Invalid::Syntax) => {}
    }
    match values::parse_f64(v) {
        Ok(_) => return FLOAT,
        // Beyond a double (`1e400`): kept as text, like digits beyond int64.
        Err(values::Invalid::Range) => return 0,
        Err(values::Invalid::Syntax) => {}
    }
    if values::parse_date(v).is_ok() {
        return DATE | TIMESTAMP;
    }
    if values::parse_timestamp(v).is_ok() {
        return TIMESTAMP;
    }
    0
}

/// Infer the type of each of `ncols` columns from the good records of the sample chunks.
pub(crate) fn infer_types(sample: &[Chunk], dialect: &Dialect, ncols: usize, max_rows: usize) -> Vec<DataType> {
    let mut mask = vec![ALL; ncols];
    let mut seen = vec![false; ncols];
    let mut rows = 0;
    let mut t = Tokenized::default();
    'chunks: for chunk in sample {
        // Bad records are ignored here; they are reported when the data is read.
        tokenize(chunk, dialect, ncols, "UTF-8", usize::MAX, &mut t);
        for row in 0..t.rows.len() {
            if rows >= max_rows {
                break 'chunks;
            }
            rows += 1;
            for c in 0..ncols {
                let f = t.field(row, c);
                let bytes = f.bytes(&chunk.data, &t.scratch);
                if dialect.is_null(bytes, false, false) {
                    continue;
                }
                seen[c] = true;
                mask[c] &= fits(bytes);
            }
        }
    }
    (0..ncols)
        .map(|c| {
            let m = mask[c];
            if !seen[c] {
                DataType::Utf8 // no evidence: the only type every value fits
            } else if m & BOOL != 0 {
                DataType::Boolean
            } else if m & INT != 0 {
                DataType::Int64
            } else if m & FLOAT != 0 {
                DataType::Float64
            } else if m & DATE != 0 {
                DataType::Date32
            } else if m & TIMESTAMP != 0 {
                timestamp_type()
            } else {
                DataType::Utf8
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_fits_the_expected_types() {
        assert_eq!(fits(b"true"), BOOL);
        assert_eq!(fits(b"12"), INT | FLOAT);
        assert_eq!(fits(b"007"), 0);
        assert_eq!(fits(b"123456789012345678901234"), 0);
        assert_eq!(fits(b"1.5"), FLOAT);
        assert_eq!(fits(b"2024-01-02"), DATE | TIMESTAMP);
        assert_eq!(fits(b"2024-01-02 03:04:05"), TIMESTAMP);
        assert_eq!(fits(b"hello"), 0);
    }
}
