//! Turns a chunk of records into a typed Arrow record batch. Runs on every core.
//!
//! Work is column-major: first every record is split into field references (no copies
//! unless a field is quoted), then each column is parsed in one tight loop for its type.
//! A field that does not fit marks its row bad; bad rows are filtered out at the end and
//! reported with their line, column and value, so nothing is silently turned into a null.

use std::collections::BTreeMap;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::builder::BooleanBufferBuilder;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use memchr::{memchr, memchr2};

use super::bad_rows::{BadReason, BadRow};
use super::split::{Chunk, BAD_ENCODING, HAS_QUOTE, TOO_LONG, UNTERMINATED};
use super::values::{self, Invalid};

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
    null_values: Vec<Vec<u8>>,
    /// Bit `n` set when a null value has `n` bytes (bit 63: 63 or more), so most fields are
    /// ruled out by their length alone, without looking at the list.
    null_lengths: u64,
}

impl Dialect {
    pub(crate) fn new(delimiter: u8, quote: Option<u8>, escape: Option<u8>, null_values: Vec<Vec<u8>>) -> Self {
        let null_lengths = null_values.iter().fold(0, |bits, n| bits | 1u64 << n.len().min(63));
        Dialect { delimiter, quote, escape, null_values, null_lengths }
    }

    /// Whether a field is null. In a string column a quoted field is always a value, so
    /// `""` stays an empty string there.
    #[inline]
    pub(crate) fn is_null(&self, bytes: &[u8], quoted: bool, string_column: bool) -> bool {
        if self.null_lengths >> bytes.len().min(63) & 1 == 0 || (quoted && string_column) {
            return false;
        }
        // Empty fields (the usual null) are decided without a call to `memcmp`.
        bytes.is_empty() || self.null_values.iter().any(|n| n.as_slice() == bytes)
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
/// Instead each 64 bytes of the record become one bit mask of delimiter positions
/// ([`delimiter_mask`]), and the fields are cut at its set bits. Looping over the bits of a
/// whole mask, not of each 8-byte word, keeps the loop's exits predictable: a word holds zero,
/// one or two delimiters at random, a 64-byte mask about six.
#[inline]
fn split_plain(rec: &[u8], offset: u32, d: u8, mut out: impl FnMut(FieldRef)) -> usize {
    let mut start = 0usize;
    let mut count = 1; // the last field, after the last delimiter
    let mut cut = |mut mask: u64, base: usize| {
        while mask != 0 {
            let p = base + mask.trailing_zeros() as usize;
            out(FieldRef { start: offset + start as u32, len: (p - start) as u32 });
            count += 1;
            start = p + 1;
            mask &= mask - 1;
        }
    };
    let mut blocks = rec.chunks_exact(64);
    let mut base = 0;
    for block in blocks.by_ref() {
        cut(delimiter_mask(block.try_into().expect("64 bytes"), d), base);
        base += 64;
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padded with a byte that is not the delimiter.
        let mut last = [!d; 64];
        last[..rest.len()].copy_from_slice(rest);
        cut(delimiter_mask(&last, d), base);
    }
    out(FieldRef { start: offset + start as u32, len: (rec.len() - start) as u32 });
    count
}

/// Bit `i` set where `block[i] == d`.
#[inline(always)]
fn delimiter_mask(block: &[u8; 64], d: u8) -> u64 {
    #[cfg(target_arch = "x86_64")]
    return delimiter_mask_sse2(block, d);
    #[cfg(not(target_arch = "x86_64"))]
    return delimiter_mask_swar(block, d);
}

/// [`delimiter_mask`] with SSE2, which every x86-64 CPU has: a compare and a byte-mask move
/// per 16 bytes (12 instructions per block against ~100 for the word-at-a-time version).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn delimiter_mask_sse2(block: &[u8; 64], d: u8) -> u64 {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut mask = 0u64;
    // SAFETY: SSE2 is part of the x86-64 baseline, so the target always has it; each load
    // reads 16 bytes inside `block` (k < 4) and has no alignment requirement.
    unsafe {
        let pattern = _mm_set1_epi8(d as i8);
        for k in 0..4 {
            let bytes = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
            let hits = _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, pattern)) as u16;
            mask |= u64::from(hits) << (16 * k);
        }
    }
    mask
}

/// [`delimiter_mask`] eight bytes at a time in plain integer arithmetic (SWAR), for targets
/// without a vector instruction set dativo assumes.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn delimiter_mask_swar(block: &[u8; 64], d: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Moves bit 8j to bit 56 + j for every j at once: the partial products never overlap, so
    // no carry disturbs the top byte.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let pattern = u64::from_ne_bytes([d; 8]);
    let mut mask = 0u64;
    for (k, w) in block.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(w.try_into().expect("8 bytes")) ^ pattern;
        // High bit set where the byte of x is zero, i.e. where the input byte is `d`
        // (exact: no carry crosses bytes because the low 7 bits are added separately).
        let hits = !(((x & LOW7).wrapping_add(LOW7)) | x) & HIGH;
        mask |= ((hits >> 7).wrapping_mul(GATHER) >> 56) << (8 * k);
    }
    mask
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

/// Rows tokenized and parsed together. A chunk (a whole batch, 65,536 rows by default) is
/// several MB of text plus its field table; parsed column by column in one piece, each column
/// pass streams it all again from L3 or memory. Blocks of this many rows (~400 KB of text for
/// 100-byte rows, and their field table) stay in L2 while each of their columns is parsed.
const BLOCK_ROWS: usize = 4096;

/// Records of a chunk split into fields, for the good rows.
///
/// `rows` and `bad` cover the whole chunk; `fields` holds the current block only, stored
/// column by column (`fields[col * stride + row - first_row]`): each column is then parsed in
/// one sequential pass over its own fields, instead of striding over every row's fields.
#[derive(Default)]
pub(crate) struct Tokenized {
    fields: Vec<FieldRef>,
    stride: usize,
    /// Index in `rows` of the current block's first good row.
    first_row: usize,
    /// Rows per block in `parse_chunk`; 0 (the default) means `BLOCK_ROWS`. Tests vary it.
    block_rows: usize,
    pub scratch: Vec<u8>,
    /// Record index (in the chunk) of each good row.
    pub rows: Vec<usize>,
    pub bad: Vec<(usize, BadRow)>,
}

impl Tokenized {
    /// The field of a good row of the current block (`row` counts from the chunk's start).
    #[inline]
    pub(crate) fn field(&self, row: usize, col: usize) -> FieldRef {
        self.fields[col * self.stride + row - self.first_row]
    }

    /// The fields of one column, one per good row of the current block.
    fn column(&self, col: usize) -> &[FieldRef] {
        let start = col * self.stride;
        &self.fields[start..start + self.rows.len() - self.first_row]
    }

    fn clear(&mut self) {
        self.scratch.clear();
        self.rows.clear();
        self.bad.clear();
        self.first_row = 0;
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
    t.clear();
    tokenize_block(chunk, 0..chunk.records.len(), dialect, ncols, encoding, max_line_bytes, t);
}

/// Split the records `block` of the chunk: their good rows are appended to `t.rows` and
/// become the current block of `t.fields`; bad records are appended to `t.bad`.
fn tokenize_block(
    chunk: &Chunk,
    block: Range<usize>,
    dialect: &Dialect,
    ncols: usize,
    encoding: &'static str,
    max_line_bytes: usize,
    t: &mut Tokenized,
) {
    let data = &chunk.data;
    let records = &chunk.records[block.clone()];
    // Records are in data order: one validation of the block's text, record by record only
    // when it fails. (It also warms the cache for the passes below.)
    let utf8_ok = match (records.first(), records.last()) {
        (Some(first), Some(last)) => {
            let (lo, hi) = (first.start as usize, (last.end as usize).max(first.start as usize));
            simdutf8::basic::from_utf8(&data[lo..hi]).is_ok()
        }
        _ => true,
    };
    t.first_row = t.rows.len();
    // One cache line more than the rows: with a power-of-two stride (4096 rows x 8 bytes), a
    // row's slots in every column would fall into the same L1 set and evict each other.
    t.stride = records.len() + 8;
    // Only grown, never cleared: every slot that is read is written first (good rows only).
    if t.fields.len() < t.stride * ncols {
        t.fields.resize(t.stride * ncols, FieldRef { start: 0, len: 0 });
    }
    t.rows.reserve(records.len());
    for (idx, r) in block.zip(records) {
        let rec = &data[r.start as usize..r.end as usize];
        let bad = |reason| BadRow {
            line: r.line,
            offset: chunk.base_offset + r.start as u64,
            column: None,
            value: None,
            reason,
            raw: rec.to_vec(),
            raw_len: chunk.cut.iter().find(|c| c.0 == idx).map(|c| (c.1, c.2)),
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
        let (row, stride, fields) = (t.rows.len() - t.first_row, t.stride, &mut t.fields);
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
        // Records of length 0..=20 and around the 64-byte blocks, over {a, ',', 0xC3, 0xA9 (é),
        // 0x2C|0x80}: delimiters in every position of a word, next to bytes that differ from ',' only
        // in the high bit.
        let alphabet = [b'a', b',', 0xC3, 0xA9, 0xAC];
        let mut state = 12345u64;
        for len in (0..=20).chain([63, 64, 65, 100, 127, 128, 129, 200]) {
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
    fn null_values_match_exactly_whatever_their_length() {
        let long = vec![b'x'; 70];
        let d = Dialect::new(b',', Some(b'"'), None, vec![b"".to_vec(), b"NULL".to_vec(), long.clone()]);
        let longer_by_one = vec![b'x'; 71];
        let same_length_other = [&long[..69], b"y"].concat();
        for (text, null) in [
            (&b""[..], true),
            (b"NULL", true),
            (b"NUL", false),
            (b"null", false),
            (b"NULLS", false),
            (&long, true),
            (&longer_by_one, false),
            (&same_length_other, false),
            (&long[..63], false),
        ] {
            assert_eq!(d.is_null(text, false, false), null, "{:?}", String::from_utf8_lossy(text));
            // In a string column a quoted field is a value, whatever its text.
            assert!(!d.is_null(text, true, true));
            assert_eq!(d.is_null(text, true, false), null);
        }
        assert!(!Dialect::new(b',', None, None, vec![]).is_null(b"", false, false));
        assert!(!Dialect::new(b',', None, None, vec![b"NULL".to_vec()]).is_null(b"", false, false));
    }

    /// Every implementation of the delimiter mask agrees with a byte loop, whichever one
    /// this target uses (the split test above covers only that one).
    #[test]
    fn delimiter_masks_agree_with_a_byte_loop() {
        let alphabet = [b'a', b',', b';', 0xAC, 0x2D, 0x2B, 0x00, 0xFF];
        let mut state = 99u64;
        for _ in 0..20_000 {
            let mut block = [0u8; 64];
            for b in block.iter_mut() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *b = alphabet[(state >> 33) as usize % alphabet.len()];
            }
            for d in [b',', b';', 0x00, 0xFF] {
                let want = block.iter().enumerate().fold(0u64, |m, (i, &c)| m | (u64::from(c == d) << i));
                assert_eq!(delimiter_mask_swar(&block, d), want, "{block:?}");
                #[cfg(target_arch = "x86_64")]
                assert_eq!(delimiter_mask_sse2(&block, d), want, "{block:?}");
            }
        }
    }

    /// A chunk of the given lines (one record each, as the splitter would cut them).
    fn chunk_of(lines: &[&[u8]]) -> Chunk {
        let (mut data, mut records) = (Vec::new(), Vec::new());
        for (i, line) in lines.iter().enumerate() {
            let start = data.len() as u32;
            data.extend_from_slice(line);
            let flags = if line.contains(&b'"') { HAS_QUOTE } else { 0 };
            records.push(super::super::split::RecordSpan { start, end: data.len() as u32, line: i as u64 + 2, flags });
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
        let dialect = Dialect::new(b',', Some(b'"'), None, vec![Vec::new()]);
        let parse = |block_rows| {
            let mut t = Tokenized { block_rows, ..Default::default() };
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
