//! Turns a chunk of records into a typed Arrow record batch. Runs on every core.
//!
//! Work is column-major: first every record is split into field references (no copies
//! unless a field is quoted, see `fields`), then each column is parsed in one tight loop for
//! its type. A field that does not fit marks its row bad; bad rows are filtered out at the end
//! and reported with their line, column and value, so nothing is silently turned into a null.

use std::collections::BTreeMap;
use std::mem::MaybeUninit;
use std::sync::Arc;

use arrow_array::builder::BooleanBufferBuilder;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, SchemaRef, TimeUnit};

use super::bad_rows::{BadReason, BadRow};
use super::fields::{tokenize_block, Dialect, FieldRef, Tokenized, LEN_MASK};
use super::records::Chunk;
use super::values::{self, Invalid};

/// A column of the output and how to parse it.
#[derive(Debug, Clone)]
pub(crate) struct ColumnSpec {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    pub pinned: bool,
    /// A null here is kept but reported (`CsvOptions::warn_null_columns`).
    pub warn_null: bool,
}

/// Rows tokenized and parsed together. A chunk (a whole batch, 65,536 rows by default) is
/// several MB of text plus its field table; parsed column by column in one piece, each column
/// pass streams it all again from L3 or memory. Blocks of this many rows (~400 KB of text for
/// 100-byte rows, and their field table) stay in L2 while each of their columns is parsed.
const BLOCK_ROWS: usize = 4096;

/// The parsed chunk: good rows as a batch, and the bad rows in record order.
pub(crate) struct ParsedChunk {
    pub batch: RecordBatch,
    pub bad: Vec<BadRow>,
    /// Good rows with a null in a `warn_null` column, in record order.
    pub null_warnings: Vec<NullWarning>,
}

/// A kept row with nulls in columns that should not have any.
#[derive(Debug, Clone)]
pub(crate) struct NullWarning {
    pub line: u64,
    pub columns: Vec<usize>,
}

/// The first bad value of each row that has one, by row: its column, why, and the field (to
/// report its text). Bad rows are rare: a map costs nothing per good row, unlike a slot each.
type FirstBad = BTreeMap<usize, (usize, BadReason, FieldRef)>;

pub(crate) fn parse_chunk(
    chunk: &Chunk,
    dialect: &Dialect,
    columns: &[ColumnSpec],
    schema: &SchemaRef,
    encoding: &'static str,
    max_line_bytes: usize,
    t: &mut Tokenized,
) -> crate::Result<ParsedChunk> {
    let block_rows = if t.block_rows == 0 { BLOCK_ROWS } else { t.block_rows };
    let ncols = columns.len();
    let nrec = chunk.records.len();
    let mut builders: Vec<ColumnBuilder> = columns.iter().map(|c| ColumnBuilder::new(&c.data_type, nrec)).collect();
    let mut row_bad = FirstBad::new();
    t.clear();
    let mut start = 0;
    while start < nrec {
        let end = start.saturating_add(block_rows).min(nrec);
        tokenize_block(chunk, start..end, dialect, ncols, encoding, max_line_bytes, t);
        let first = t.first_row;
        for (c, (col, builder)) in columns.iter().zip(&mut builders).enumerate() {
            let column = Column { fields: t.column(c), first_row: first, data: &chunk.data, scratch: &t.scratch };
            let mut on_bad = |row: usize, reason: BadReason| {
                // Columns are parsed in order, so the first entry of a row is its first bad column.
                row_bad.entry(row).or_insert((c, reason, column.fields[row - first]));
            };
            builder.append(col, &column, dialect, &mut on_bad);
        }
        start = end;
    }
    let nrows = t.rows.len();
    let mut arrays: Vec<ArrayRef> = columns.iter().zip(builders).map(|(col, b)| b.finish(&col.data_type)).collect();

    let null_warnings = null_warnings(chunk, columns, &arrays, &row_bad, t);
    let mut bad: Vec<(usize, BadRow)> = std::mem::take(&mut t.bad);
    let kept_rows = nrows - row_bad.len();
    if !row_bad.is_empty() {
        let keep: BooleanArray = (0..nrows).map(|row| Some(!row_bad.contains_key(&row))).collect();
        for a in arrays.iter_mut() {
            *a = arrow_select::filter::filter(a.as_ref(), &keep)?;
        }
        for (row, (c, reason, f)) in row_bad {
            let idx = t.rows[row];
            let r = chunk.records[idx];
            bad.push((
                idx,
                BadRow {
                    line: r.line,
                    offset: chunk.base_offset + r.start as u64,
                    column: Some(c),
                    value: Some(f.bytes(&chunk.data, &t.scratch).to_vec()),
                    reason,
                    raw: chunk.data[r.start as usize..r.end as usize].to_vec(),
                    raw_len: None,
                },
            ));
        }
        bad.sort_by_key(|(idx, _)| *idx);
    }
    let batch = RecordBatch::try_new_with_options(
        schema.clone(),
        arrays,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(kept_rows)),
    )?;
    Ok(ParsedChunk { batch, bad: bad.into_iter().map(|(_, b)| b).collect(), null_warnings })
}

/// The good rows with a null in a `warn_null` column (nothing to do, and no cost, without one).
fn null_warnings(
    chunk: &Chunk,
    columns: &[ColumnSpec],
    arrays: &[ArrayRef],
    row_bad: &FirstBad,
    t: &Tokenized,
) -> Vec<NullWarning> {
    let mut per_row: BTreeMap<usize, Vec<usize>> = Default::default();
    for (c, _) in columns.iter().enumerate().filter(|(_, col)| col.warn_null) {
        let Some(nulls) = arrays[c].nulls() else { continue };
        for row in (0..t.rows.len()).filter(|&row| nulls.is_null(row) && !row_bad.contains_key(&row)) {
            per_row.entry(row).or_default().push(c);
        }
    }
    per_row.into_iter().map(|(row, columns)| NullWarning { line: chunk.records[t.rows[row]].line, columns }).collect()
}

/// The null rows of a column, as indices: nulls are rare (most columns have none), so this is
/// cheaper than a bitmap bit per value; the bitmap is built only when there is a null.
#[derive(Default)]
struct Nulls {
    rows: Vec<u32>,
}

impl Nulls {
    fn finish(self, len: usize) -> Option<NullBuffer> {
        if self.rows.is_empty() {
            return None;
        }
        let mut bits = BooleanBufferBuilder::new(len);
        bits.append_n(len, true);
        for r in self.rows {
            bits.set_bit(r as usize, false);
        }
        Some(NullBuffer::new(bits.finish()))
    }
}

/// One column of a block of tokenized rows.
struct Column<'a> {
    fields: &'a [FieldRef],
    /// Row number (in the chunk's good rows) of `fields[0]`.
    first_row: usize,
    data: &'a [u8],
    scratch: &'a [u8],
}

/// The values of one column, gathered block by block.
enum Values {
    Int64(Vec<i64>),
    Float64(Vec<f64>),
    Date32(Vec<i32>),
    Timestamp(Vec<i64>),
    Boolean(BooleanBufferBuilder),
    Utf8 { offsets: Vec<i32>, bytes: Vec<u8> },
}

struct ColumnBuilder {
    values: Values,
    nulls: Nulls,
}

impl ColumnBuilder {
    fn new(data_type: &DataType, capacity: usize) -> Self {
        let values = match data_type {
            DataType::Int64 => Values::Int64(Vec::with_capacity(capacity)),
            DataType::Float64 => Values::Float64(Vec::with_capacity(capacity)),
            DataType::Date32 => Values::Date32(Vec::with_capacity(capacity)),
            DataType::Timestamp(TimeUnit::Microsecond, _) => Values::Timestamp(Vec::with_capacity(capacity)),
            DataType::Boolean => Values::Boolean(BooleanBufferBuilder::new(capacity)),
            DataType::Utf8 => {
                let mut offsets = Vec::with_capacity(capacity + 1);
                offsets.push(0);
                Values::Utf8 { offsets, bytes: Vec::new() }
            }
            other => unreachable!("column type {other} is rejected when the schema is built"),
        };
        ColumnBuilder { values, nulls: Nulls::default() }
    }

    /// Parse one block of the column. `on_bad` gets the row (counted over the chunk) of a
    /// value that does not fit, or of a null in a column that does not allow one.
    fn append(
        &mut self,
        col: &ColumnSpec,
        column: &Column,
        dialect: &Dialect,
        on_bad: &mut dyn FnMut(usize, BadReason),
    ) {
        let string_column = matches!(self.values, Values::Utf8 { .. });
        let nulls = &mut self.nulls;
        let nulls_before = nulls.rows.len();
        // The text of each field, or `None` for a null (recorded here, for every type).
        let fields = column.fields.iter().enumerate().map(|(i, f)| {
            let row = column.first_row + i;
            let bytes = f.bytes(column.data, column.scratch);
            if dialect.is_null(bytes, f.quoted(), string_column) {
                nulls.rows.push(row as u32);
                (row, None)
            } else {
                (row, Some(bytes))
            }
        });
        // Nulls get the type's default value as a placeholder; so do values that do not fit,
        // whose rows are filtered out later.
        fn primitive<'a, T: Default>(
            out: &mut Vec<T>,
            fields: impl Iterator<Item = (usize, Option<&'a [u8]>)>,
            on_bad: &mut dyn FnMut(usize, BadReason),
            parse: impl Fn(&[u8]) -> Result<T, Invalid>,
        ) {
            for (row, bytes) in fields {
                out.push(match bytes.map(&parse) {
                    None => T::default(),
                    Some(Ok(v)) => v,
                    Some(Err(kind)) => {
                        on_bad(row, BadReason::Value { kind });
                        T::default()
                    }
                });
            }
        }
        match &mut self.values {
            Values::Int64(out) => primitive(out, fields, on_bad, values::parse_i64),
            Values::Float64(out) => primitive(out, fields, on_bad, values::parse_f64),
            Values::Date32(out) => primitive(out, fields, on_bad, values::parse_date),
            Values::Timestamp(out) => {
                primitive(out, fields, on_bad, |b: &[u8]| values::parse_timestamp(b).map(|(v, _)| v))
            }
            Values::Boolean(bits) => {
                for (row, bytes) in fields {
                    bits.append(bytes.is_some_and(|b| {
                        values::parse_bool(b).unwrap_or_else(|kind| {
                            on_bad(row, BadReason::Value { kind });
                            false
                        })
                    }));
                }
            }
            Values::Utf8 { offsets, bytes: out } => {
                let block_bytes: usize = column.fields.iter().map(|f| (f.len & LEN_MASK) as usize).sum();
                if out.capacity() == 0 && !column.fields.is_empty() {
                    // Sized for the whole chunk from its first block (with 1/8 to spare, and
                    // never more than the chunk's text), so the buffer is not grown and copied
                    // block after block.
                    let rows = offsets.capacity().saturating_sub(1).max(column.fields.len());
                    let estimate = (block_bytes / column.fields.len()).saturating_mul(rows);
                    let estimate = estimate.saturating_add(estimate / 8);
                    out.reserve(estimate.min(column.data.len()) + block_bytes);
                }
                out.reserve(block_bytes);
                // Values are copied into the spare capacity with fixed-size moves
                // (`copy_short`), without zeroing it first.
                let start = out.len();
                let spare = &mut out.spare_capacity_mut()[..block_bytes];
                let mut end = 0;
                for (_, bytes) in fields {
                    if let Some(bytes) = bytes {
                        copy_short(spare, end, bytes);
                        end += bytes.len();
                    }
                    offsets.push((start + end) as i32);
                }
                // SAFETY: `spare[..end]` was written: the values, back to back from 0.
                unsafe { out.set_len(start + end) };
            }
        }
        // A row is either null or a value in one column, so reporting these after the values
        // keeps "first bad column of each row" exact.
        if !col.nullable {
            for &row in &self.nulls.rows[nulls_before..] {
                on_bad(row as usize, BadReason::NullInRequired);
            }
        }
    }

    fn finish(self, data_type: &DataType) -> ArrayRef {
        let len = match &self.values {
            Values::Int64(v) | Values::Timestamp(v) => v.len(),
            Values::Float64(v) => v.len(),
            Values::Date32(v) => v.len(),
            Values::Boolean(b) => b.len(),
            Values::Utf8 { offsets, .. } => offsets.len() - 1,
        };
        let nulls = self.nulls.finish(len);
        match self.values {
            Values::Int64(v) => Arc::new(PrimitiveArray::<Int64Type>::new(v.into(), nulls)),
            Values::Float64(v) => Arc::new(PrimitiveArray::<Float64Type>::new(v.into(), nulls)),
            Values::Date32(v) => Arc::new(PrimitiveArray::<Date32Type>::new(v.into(), nulls)),
            Values::Timestamp(v) => {
                let tz = match data_type {
                    DataType::Timestamp(_, tz) => tz.clone(),
                    _ => None,
                };
                Arc::new(PrimitiveArray::<TimestampMicrosecondType>::new(v.into(), nulls).with_timezone_opt(tz))
            }
            Values::Boolean(mut bits) => Arc::new(BooleanArray::new(bits.finish(), nulls)),
            Values::Utf8 { offsets, bytes } => {
                // SAFETY: the offsets are monotonic and end at `bytes.len()`; the bytes are
                // valid UTF-8 because every record reaching this point passed UTF-8 validation
                // in `tokenize_block`, and fields are cut only at ASCII delimiters and quotes,
                // which never fall inside a multi-byte character.
                let offsets = unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)) };
                Arc::new(unsafe { StringArray::new_unchecked(offsets, Buffer::from_vec(bytes), nulls) })
            }
        }
    }
}

/// `dst[at..at + src.len()] = src`, for the many short values of a string column: a call to
/// `memcpy` per value costs more than the copy, so values up to 32 bytes are moved as two
/// overlapping fixed-size blocks (fixed sizes compile to plain loads and stores), both inside
/// `dst[at..at + src.len()]`. `dst` may be uninitialized (a vector's spare capacity).
#[inline]
fn copy_short(dst: &mut [MaybeUninit<u8>], at: usize, src: &[u8]) {
    fn block<const N: usize>(dst: &mut [MaybeUninit<u8>], at: usize, src: &[u8]) {
        let src: [u8; N] = src.try_into().expect("N bytes");
        let dst: &mut [MaybeUninit<u8>; N] = (&mut dst[at..at + N]).try_into().expect("N bytes");
        *dst = src.map(MaybeUninit::new);
    }
    fn two<const N: usize>(dst: &mut [MaybeUninit<u8>], at: usize, src: &[u8]) {
        let n = src.len();
        block::<N>(dst, at, &src[..N]);
        block::<N>(dst, at + n - N, &src[n - N..]);
    }
    match src.len() {
        0 => {}
        1..=3 => {
            for (d, s) in dst[at..at + src.len()].iter_mut().zip(src) {
                d.write(*s);
            }
        }
        4..=7 => two::<4>(dst, at, src),
        8..=15 => two::<8>(dst, at, src),
        16..=32 => two::<16>(dst, at, src),
        n => {
            for (d, s) in dst[at..at + n].iter_mut().zip(src) {
                d.write(*s);
            }
        }
    }
}

/// Types the reader can produce; anything else in a user schema is a config error.
pub(crate) fn supported_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int64
            | DataType::Float64
            | DataType::Boolean
            | DataType::Utf8
            | DataType::Date32
            | DataType::Timestamp(TimeUnit::Microsecond, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::records::HAS_QUOTE;

    /// A chunk of the given lines (one record each, as the splitter would cut them).
    fn chunk_of(lines: &[&[u8]]) -> Chunk {
        let (mut data, mut records) = (Vec::new(), Vec::new());
        for (i, line) in lines.iter().enumerate() {
            let start = data.len() as u32;
            data.extend_from_slice(line);
            let flags = if line.contains(&b'"') { HAS_QUOTE } else { 0 };
            records.push(crate::csv::records::RecordSpan { start, end: data.len() as u32, line: i as u64 + 2, flags });
            data.push(b'\n');
        }
        Chunk { data, records, cut: Vec::new(), base_offset: 0 }
    }

    #[test]
    fn results_do_not_depend_on_the_block_size() {
        // Good rows, bad values, nulls (allowed and not), ragged rows, quoted fields that go
        // through the scratch buffer, invalid UTF-8, spread so that blocks of every size below
        // cut between and across them.
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for i in 0..500u32 {
            lines.push(match i % 11 {
                0 => format!("{i},\"say \"\"hi\"\", {i}\",2024-01-02T03:04:05,true,{i}.5,2024-02-0{}", i % 9 + 1)
                    .into_bytes(),
                3 => format!("{i},x,not a time,true,1,2024-01-01").into_bytes(),
                5 => b",null id,2024-01-02,false,,2024-01-01".to_vec(),
                7 => format!("{i},ragged").into_bytes(),
                8 => [format!("{i},bad ").as_bytes(), &[0xff, 0xfe], b",2024-01-01,true,1,2024-01-01"].concat(),
                9 => format!("{i},,,,,").into_bytes(),
                _ => format!("{i},name {i},2024-03-04 05:06:07.{i},{},{i}e-1,2020-12-31", i % 2 == 0).into_bytes(),
            });
        }
        let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_slice()).collect();
        let chunk = chunk_of(&lines);
        let types = [
            ("id", DataType::Int64, false),
            ("name", DataType::Utf8, true),
            ("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            ("flag", DataType::Boolean, true),
            ("amount", DataType::Float64, true),
            ("day", DataType::Date32, true),
        ];
        let columns: Vec<ColumnSpec> = types
            .iter()
            .map(|(n, t, nullable)| ColumnSpec {
                name: n.to_string(),
                data_type: t.clone(),
                nullable: *nullable,
                pinned: true,
                warn_null: *n == "amount",
            })
            .collect();
        let schema: SchemaRef = Arc::new(arrow_schema::Schema::new(
            types.iter().map(|(n, t, nullable)| arrow_schema::Field::new(*n, t.clone(), *nullable)).collect::<Vec<_>>(),
        ));
        let dialect = Dialect::new(b",", Some(b'"'), None, vec![Vec::new()]);
        let parse = |block_rows| {
            let mut t = Tokenized::default();
            t.block_rows = block_rows;
            let p = parse_chunk(&chunk, &dialect, &columns, &schema, "UTF-8", 1 << 20, &mut t).expect("parse");
            let warnings: Vec<(u64, Vec<usize>)> =
                p.null_warnings.iter().map(|w| (w.line, w.columns.clone())).collect();
            (p.batch, format!("{:?}", p.bad), warnings)
        };
        let whole = parse(usize::MAX);
        assert_eq!(whole.0.num_rows(), 500 - 4 * 45 - 1, "every kind of bad row is set aside");
        let names = whole.0.column(1).as_any().downcast_ref::<StringArray>().expect("strings");
        assert_eq!(names.value(0), "say \"hi\", 0", "a quoted field, unescaped");
        assert!(!whole.2.is_empty(), "null warnings for the amount column");
        for block_rows in [1, 2, 3, 7, 64, 4096] {
            let got = parse(block_rows);
            assert_eq!(got.0, whole.0, "batch with blocks of {block_rows}");
            assert_eq!(got.1, whole.1, "bad rows with blocks of {block_rows}");
            assert_eq!(got.2, whole.2, "null warnings with blocks of {block_rows}");
        }
    }

    #[test]
    fn short_copies_write_exactly_the_value() {
        for n in 0..70 {
            let src: Vec<u8> = (0..n as u8).map(|b| b + 1).collect();
            let mut dst = vec![MaybeUninit::new(0u8); 3 + n + 5];
            copy_short(&mut dst, 3, &src);
            // SAFETY: every element was initialized (to 0) before the copy.
            let dst: Vec<u8> = dst.into_iter().map(|b| unsafe { b.assume_init() }).collect();
            assert_eq!(&dst[3..3 + n], &src[..]);
            assert!(dst[..3].iter().all(|&b| b == 0));
            assert!(dst[3 + n..].iter().all(|&b| b == 0), "nothing written past the value");
        }
    }
}
