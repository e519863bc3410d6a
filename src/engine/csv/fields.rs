//! Splits records into fields. Runs on every core, inside the column builder.
//!
//! A record without quotes is cut at every delimiter found by a 64-byte bit mask (SSE2 on
//! x86-64, plain integer SWAR elsewhere); a record with quotes goes through a byte loop that
//! removes the quoting into a scratch buffer. Fields are references into the chunk's text
//! (or the scratch buffer), never copies.

use std::ops::Range;

use memchr::{memchr, memchr2};

use super::bad_rows::{BadReason, BadRow};
use super::records::{Chunk, BAD_ENCODING, HAS_QUOTE, TOO_LONG, UNTERMINATED};

/// Bits kept in the top of `FieldRef::len`.
const QUOTED: u32 = 1 << 31;
const SCRATCH: u32 = 1 << 30;
pub(crate) const LEN_MASK: u32 = SCRATCH - 1;

/// A field: a range of the chunk's data, or of the scratch buffer for quoted fields (whose
/// doubled quotes had to be removed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldRef {
    start: u32,
    pub(crate) len: u32,
}

impl FieldRef {
    pub(crate) fn quoted(self) -> bool {
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
    /// The delimiter when it is one byte (the fast path), else its first byte.
    pub delimiter: u8,
    /// A delimiter of several bytes (`+|`): fields are cut by a substring search instead of
    /// the byte masks.
    long_delimiter: Option<memchr::memmem::Finder<'static>>,
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    null_values: Vec<Vec<u8>>,
    /// Bit `n` set when a null value has `n` bytes (bit 63: 63 or more), so most fields are
    /// ruled out by their length alone, without looking at the list.
    null_lengths: u64,
}

impl Dialect {
    pub(crate) fn new(delimiter: &[u8], quote: Option<u8>, escape: Option<u8>, null_values: Vec<Vec<u8>>) -> Self {
        let null_lengths = null_values.iter().fold(0, |bits, n| bits | 1u64 << n.len().min(63));
        let long_delimiter = (delimiter.len() > 1).then(|| memchr::memmem::Finder::new(delimiter).into_owned());
        Dialect { delimiter: delimiter[0], long_delimiter, quote, escape, null_values, null_lengths }
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
        out: impl FnMut(FieldRef),
    ) -> usize {
        if let Some(long) = &self.long_delimiter {
            let quote = self.quote.filter(|_| has_quote);
            let find = |text: &[u8]| long.find(text);
            return split_general(rec, offset, find, long.needle().len(), quote, self.escape, scratch, out);
        }
        let d = self.delimiter;
        if !has_quote {
            return split_plain(rec, offset, d, out);
        }
        split_general(rec, offset, |text: &[u8]| memchr(d, text), 1, self.quote, self.escape, scratch, out)
    }
}

/// Split a record with quotes, or at a delimiter of several bytes: `find` gives the position
/// of the next delimiter (`delimiter_len` bytes) in a text. Fields that start with the quote
/// are unquoted into `scratch`.
#[inline]
#[allow(clippy::too_many_arguments)]
fn split_general(
    rec: &[u8],
    offset: u32,
    find: impl Fn(&[u8]) -> Option<usize>,
    delimiter_len: usize,
    q: Option<u8>,
    escape: Option<u8>,
    scratch: &mut Vec<u8>,
    mut out: impl FnMut(FieldRef),
) -> usize {
    let n = rec.len();
    let mut count = 0;
    let esc = escape.filter(|e| Some(*e) != q);
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
            let end = find(&rec[i.min(n)..]).map_or(n, |p| i + p);
            if i < end {
                scratch.extend_from_slice(&rec[i..end]);
            }
            let len = (scratch.len() - s_start) as u32;
            out(FieldRef { start: s_start as u32, len: len | QUOTED | SCRATCH });
            count += 1;
            i = end;
        } else {
            let end = find(&rec[i..]).map_or(n, |p| i + p);
            out(FieldRef { start: offset + i as u32, len: (end - i) as u32 });
            count += 1;
            i = end;
        }
        if i >= n {
            break;
        }
        i += delimiter_len;
    }
    count
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
    pub(crate) first_row: usize,
    /// Rows per block in `columns::parse_chunk`; 0 (the default) means its `BLOCK_ROWS`.
    /// Tests vary it.
    pub(crate) block_rows: usize,
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
    pub(crate) fn column(&self, col: usize) -> &[FieldRef] {
        let start = col * self.stride;
        &self.fields[start..start + self.rows.len() - self.first_row]
    }

    pub(crate) fn clear(&mut self) {
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
pub(crate) fn tokenize_block(
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
        let d = Dialect::new(b",", Some(b'"'), None, vec![b"".to_vec(), b"NULL".to_vec(), long.clone()]);
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
        assert!(!Dialect::new(b",", None, None, vec![]).is_null(b"", false, false));
        assert!(!Dialect::new(b",", None, None, vec![b"NULL".to_vec()]).is_null(b"", false, false));
    }

    fn fields(d: &Dialect, rec: &[u8]) -> Vec<String> {
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        d.split_fields(rec, 0, rec.contains(&b'"'), &mut scratch, |f| out.push(f));
        out.iter().map(|f| String::from_utf8(f.bytes(rec, &scratch).to_vec()).unwrap()).collect()
    }

    #[test]
    fn multi_byte_delimiters_split_with_and_without_quotes() {
        let d = Dialect::new(b"+|", Some(b'"'), None, vec![]);
        assert_eq!(fields(&d, b"a+|b|+c++|+|"), ["a", "b|+c+", "", ""]);
        assert_eq!(fields(&d, b"\"x+|\"\"y\"+|z"), ["x+|\"y", "z"]);
        assert_eq!(fields(&d, b""), [""]);
        let single = Dialect::new(b";", Some(b'"'), None, vec![]);
        assert_eq!(fields(&single, b"\"a;b\";c"), ["a;b", "c"]);
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
}
