//! Cuts decoded text into chunks of whole records, sequentially and fast.
//!
//! This is the only sequential stage, so it does as little as possible: it finds where each
//! record starts and ends (honouring quotes), counts lines for error messages, and flags
//! records that are bad before any field is looked at (unterminated quote, too long, invalid
//! text). Splitting records into fields and typing them happens later, on every core.
//!
//! The scanner is a resumable state machine: input may arrive in pieces of any size (a read
//! can end inside a quote, between CR and LF, ...) and the result is always the same.
//!
//! Quote rule (the same one the field tokenizer in `fields` uses): a quote opens a quoted field
//! only at the start of a field; inside a quoted field a doubled quote (or `escape` + char)
//! is literal; anywhere else a quote is an ordinary character.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use memchr::{memchr, memchr2, memchr3};

use super::decode::Decoder;

/// Record flags.
pub(crate) const HAS_QUOTE: u8 = 1;
pub(crate) const BAD_ENCODING: u8 = 2;
pub(crate) const UNTERMINATED: u8 = 4;
pub(crate) const TOO_LONG: u8 = 8;
pub(crate) const ANY_BAD: u8 = BAD_ENCODING | UNTERMINATED | TOO_LONG;

/// How much raw text of a bad record is kept for messages and the rejects file when the
/// record is too long to keep whole.
const RAW_KEEP: usize = 64 * 1024;
const READ_SIZE: usize = 512 * 1024;
/// A chunk is cut at `batch_size` records or at about this many bytes, whichever is first.
/// The byte bound is what keeps memory flat whatever the width of a row: a chunk's text, and the
/// batch parsed from it, are each about this size, and the pipeline holds a fixed number of
/// both. 4 MiB (~40,000 rows of the reference file) measured as fast as 16 MiB (65,536 rows)
/// with 45 MB less peak RSS; at 2 MiB the per-chunk costs start to show (PERFORMANCE.md).
const CHUNK_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Chunk buffers handed back by the parse workers, so the splitter reuses warm memory instead
/// of asking the allocator (and the kernel, page by page) for ~10 MB per chunk.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// Buffers kept at most; more are freed (memory stays bounded).
    const KEEP: usize = 8;

    fn get(&self, capacity: usize) -> Vec<u8> {
        let reused = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut v = reused.unwrap_or_default();
        v.clear();
        v.reserve(capacity);
        v
    }

    pub(crate) fn put(&self, v: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < Self::KEEP {
            free.push(v);
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordSpan {
    /// Byte range in the chunk's data, without the line terminator. For records flagged
    /// UNTERMINATED or TOO_LONG: the first physical line only (at most RAW_KEEP bytes).
    pub start: u32,
    pub end: u32,
    /// 1-based physical line where the record starts.
    pub line: u64,
    pub flags: u8,
}

#[derive(Debug)]
pub(crate) struct Chunk {
    pub data: Vec<u8>,
    pub records: Vec<RecordSpan>,
    /// The bad records whose span holds less than the record: (index in `records`, length
    /// of the record in bytes, whether that length is exact or only a lower bound).
    pub cut: Vec<(usize, u64, bool)>,
    /// Offset of `data[0]` in the decoded text of the file.
    pub base_offset: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct SplitConfig {
    /// One byte, or several (`+|`).
    pub delimiter: Vec<u8>,
    /// With a record terminator (`&|`), records end only where it is (a line break right
    /// after it belongs to it); line breaks elsewhere are data.
    pub terminator: Option<Vec<u8>>,
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    pub comment: Option<u8>,
    pub max_line_bytes: usize,
    pub skip_rows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records (blank lines and comment lines are skipped here).
    RecordStart,
    /// Inside a record, outside quotes.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: closes it unless another quote follows.
    QuoteInQuoted,
    /// Just after the escape character inside a quoted field.
    EscapeInQuoted,
    /// Discarding up to the next line break (comment, skipped or over-long line).
    SkipLine,
}

pub(crate) struct Splitter {
    cfg: SplitConfig,
    src: Decoder,
    buf: Vec<u8>,
    /// Decoded offset of buf[0].
    base: u64,
    pos: usize,
    rec_start: usize,
    rec_line: u64,
    rec_flags: u8,
    line: u64,
    state: State,
    pending_cr: bool,
    skip_remaining: usize,
    records: Vec<RecordSpan>,
    /// See [`Chunk::cut`].
    cut: Vec<(usize, u64, bool)>,
    /// Set when a bad over-long record forces a cut: (end of kept data, where to resume).
    forced_cut: Option<(usize, usize)>,
    eof: bool,
    malformed: VecDeque<u64>,
    pool: Arc<BufferPool>,
    /// Size of the last chunk: the next buffer is allocated big enough not to grow.
    last_chunk: usize,
}

/// Line breaks in a span of quoted text: LF, CRLF (once) and lone CR.
fn count_breaks(b: &[u8]) -> u64 {
    let mut n = 0;
    let mut i = 0;
    while let Some(p) = memchr2(b'\n', b'\r', &b[i..]) {
        let j = i + p;
        if b[j] == b'\n' || b.get(j + 1) != Some(&b'\n') {
            n += 1;
        }
        i = j + 1;
    }
    n
}

impl Splitter {
    /// A splitter over `src`, whose first decoded text `pre_read` was already taken from it
    /// (the dialect sniffer's sample): it is split first, so a pipe is never read twice.
    pub(crate) fn new(mut src: Decoder, cfg: SplitConfig, pool: Arc<BufferPool>, pre_read: &[u8]) -> Splitter {
        let skip = cfg.skip_rows;
        let mut buf = pool.get(READ_SIZE * 2 + pre_read.len());
        buf.extend_from_slice(pre_read);
        let malformed = src.malformed.drain(..).collect();
        Splitter {
            cfg,
            src,
            buf,
            base: 0,
            pos: 0,
            rec_start: 0,
            rec_line: 1,
            rec_flags: 0,
            line: 1,
            state: State::RecordStart,
            pending_cr: false,
            skip_remaining: skip,
            records: Vec::new(),
            cut: Vec::new(),
            forced_cut: None,
            eof: false,
            malformed,
            pool,
            last_chunk: 0,
        }
    }

    /// Raw input bytes consumed so far.
    pub(crate) fn raw_consumed(&self) -> u64 {
        self.src.raw_consumed
    }

    pub(crate) fn encoding_name(&self) -> &'static str {
        self.src.encoding.name()
    }

    /// The next chunk of at most `max_records` records, or `None` at the end of the input.
    pub(crate) fn next_chunk(&mut self, max_records: usize) -> std::io::Result<Option<Chunk>> {
        let max_records = max_records.max(1);
        loop {
            let start = self.pos;
            self.scan(max_records);
            if self.forced_cut.is_some()
                || self.records.len() >= max_records
                || (!self.records.is_empty() && self.rec_start >= CHUNK_MAX_BYTES)
            {
                return Ok(Some(self.take_chunk()));
            }
            // Bytes left that the scan did not consume: scan them, unless it stopped without
            // progress, which it does only to wait for more input (a CR held back inside quotes
            // in case an LF follows); then read on, or finish at the end of the input.
            if self.pos < self.buf.len() && self.pos != start {
                continue;
            }
            if self.eof {
                self.at_eof();
                if self.pos < self.buf.len() {
                    continue; // resynchronised after a bad record: scan the rest
                }
                if self.records.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(self.take_chunk()));
            }
            self.fill()?;
        }
    }

    fn take_chunk(&mut self) -> Chunk {
        let (data_end, resume) = self.forced_cut.take().unwrap_or((self.rec_start, self.rec_start));
        self.last_chunk = data_end;
        let mut rest = self.pool.get(self.last_chunk + self.last_chunk / 8 + 2 * READ_SIZE);
        rest.extend_from_slice(&self.buf[resume..]);
        let mut data = std::mem::replace(&mut self.buf, rest);
        data.truncate(data_end);
        let chunk = Chunk {
            data,
            records: std::mem::take(&mut self.records),
            cut: std::mem::take(&mut self.cut),
            base_offset: self.base,
        };
        self.base += resume as u64;
        self.pos -= resume;
        self.rec_start -= resume.min(self.rec_start);
        chunk
    }

    fn fill(&mut self) -> std::io::Result<()> {
        // Drop text that belongs to no record (skipped lines) when nothing refers to it.
        if self.records.is_empty() && self.rec_start > 0 {
            self.buf.drain(..self.rec_start);
            self.base += self.rec_start as u64;
            self.pos -= self.rec_start;
            self.rec_start = 0;
        }
        if self.in_record() && self.buf.len() - self.rec_start > self.cfg.max_line_bytes {
            self.reject_in_progress(TOO_LONG);
            return Ok(());
        }
        let n = self.src.read_into(&mut self.buf, READ_SIZE)?;
        self.malformed.extend(self.src.malformed.drain(..));
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    fn in_record(&self) -> bool {
        !matches!(self.state, State::RecordStart | State::SkipLine)
    }

    fn at_eof(&mut self) {
        match self.state {
            State::RecordStart | State::SkipLine => {}
            State::Unquoted | State::QuoteInQuoted => {
                let end = self.buf.len();
                self.finish_record(end);
                self.rec_start = end;
                self.state = State::RecordStart;
            }
            State::Quoted | State::EscapeInQuoted => self.reject_in_progress(UNTERMINATED),
        }
    }

    fn finish_record(&mut self, end: usize) {
        let mut flags = self.rec_flags;
        if end - self.rec_start > self.cfg.max_line_bytes {
            flags |= TOO_LONG;
        }
        // Claim the invalid-text positions that fall inside this record.
        let (abs_start, abs_end) = (self.base + self.rec_start as u64, self.base + end as u64);
        while let Some(&m) = self.malformed.front() {
            if m >= abs_end {
                break;
            }
            if m >= abs_start {
                flags |= BAD_ENCODING;
            }
            self.malformed.pop_front();
        }
        let full = end - self.rec_start;
        let end = if flags & TOO_LONG != 0 { end.min(self.rec_start + RAW_KEEP) } else { end };
        if end - self.rec_start < full {
            self.cut.push((self.records.len(), full as u64, true));
        }
        self.records.push(RecordSpan { start: self.rec_start as u32, end: end as u32, line: self.rec_line, flags });
    }

    /// The record in progress cannot end well (its quote never closes, or it is too long).
    /// Report its first physical line as a bad record and carry on from the next line, so one
    /// stray quote costs one row, not the rest of the file.
    fn reject_in_progress(&mut self, flag: u8) {
        let start = self.rec_start;
        // What the record is known to hold: all of it up to the end of the input when a quote
        // never closes (called at the end), at least what is buffered when it is too long.
        let buffered = (self.buf.len() - start) as u64;
        match memchr2(b'\n', b'\r', &self.buf[start..]) {
            Some(p) => {
                let term = start + p;
                if flag == TOO_LONG {
                    self.cut.push((self.records.len(), buffered, false));
                } else if p > RAW_KEEP {
                    self.cut.push((self.records.len(), p as u64, true));
                }
                self.push_bad_line(term, flag);
                self.line = self.rec_line + 1;
                self.pending_cr = self.buf[term] == b'\r';
                self.pos = term + 1;
                self.rec_start = self.pos;
                self.state = State::RecordStart;
            }
            None => {
                // One physical line longer than what we hold: keep its head, discard the rest
                // of the line as it streams in.
                let end = self.buf.len();
                if flag == TOO_LONG || end - start > RAW_KEEP {
                    self.cut.push((self.records.len(), buffered, flag != TOO_LONG));
                }
                let keep_end = self.push_bad_line(end, flag);
                self.forced_cut = Some((keep_end, end));
                self.pos = end;
                self.rec_start = end;
                self.state = State::SkipLine;
            }
        }
    }

    /// Record the line from `rec_start` to `line_end` (at most RAW_KEEP bytes of it) as a bad
    /// record, and drop the invalid-text positions on it (those after it are rescanned and
    /// claimed by later records). Returns where the kept text ends.
    fn push_bad_line(&mut self, line_end: usize, flag: u8) -> usize {
        let start = self.rec_start;
        let keep_end = line_end.min(start + RAW_KEEP);
        self.records.push(RecordSpan {
            start: start as u32,
            end: keep_end as u32,
            line: self.rec_line,
            flags: self.rec_flags | flag,
        });
        let abs_end = self.base + line_end as u64;
        while self.malformed.front().is_some_and(|&m| m < abs_end) {
            self.malformed.pop_front();
        }
        keep_end
    }

    /// Whether `buf[j]` starts a field: the record starts there, or a delimiter ends there.
    #[inline]
    fn at_field_start(&self, j: usize) -> bool {
        let d = &self.cfg.delimiter[..];
        j == self.rec_start || (j - self.rec_start >= d.len() && &self.buf[j - d.len()..j] == d)
    }

    /// Advance through the buffer, completing records, until it is exhausted or
    /// `max_records` records are complete.
    fn scan(&mut self, max_records: usize) {
        let quote = self.cfg.quote;
        let terminator = self.cfg.terminator.clone();
        let escape = self.cfg.escape.filter(|e| Some(*e) != quote);
        let len = self.buf.len();
        let mut i = self.pos;
        while i < len {
            match self.state {
                State::RecordStart => {
                    let c = self.buf[i];
                    if self.pending_cr {
                        self.pending_cr = false;
                        if c == b'\n' {
                            i += 1;
                            self.rec_start = i;
                            continue;
                        }
                    }
                    if self.skip_remaining > 0 {
                        self.skip_remaining -= 1;
                        self.state = State::SkipLine;
                        continue;
                    }
                    if c == b'\n' || c == b'\r' {
                        // Blank line: no record, but it counts as a line.
                        self.line += 1;
                        self.pending_cr = c == b'\r';
                        i += 1;
                        self.rec_start = i;
                        continue;
                    }
                    if Some(c) == self.cfg.comment {
                        self.state = State::SkipLine;
                        continue;
                    }
                    if self.records.len() >= max_records || (!self.records.is_empty() && i >= CHUNK_MAX_BYTES) {
                        break;
                    }
                    self.rec_start = i;
                    self.rec_line = self.line;
                    self.rec_flags = 0;
                    self.state = State::Unquoted;
                }
                State::SkipLine => match memchr2(b'\n', b'\r', &self.buf[i..]) {
                    Some(p) => {
                        let j = i + p;
                        self.line += 1;
                        self.pending_cr = self.buf[j] == b'\r';
                        i = j + 1;
                        self.rec_start = i;
                        self.state = State::RecordStart;
                    }
                    None => {
                        i = len;
                        self.rec_start = len;
                    }
                },
                State::Unquoted if terminator.is_some() => {
                    let term = terminator.as_deref().expect("a terminator");
                    let rest = &self.buf[i..];
                    let found = match quote {
                        Some(q) => memchr2(q, term[0], rest),
                        None => memchr(term[0], rest),
                    };
                    let Some(p) = found else {
                        // Line breaks are data here, but count as lines. A trailing CR waits:
                        // it may be the first half of CRLF.
                        let end = if !self.eof && self.buf[len - 1] == b'\r' { len - 1 } else { len };
                        self.line += count_breaks(&self.buf[i..end]);
                        i = end;
                        break;
                    };
                    let j = i + p;
                    self.line += count_breaks(&self.buf[i..j]);
                    if Some(self.buf[j]) == quote {
                        if self.at_field_start(j) {
                            self.state = State::Quoted;
                            self.rec_flags |= HAS_QUOTE;
                        }
                        i = j + 1;
                    } else if j + term.len() > len && !self.eof {
                        i = j; // maybe the terminator, cut by the end of the read: read on
                        break;
                    } else if self.buf[j..].starts_with(term) {
                        // The line break after it, if any, is skipped as a blank line.
                        self.finish_record(j);
                        i = j + term.len();
                        self.rec_start = i;
                        self.state = State::RecordStart;
                    } else {
                        i = j + 1;
                    }
                }
                State::Unquoted => {
                    let rest = &self.buf[i..];
                    let found = match quote {
                        Some(q) => memchr3(q, b'\n', b'\r', rest),
                        None => memchr2(b'\n', b'\r', rest),
                    };
                    let Some(p) = found else {
                        i = len;
                        break;
                    };
                    let j = i + p;
                    let c = self.buf[j];
                    if Some(c) == quote {
                        if self.at_field_start(j) {
                            self.state = State::Quoted;
                            self.rec_flags |= HAS_QUOTE;
                        }
                        i = j + 1;
                    } else {
                        self.finish_record(j);
                        self.line += 1;
                        self.pending_cr = c == b'\r';
                        i = j + 1;
                        self.rec_start = i;
                        self.state = State::RecordStart;
                    }
                }
                State::Quoted => {
                    let q = quote.expect("quoted state without a quote character");
                    let rest = &self.buf[i..];
                    let found = match escape {
                        Some(e) => memchr2(q, e, rest),
                        None => memchr(q, rest),
                    };
                    match found {
                        Some(p) => {
                            let j = i + p;
                            self.line += count_breaks(&self.buf[i..j]);
                            self.state = if self.buf[j] == q { State::QuoteInQuoted } else { State::EscapeInQuoted };
                            i = j + 1;
                        }
                        None => {
                            // Keep a trailing CR for later: it may be the first half of CRLF.
                            let end = if !self.eof && self.buf[len - 1] == b'\r' { len - 1 } else { len };
                            self.line += count_breaks(&self.buf[i..end]);
                            i = end;
                            break;
                        }
                    }
                }
                State::QuoteInQuoted => {
                    if Some(self.buf[i]) == quote {
                        self.state = State::Quoted; // doubled quote: a literal quote
                        i += 1;
                    } else {
                        self.state = State::Unquoted; // the quote closed the field
                    }
                }
                State::EscapeInQuoted => {
                    if self.buf[i] == b'\n' {
                        self.line += 1;
                    }
                    self.state = State::Quoted;
                    i += 1;
                }
            }
        }
        self.pos = i;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::csv::options::Encoding;
    use std::io::Read;

    /// A reader that hands out its bytes in pieces of the given sizes (cycled).
    pub(crate) struct Pieces {
        data: Vec<u8>,
        pos: usize,
        sizes: Vec<usize>,
        k: usize,
    }
    impl Pieces {
        pub(crate) fn new(data: &[u8], sizes: &[usize]) -> Pieces {
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

    fn cfg() -> SplitConfig {
        SplitConfig {
            delimiter: b",".to_vec(),
            terminator: None,
            quote: Some(b'"'),
            escape: None,
            comment: None,
            max_line_bytes: 1 << 20,
            skip_rows: 0,
        }
    }

    /// (record text, line, flags) for every record.
    fn split(data: &[u8], cfg: SplitConfig, sizes: &[usize], max_records: usize) -> Vec<(String, u64, u8)> {
        let dec = Decoder::new(Box::new(Pieces::new(data, sizes)), Encoding::Utf8).unwrap();
        let mut s = Splitter::new(dec, cfg, Default::default(), &[]);
        let mut out = Vec::new();
        while let Some(chunk) = s.next_chunk(max_records).unwrap() {
            assert!(chunk.records.len() <= max_records);
            for r in &chunk.records {
                out.push((
                    String::from_utf8_lossy(&chunk.data[r.start as usize..r.end as usize]).into_owned(),
                    r.line,
                    r.flags,
                ));
            }
        }
        out
    }

    fn same_for_all_splits(data: &[u8], cfg: SplitConfig) -> Vec<(String, u64, u8)> {
        let whole = split(data, cfg.clone(), &[1 << 20], 1000);
        for sizes in [&[1usize][..], &[2], &[3, 1], &[7, 2, 5]] {
            for max_records in [1, 2, 1000] {
                assert_eq!(split(data, cfg.clone(), sizes, max_records), whole, "pieces {sizes:?} max {max_records}");
            }
        }
        whole
    }

    fn rec(s: &str, line: u64, flags: u8) -> (String, u64, u8) {
        (s.to_string(), line, flags)
    }

    #[test]
    fn records_end_at_lf_crlf_and_lone_cr() {
        let got = same_for_all_splits(b"a,b\nc,d\r\ne,f\rg,h", cfg());
        assert_eq!(got, vec![rec("a,b", 1, 0), rec("c,d", 2, 0), rec("e,f", 3, 0), rec("g,h", 4, 0)]);
    }

    #[test]
    fn quoted_line_breaks_stay_in_the_record_and_count_as_lines() {
        let got = same_for_all_splits(b"x,\"a\r\nb\"\"\nc\"\r\ny,z\r\n", cfg());
        assert_eq!(got, vec![rec("x,\"a\r\nb\"\"\nc\"", 1, HAS_QUOTE), rec("y,z", 4, 0)]);
    }

    #[test]
    fn quote_inside_an_unquoted_field_is_literal() {
        let got = same_for_all_splits(b"5\" pipe,x\ny,z\n", cfg());
        assert_eq!(got, vec![rec("5\" pipe,x", 1, 0), rec("y,z", 2, 0)]);
    }

    #[test]
    fn blank_comment_and_skipped_lines_are_not_records_but_count() {
        let c = SplitConfig { comment: Some(b'#'), skip_rows: 1, ..cfg() };
        let got = same_for_all_splits(b"junk \"line\n\r\n# note\na,b\n\nc,d", c);
        assert_eq!(got, vec![rec("a,b", 4, 0), rec("c,d", 6, 0)]);
    }

    #[test]
    fn unterminated_quote_rejects_one_line_and_resynchronises() {
        let got = same_for_all_splits(b"a,b\n\"oops,c\nd,e\n", cfg());
        assert_eq!(got, vec![rec("a,b", 1, 0), rec("\"oops,c", 2, HAS_QUOTE | UNTERMINATED), rec("d,e", 3, 0)]);
    }

    #[test]
    fn escape_character_inside_quotes() {
        let c = SplitConfig { escape: Some(b'\\'), ..cfg() };
        let got = same_for_all_splits(b"\"a\\\"b\",c\nd,e\n", c);
        assert_eq!(got, vec![rec("\"a\\\"b\",c", 1, HAS_QUOTE), rec("d,e", 2, 0)]);
    }

    #[test]
    fn over_long_lines_are_flagged_and_bounded() {
        let c = SplitConfig { max_line_bytes: 10, ..cfg() };
        let mut data = b"a,b\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 3_000_000));
        data.extend_from_slice(b"\nc,d\n");
        let got = split(&data, c, &[1 << 20], 1000);
        assert_eq!(got.len(), 3);
        assert_eq!((got[1].1, got[1].2), (2, TOO_LONG));
        assert_eq!(got[1].0.len(), RAW_KEEP);
        assert_eq!(got[2], rec("c,d", 3, 0));
    }

    #[test]
    fn multi_character_delimiters_open_quotes_after_the_whole_delimiter() {
        let c = SplitConfig { delimiter: b"+|".to_vec(), ..cfg() };
        let got = same_for_all_splits(b"a+|\"x\ny\"+|b\n|\"c\nd\n", c);
        assert_eq!(got, vec![rec("a+|\"x\ny\"+|b", 1, HAS_QUOTE), rec("|\"c", 3, 0), rec("d", 4, 0)]);
    }

    #[test]
    fn a_record_terminator_ends_records_and_line_breaks_elsewhere_are_data() {
        let c = SplitConfig { delimiter: b"+|".to_vec(), terminator: Some(b"&|".to_vec()), ..cfg() };
        let data = b"id+|note&|\r\n1+|two\r\nlines&|\r\n2+|\"q&|\"&|\n3+|a&b|c&|\n\n4+|last";
        let got = same_for_all_splits(data, c);
        assert_eq!(
            got,
            vec![
                rec("id+|note", 1, 0),
                rec("1+|two\r\nlines", 2, 0),
                rec("2+|\"q&|\"", 4, HAS_QUOTE),
                rec("3+|a&b|c", 5, 0),
                rec("4+|last", 7, 0),
            ]
        );
    }

    #[test]
    fn text_read_before_the_splitter_is_split_first() {
        let dec = Decoder::new(Box::new(Pieces::new(b"c,d\n", &[1])), Encoding::Utf8).unwrap();
        let mut s = Splitter::new(dec, cfg(), Default::default(), b"a,b\n");
        let chunk = s.next_chunk(10).unwrap().unwrap();
        let recs: Vec<&[u8]> = chunk.records.iter().map(|r| &chunk.data[r.start as usize..r.end as usize]).collect();
        assert_eq!(recs, vec![&b"a,b"[..], b"c,d"]);
        assert_eq!((chunk.records[1].line, chunk.base_offset), (2, 0));
    }

    #[test]
    fn no_quote_character_means_quotes_are_data() {
        let c = SplitConfig { quote: None, ..cfg() };
        let got = same_for_all_splits(b"\"a,b\nc\"\n", c);
        assert_eq!(got, vec![rec("\"a,b", 1, 0), rec("c\"", 2, 0)]);
    }
}
