//! Turns a chunk of records into a typed Arrow record batch. Runs on every core.
//!
//! Work is column-major: first every record is split into field references (no copies
//! unless a field is quoted), then each column is parsed in one tight loop for its type.
//! A field that does not fit marks its row bad; bad rows are filtered out at the end and
//! reported with their line, column and value, so nothing is silently turned into a null.

use std::sync::Arc;

use arrow_array::builder::BooleanBufferBuilder;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use memchr::{memchr, memchr2};

use super::bad_rows::{BadReason, BadRow};
use super::split::{Chunk, BAD_ENCODING, HAS_QUOTE, TOO_LONG, UNTERMINATED};
use super::values;

/// Bits kept in the top of `FieldRef::len`.
const QUOTED: u32 = 1 << 31;
const SCRATCH: u32 = 1 << 30;
const LEN_MASK: u32 = SCRATCH - 1;

/// A field: a range of the chunk's data, or of the scratch buffer for quoted fields (whose
/// doubled quotes had to be removed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldRef {
    start: u32,
    len: u32,
}

impl FieldRef {
    fn quoted(self) -> bool {
        self.len & QUOTED != 0
    }
    pub(crate) fn bytes<'a>(self, data: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        let (s, n) = (self.start as usize, (self.len & LEN_MASK) as usize);
        if self.len & SCRATCH != 0 {
            &scratch[s..s + n]
        } else {
            &data[s..s + n]
        }
    }
}

/// How fields are delimited and what counts as null.
#[derive(Debug, Clone)]
pub(crate) struct Dialect {
    pub delimiter: u8,
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    pub null_values: Vec<Vec<u8>>,
}

impl Dialect {
    /// Whether a field is null. In a string column a quoted field is always a value, so
    /// `""` stays an empty string there.
    #[inline]
    pub(crate) fn is_null(&self, bytes: &[u8], quoted: bool, string_column: bool) -> bool {
        if quoted && string_column {
            return false;
        }
        self.null_values.iter().any(|n| n.as_slice() == bytes)
    }

    /// Split one record into fields, handing each to `out` in order; returns how many.
    /// `offset` is the record's position in the chunk data.
    #[inline]
    pub(crate) fn split_fields(
        &self,
        rec: &[u8],
        offset: u32,
        has_quote: bool,
        scratch: &mut Vec<u8>,
        mut out: impl FnMut(FieldRef),
    ) -> usize {
        let n = rec.len();
        let d = self.delimiter;
        if !has_quote {
            return split_plain(rec, offset, d, out);
        }
        let mut count = 0;
        let q = self.quote;
        let esc = self.escape.filter(|e| Some(*e) != q);
        let mut i = 0;
        loop {
            if i < n && Some(rec[i]) == q {
                let q = rec[i];
                let s_start = scratch.len();
                i += 1;
                loop {
                    let found = match esc {
                        Some(e) => memchr2(q, e, &rec[i..]),
                        None => memchr(q, &rec[i..]),
                    };
                    let Some(p) = found.map(|p| i + p) else {
                        scratch.extend_from_slice(&rec[i..]);
                        i = n;
                        break;
                    };
                    scratch.extend_from_slice(&rec[i..p]);
                    if Some(rec[p]) == esc {
                        if p + 1 < n {
                            scratch.push(rec[p + 1]);
                        }
                        i = p + 2;
                    } else if p + 1 < n && rec[p + 1] == q {
                        scratch.push(q);
                        i = p + 2;
                    } else {
                        i = p + 1;
                        break;
                    }
                }
                // Text between the closing quote and the delimiter is kept, as written.
                let end = memchr(d, &rec[i.min(n)..]).map_or(n, |p| i + p);
                if i < end {
                    scratch.extend_from_slice(&rec[i..end]);
                }
                let len = (scratch.len() - s_start) as u32;
                out(FieldRef { start: s_start as u32, len: len | QUOTED | SCRATCH });
                count += 1;
                i = end;
            } else {
                let end = memchr(d, &rec[i..]).map_or(n, |p| i + p);
                out(FieldRef { start: offset + i as u32, len: (end - i) as u32 });
                count += 1;
                i = end;
            }
            if i >= n {
                break;
            }
            i += 1; // the delimiter
        }
        count
    }
}

/// Split a record without quotes at every delimiter.
///
/// Fields are short (a few bytes), so a `memchr` call per field costs more than the search.
/// Instead this looks at eight bytes at a time (SWAR): a word with a high bit set exactly in
/// the bytes equal to the delimiter, then one step per delimiter found.
#[inline]
fn split_plain(rec: &[u8], offset: u32, d: u8, mut out: impl FnMut(FieldRef)) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let pattern = u64::from_ne_bytes([d; 8]);
    let n = rec.len();
    let mut start = 0usize;
    let mut i = 0usize;
    let mut count = 1; // the last field, after the last delimiter
    let mut words = rec.chunks_exact(8);
    for w in words.by_ref() {
        let x = u64::from_le_bytes(w.try_into().expect("8 bytes")) ^ pattern;
        // High bit set where the byte of x is zero, i.e. where the input byte is `d`
        // (exact: no carry crosses bytes because the low 7 bits are added separately).
        let mut hits = !(((x & LOW7).wrapping_add(LOW7)) | x) & HIGH;
        while hits != 0 {
            let p = i + (hits.trailing_zeros() / 8) as usize;
            out(FieldRef { start: offset + start as u32, len: (p - start) as u32 });
            count += 1;
            start = p + 1;
            hits &= hits - 1;
        }
        i += 8;
    }
    for (k, &c) in words.remainder().iter().enumerate() {
        if c == d {
            let p = i + k;
            out(FieldRef { start: offset + start as u32, len: (p - start) as u32 });
            count += 1;
            start = p + 1;
        }
    }
    out(FieldRef { start: offset + start as u32, len: (n - start) as u32 });
    count
}

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

/// Records of a chunk split into fields, for the good rows.
///
/// Stored column by column (`fields[col * stride + row]`): each column is then parsed in one
/// sequential pass over its own fields, instead of striding over every row's fields.
#[derive(Default)]
pub(crate) struct Tokenized {
    fields: Vec<FieldRef>,
    stride: usize,
    pub scratch: Vec<u8>,
    /// Record index (in the chunk) of each good row.
    pub rows: Vec<usize>,
    pub bad: Vec<(usize, BadRow)>,
}

impl Tokenized {
    #[inline]
    pub(crate) fn field(&self, row: usize, col: usize) -> FieldRef {
        self.fields[col * self.stride + row]
    }

    /// The fields of one column, one per good row.
    fn column(&self, col: usize) -> &[FieldRef] {
        &self.fields[col * self.stride..col * self.stride + self.rows.len()]
    }
}

/// Split every record of the chunk, setting aside records that are already bad.
/// `t` is cleared first; its buffers are reused.
pub(crate) fn tokenize(
    chunk: &Chunk,
    dialect: &Dialect,
    ncols: usize,
    encoding: &'static str,
    max_line_bytes: usize,
    t: &mut Tokenized,
) {
    let data = &chunk.data;
    let utf8_ok = simdutf8::basic::from_utf8(data).is_ok();
    t.scratch.clear();
    t.rows.clear();
    t.bad.clear();
    t.stride = chunk.records.len();
    // Only grown, never cleared: every slot that is read is written first (good rows only).
    if t.fields.len() < t.stride * ncols {
        t.fields.resize(t.stride * ncols, FieldRef { start: 0, len: 0 });
    }
    t.rows.reserve(chunk.records.len());
    for (idx, r) in chunk.records.iter().enumerate() {
        let rec = &data[r.start as usize..r.end as usize];
        let bad = |reason| BadRow {
            line: r.line,
            offset: chunk.base_offset + r.start as u64,
            column: None,
            value: None,
            reason,
            raw: rec.to_vec(),
        };
        let invalid_text = r.flags & BAD_ENCODING != 0 || (!utf8_ok && simdutf8::basic::from_utf8(rec).is_err());
        if r.flags & UNTERMINATED != 0 {
            t.bad.push((idx, bad(BadReason::Unterminated)));
            continue;
        }
        if r.flags & TOO_LONG != 0 {
            t.bad.push((idx, bad(BadReason::TooLong { limit: max_line_bytes })));
            continue;
        }
        if invalid_text {
            t.bad.push((idx, bad(BadReason::Encoding { encoding })));
            continue;
        }
        let scratch_mark = t.scratch.len();
        // Each field goes straight to its column's slot for this row; a ragged record's
        // fields are overwritten by the next good row, since `row` does not advance.
        let (row, stride, fields) = (t.rows.len(), t.stride, &mut t.fields);
        let mut c = 0;
        let found = dialect.split_fields(rec, r.start, r.flags & HAS_QUOTE != 0, &mut t.scratch, |f| {
            if c < ncols {
                fields[c * stride + row] = f;
            }
            c += 1;
        });
        if found != ncols {
            t.scratch.truncate(scratch_mark);
            t.bad.push((idx, bad(BadReason::Ragged { expected: ncols, found })));
            continue;
        }
        t.rows.push(idx);
    }
}

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

pub(crate) fn parse_chunk(
    chunk: &Chunk,
    dialect: &Dialect,
    columns: &[ColumnSpec],
    schema: &SchemaRef,
    encoding: &'static str,
    max_line_bytes: usize,
    t: &mut Tokenized,
) -> crate::Result<ParsedChunk> {
    let ncols = columns.len();
    tokenize(chunk, dialect, ncols, encoding, max_line_bytes, t);
    let nrows = t.rows.len();
    // First bad value of each row, found column by column.
    let mut row_bad: Vec<Option<(usize, BadReason)>> = vec![None; nrows];
    let mut any_bad_value = false;
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(ncols);
    for (c, col) in columns.iter().enumerate() {
        let mut on_bad = |row: usize, reason: BadReason| {
            if row_bad[row].is_none() {
                row_bad[row] = Some((c, reason));
                any_bad_value = true;
            }
        };
        let column = Column { fields: t.column(c), data: &chunk.data, scratch: &t.scratch };
        let array = build_column(col, nrows, &column, dialect, &mut on_bad);
        arrays.push(array);
    }

    let null_warnings = null_warnings(chunk, columns, &arrays, &row_bad, t);
    let mut bad: Vec<(usize, BadRow)> = std::mem::take(&mut t.bad);
    if any_bad_value {
        let keep: BooleanArray = row_bad.iter().map(|b| Some(b.is_none())).collect();
        for a in arrays.iter_mut() {
            *a = arrow_select::filter::filter(a.as_ref(), &keep)?;
        }
        for (row, b) in row_bad.into_iter().enumerate() {
            if let Some((c, reason)) = b {
                let idx = t.rows[row];
                let r = chunk.records[idx];
                let f = t.field(row, c);
                bad.push((
                    idx,
                    BadRow {
                        line: r.line,
                        offset: chunk.base_offset + r.start as u64,
                        column: Some(c),
                        value: Some(f.bytes(&chunk.data, &t.scratch).to_vec()),
                        reason,
                        raw: chunk.data[r.start as usize..r.end as usize].to_vec(),
                    },
                ));
            }
        }
        bad.sort_by_key(|(idx, _)| *idx);
    }
    let batch = RecordBatch::try_new_with_options(
        schema.clone(),
        arrays,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(if any_bad_value {
            nrows - bad.iter().filter(|b| b.1.column.is_some()).count()
        } else {
            nrows
        })),
    )?;
    Ok(ParsedChunk { batch, bad: bad.into_iter().map(|(_, b)| b).collect(), null_warnings })
}

/// The good rows with a null in a `warn_null` column (nothing to do, and no cost, without one).
fn null_warnings(
    chunk: &Chunk,
    columns: &[ColumnSpec],
    arrays: &[ArrayRef],
    row_bad: &[Option<(usize, BadReason)>],
    t: &Tokenized,
) -> Vec<NullWarning> {
    let mut per_row: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (c, _) in columns.iter().enumerate().filter(|(_, col)| col.warn_null) {
        let Some(nulls) = arrays[c].nulls() else { continue };
        for row in (0..row_bad.len()).filter(|&row| nulls.is_null(row) && row_bad[row].is_none()) {
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

/// One column of the tokenized rows.
struct Column<'a> {
    fields: &'a [FieldRef],
    data: &'a [u8],
    scratch: &'a [u8],
}

impl Column<'_> {
    #[inline(always)]
    fn field(&self, row: usize) -> FieldRef {
        self.fields[row]
    }

    /// The field's text, or `None` when it is null.
    #[inline(always)]
    fn value(&self, row: usize, dialect: &Dialect, string_column: bool) -> Option<&[u8]> {
        let f = self.field(row);
        let bytes = f.bytes(self.data, self.scratch);
        if dialect.is_null(bytes, f.quoted(), string_column) {
            None
        } else {
            Some(bytes)
        }
    }
}

fn build_column(
    col: &ColumnSpec,
    nrows: usize,
    column: &Column,
    dialect: &Dialect,
    on_bad: &mut dyn FnMut(usize, BadReason),
) -> ArrayRef {
    let string_column = matches!(col.data_type, DataType::Utf8);
    let mut nulls = Nulls::default();
    // The field of `row`, or the null handling shared by every type (a null in a
    // non-nullable column is a bad row); `$null` is the placeholder value for a null.
    macro_rules! value_or {
        ($row:expr, $null:expr) => {
            match column.value($row, dialect, string_column) {
                Some(bytes) => bytes,
                None => {
                    nulls.rows.push($row as u32);
                    if !col.nullable {
                        on_bad($row, BadReason::NullInRequired);
                    }
                    $null
                }
            }
        };
    }
    macro_rules! primitive {
        ($arrow_type:ty, $parse:expr) => {{
            let mut values = Vec::with_capacity(nrows);
            for row in 0..nrows {
                let bytes = value_or!(row, {
                    values.push(Default::default());
                    continue;
                });
                values.push(match $parse(bytes) {
                    Ok(v) => v,
                    Err(kind) => {
                        on_bad(row, BadReason::Value { kind });
                        Default::default()
                    }
                });
            }
            Arc::new(PrimitiveArray::<$arrow_type>::new(ScalarBuffer::from(values), nulls.finish(nrows))) as ArrayRef
        }};
    }
    match &col.data_type {
        DataType::Int64 => primitive!(Int64Type, values::parse_i64),
        DataType::Float64 => primitive!(Float64Type, values::parse_f64),
        DataType::Date32 => primitive!(Date32Type, values::parse_date),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            let a = primitive!(TimestampMicrosecondType, |b: &[u8]| values::parse_timestamp(b).map(|(v, _)| v));
            let a =
                a.as_any().downcast_ref::<PrimitiveArray<TimestampMicrosecondType>>().expect("timestamp array").clone();
            Arc::new(a.with_timezone_opt(tz.clone()))
        }
        DataType::Boolean => {
            let mut bits = BooleanBufferBuilder::new(nrows);
            for row in 0..nrows {
                let bytes = value_or!(row, {
                    bits.append(false);
                    continue;
                });
                bits.append(values::parse_bool(bytes).unwrap_or_else(|kind| {
                    on_bad(row, BadReason::Value { kind });
                    false
                }));
            }
            Arc::new(BooleanArray::new(bits.finish(), nulls.finish(nrows)))
        }
        DataType::Utf8 => {
            let mut offsets: Vec<i32> = Vec::with_capacity(nrows + 1);
            let total: usize = (0..nrows).map(|row| (column.field(row).len & LEN_MASK) as usize).sum();
            let mut bytes_out: Vec<u8> = vec![0; total];
            let mut end = 0usize;
            offsets.push(0);
            for row in 0..nrows {
                let bytes = value_or!(row, {
                    offsets.push(end as i32);
                    continue;
                });
                copy_short(&mut bytes_out, end, bytes);
                end += bytes.len();
                offsets.push(end as i32);
            }
            bytes_out.truncate(end);
            // SAFETY: the offsets are monotonic and end at `bytes_out.len()`; the bytes are
            // valid UTF-8 because every record reaching this point passed UTF-8 validation in
            // `tokenize`, and fields are cut only at ASCII delimiters and quotes, which never
            // fall inside a multi-byte character.
            let offsets = unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)) };
            let array =
                unsafe { StringArray::new_unchecked(offsets, Buffer::from_vec(bytes_out), nulls.finish(nrows)) };
            Arc::new(array)
        }
        other => unreachable!("column type {other} is rejected when the schema is built"),
    }
}

/// `dst[at..at + src.len()] = src`, for the many short values of a string column: a call to
/// `memcpy` per value costs more than the copy, so values up to 32 bytes are moved as two
/// overlapping fixed-size blocks (fixed sizes compile to plain loads and stores), both inside
/// `dst[at..at + src.len()]`.
#[inline]
fn copy_short(dst: &mut [u8], at: usize, src: &[u8]) {
    fn two<const N: usize>(dst: &mut [u8], at: usize, src: &[u8]) {
        let n = src.len();
        dst[at..at + N].copy_from_slice(&src[..N]);
        dst[at + n - N..at + n].copy_from_slice(&src[n - N..]);
    }
    match src.len() {
        0 => {}
        1..=3 => {
            for (d, s) in dst[at..at + src.len()].iter_mut().zip(src) {
                *d = *s;
            }
        }
        4..=7 => two::<4>(dst, at, src),
        8..=15 => two::<8>(dst, at, src),
        16..=32 => two::<16>(dst, at, src),
        n => dst[at..at + n].copy_from_slice(src),
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

    fn naive(rec: &[u8], d: u8) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, &c) in rec.iter().enumerate() {
            if c == d {
                out.push((start as u32, (i - start) as u32));
                start = i + 1;
            }
        }
        out.push((start as u32, (rec.len() - start) as u32));
        out
    }

    #[test]
    fn word_at_a_time_split_matches_a_byte_loop_everywhere() {
        // Every record of length 0..=20 over {a, ',', 0xC3, 0xA9 (é), 0x2C|0x80}: delimiters in
        // every position of a word, next to bytes that differ from ',' only in the high bit.
        let alphabet = [b'a', b',', 0xC3, 0xA9, 0xAC];
        let mut state = 12345u64;
        for len in 0..=20 {
            for _ in 0..200 {
                let rec: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        alphabet[(state >> 33) as usize % alphabet.len()]
                    })
                    .collect();
                let mut out = Vec::new();
                let n = split_plain(&rec, 7, b',', |f| out.push(f));
                assert_eq!(n, out.len());
                let got: Vec<(u32, u32)> = out.iter().map(|f| (f.start - 7, f.len)).collect();
                assert_eq!(got, naive(&rec, b','), "{rec:?}");
            }
        }
    }

    #[test]
    fn short_copies_write_exactly_the_value() {
        for n in 0..70 {
            let src: Vec<u8> = (0..n as u8).map(|b| b + 1).collect();
            let mut dst = vec![0u8; 3 + n + 5];
            copy_short(&mut dst, 3, &src);
            assert_eq!(&dst[3..3 + n], &src[..]);
            assert!(dst[..3].iter().all(|&b| b == 0));
            assert!(dst[3 + n..].iter().all(|&b| b == 0), "nothing written past the value");
        }
    }
}
