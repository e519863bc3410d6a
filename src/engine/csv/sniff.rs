//! Dialect detection ("sniffing"): the delimiter, quote, escape, record terminator and
//! header of a file, from a bounded sample of its decoded text, for every part of the dialect
//! the options leave unset. A value given in the options always wins.
//!
//! The sample is the first [`SAMPLE_BYTES`] of decoded text (more, up to
//! [`SAMPLE_MAX_BYTES`], only while it holds fewer than two lines), cut at its last line
//! break. It is read through the decoder once and handed to the record splitter, which splits
//! it first: a pipe is never read twice.
//!
//! The rules (docs/csv.md, "Dialect", says the same for users):
//! 1. Record terminator: a run of two or more punctuation characters (at least two different
//!    ones, e.g. `&|`) that ends at least 90% of the sample's lines is a record terminator.
//! 2. Delimiter: each candidate (`,` `\t` `;` `|`, and every run of two or three punctuation
//!    characters found in at least 90% of the records, e.g. `+|`) is scored, with each quote
//!    candidate (`"`, `'`, none), by how many records have the most common field count. The
//!    candidates with at least 90% of records at that count (two or more fields) are
//!    consistent, those with more than half nearly so; the winner is in the best of these
//!    tiers, then has the most fields, then more quoted fields, then the longer delimiter
//!    (`+|` over `|`), then comes first in the order above. No candidate with two or more
//!    fields in most records: `,` (the file is one column; the reader warns).
//! 3. Escape: `\` when the sample has `\` before a quote and reading with it is at least as
//!    consistent; else quotes are doubled.
//! 4. Header: the first record is compared with the rest, column by column. A column whose
//!    values below all have one type (number, date, boolean) while the first record's value
//!    does not fit it means a header. Typed columns that the first record fits mean no header.
//!    With only text columns: a header when the first record has no empty value, no value
//!    twice, and no value that reappears in its column below (DuckDB's rule, plus the last).
//!    A file of one record is a header unless every value is a number, date or boolean.
//! 5. Encoding (in `decode`): a byte-order mark, else UTF-16 by its zero bytes, else UTF-8
//!    when the first 256 KiB are valid UTF-8, else Windows-1252 with a warning.

use std::io;

use super::decode::Decoder;
use super::infer::fits;
use super::options::CsvOptions;

/// Decoded bytes sampled for detection.
pub const SAMPLE_BYTES: usize = 64 * 1024;
/// The sample grows past `SAMPLE_BYTES` only to hold two lines, and never past this.
pub const SAMPLE_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Records of the sample scored per candidate.
const SAMPLE_RECORDS: usize = 1000;
/// Share of records (or lines) a candidate must fit to count as consistent.
const CONSISTENT: f64 = 0.9;
const SINGLE_DELIMITERS: [&[u8]; 4] = [b",", b"\t", b";", b"|"];

/// The dialect a file is read with, and which parts of it were detected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedDialect {
    pub delimiter: Vec<u8>,
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    pub header: bool,
    pub record_terminator: Option<Vec<u8>>,
    /// The file's encoding (`UTF-8`, `UTF-16LE`, ...) and how it was chosen (`given`,
    /// `byte-order mark`, `zero bytes`, `valid UTF-8`, `fallback`).
    pub encoding: &'static str,
    pub encoding_chosen_by: &'static str,
    /// The option keys that were detected, not given (`delimiter`, `quote`, `escape`,
    /// `header`, `record_terminator`).
    pub detected: Vec<&'static str>,
    /// Risky guesses, in words (also logged as warnings by the reader).
    pub warnings: Vec<String>,
    /// Whether the sample had a quoted field (a quote seen nowhere is only the default).
    pub quotes_seen: bool,
}

fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn encoding_option(name: &str) -> &'static str {
    match name {
        "UTF-16LE" => "utf-16-le",
        "UTF-16BE" => "utf-16-be",
        "Latin-1" => "latin-1",
        "Windows-1252" => "windows-1252",
        _ => "utf-8",
    }
}

impl DetectedDialect {
    /// The dialect of options that leave nothing to detect.
    pub(crate) fn given(o: &CsvOptions, decoder: &Decoder) -> DetectedDialect {
        DetectedDialect {
            delimiter: o.delimiter().to_vec(),
            quote: o.quote(),
            escape: o.escape(),
            header: o.header(),
            record_terminator: o.terminator().map(<[u8]>::to_vec),
            encoding: decoder.encoding.name(),
            encoding_chosen_by: decoder.chosen_by,
            detected: Vec::new(),
            warnings: Vec::new(),
            quotes_seen: false,
        }
    }

    /// The options with this dialect filled in where they left it unset.
    pub(crate) fn apply(&self, o: &CsvOptions) -> CsvOptions {
        let mut r = o.clone();
        r.delimiter = Some(self.delimiter.clone());
        r.quote = Some(self.quote);
        r.escape = Some(self.escape);
        r.has_header = Some(self.header);
        r.record_terminator = Some(self.record_terminator.clone());
        r
    }

    /// One line for logs and the run report, e.g. `delimiter ";" (detected), quote "\""
    /// (detected), ..., encoding UTF-8 (valid UTF-8)`.
    pub fn describe(&self) -> String {
        let how = |key: &str| if self.detected.contains(&key) { "detected" } else { "given" };
        let char_or = |c: Option<u8>, none: &str| c.map_or(none.to_string(), |c| show(&[c]));
        format!(
            "delimiter {} ({}), quote {} ({}), escape {} ({}), header {} ({}), record terminator {} ({}), encoding {} ({})",
            show(&self.delimiter),
            how("delimiter"),
            char_or(self.quote, "none"),
            how("quote"),
            char_or(self.escape, "none (doubled quotes)"),
            how("escape"),
            if self.header { "yes" } else { "no" },
            how("header"),
            self.record_terminator.as_deref().map_or("none (line breaks)".to_string(), show),
            how("record_terminator"),
            self.encoding,
            self.encoding_chosen_by,
        )
    }

    /// The dialect as the keys of a job's `source.engine.options`, one `key: value` line each,
    /// ready to paste (YAML, the same as JSON values for the C API and the bindings).
    pub fn job_options(&self) -> String {
        let one = |c: Option<u8>| c.map_or("\"\"".to_string(), |c| show(&[c]));
        format!(
            "delimiter: {}\nquote: {}\nescape: {}\nheader: {}\nrecord_terminator: {}\nencoding: {}\n",
            show(&self.delimiter),
            one(self.quote),
            one(self.escape),
            self.header,
            self.record_terminator.as_deref().map_or("\"\"".to_string(), show),
            encoding_option(self.encoding),
        )
    }

    /// Whether the detected parts of two files' dialects agree (the given parts always do).
    /// A quote that one file never uses is compatible with any.
    pub(crate) fn agrees_with(&self, other: &DetectedDialect) -> bool {
        self.delimiter == other.delimiter
            && (self.quote == other.quote || !self.quotes_seen || !other.quotes_seen)
            && (self.escape == other.escape || !self.quotes_seen || !other.quotes_seen)
            && self.header == other.header
            && self.record_terminator == other.record_terminator
    }
}

/// Decoded text from the start of the input, for the sniffer: at least `SAMPLE_BYTES`
/// (unless the input is shorter), more only to hold two lines. Returns it and whether it is
/// the whole input.
pub(crate) fn read_sample(decoder: &mut Decoder) -> io::Result<(Vec<u8>, bool)> {
    let mut text = Vec::with_capacity(SAMPLE_BYTES + 1024);
    loop {
        let want = if text.len() < SAMPLE_BYTES { SAMPLE_BYTES - text.len() } else { SAMPLE_BYTES };
        if decoder.read_into(&mut text, want)? == 0 {
            return Ok((text, true));
        }
        if text.len() >= SAMPLE_BYTES
            && (text.len() >= SAMPLE_MAX_BYTES || memchr::memchr_iter(b'\n', &text).nth(1).is_some())
        {
            return Ok((text, false));
        }
    }
}

/// One candidate reading of the sample.
#[derive(Debug, Clone)]
struct Candidate {
    delimiter: Vec<u8>,
    quote: Option<u8>,
    escape: Option<u8>,
    /// The most common field count, and the share of records that have it.
    fields: usize,
    share: f64,
    quoted: usize,
    /// Position in the candidate list (lower is preferred on a tie).
    rank: usize,
}

impl Candidate {
    /// 2 when consistent, 1 when most records agree (a few ragged rows), else 0; a reading
    /// as one field per record counts for nothing.
    fn tier(&self) -> u8 {
        match self.share {
            _ if self.fields < 2 => 0,
            s if s >= CONSISTENT => 2,
            s if s > 0.5 => 1,
            _ => 0,
        }
    }

    /// Whether `self` is a better reading than `other`.
    fn beats(&self, other: &Candidate) -> bool {
        let key = |c: &Candidate| (c.tier(), c.fields, c.quoted);
        let (a, b) = (key(self), key(other));
        if a != b {
            return a > b;
        }
        if self.delimiter.len() != other.delimiter.len() {
            return self.delimiter.len() > other.delimiter.len();
        }
        if self.share != other.share {
            return self.share > other.share;
        }
        self.rank < other.rank
    }
}

/// A field of the sample: its text without the enclosing quotes (doubled quotes are left
/// as they are: enough to type a value), and whether it was quoted.
struct SampleField<'a> {
    text: &'a [u8],
    quoted: bool,
}

/// The sample read as records of fields with one candidate dialect, up to `max` records.
/// `on_record` gets each record's fields.
fn scan<'a>(
    text: &'a [u8],
    delimiter: &[u8],
    quote: Option<u8>,
    escape: Option<u8>,
    terminator: Option<&[u8]>,
    max: usize,
    mut on_record: impl FnMut(&[SampleField<'a>]),
) {
    let n = text.len();
    let esc = escape.filter(|e| Some(*e) != quote);
    let mut i = 0;
    let mut records = 0;
    let mut fields: Vec<SampleField> = Vec::new();
    while i < n && records < max {
        if text[i] == b'\n' || text[i] == b'\r' {
            i += 1; // blank line, or the line break after a terminator
            continue;
        }
        fields.clear();
        loop {
            // One field; `i` is at its start.
            let mut field_start = i;
            let mut content_end = None;
            let mut quoted = false;
            if i < n && Some(text[i]) == quote {
                let q = text[i];
                quoted = true;
                i += 1;
                field_start = i;
                while i < n {
                    let c = text[i];
                    if Some(c) == esc {
                        i += 2;
                    } else if c == q {
                        if i + 1 < n && text[i + 1] == q {
                            i += 2;
                        } else {
                            content_end = Some(i);
                            i += 1;
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                i = i.min(n);
            }
            // Unquoted text (or what follows a closing quote) up to a delimiter or record end.
            let mut record_end = false;
            let field_end;
            loop {
                if i >= n {
                    field_end = i;
                    record_end = true;
                    break;
                }
                if text[i..].starts_with(delimiter) {
                    field_end = i;
                    i += delimiter.len();
                    break;
                }
                match terminator {
                    Some(t) if text[i..].starts_with(t) => {
                        field_end = i;
                        i += t.len();
                        record_end = true;
                        break;
                    }
                    None if text[i] == b'\n' || text[i] == b'\r' => {
                        field_end = i;
                        i += if text[i] == b'\r' && text.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                        record_end = true;
                        break;
                    }
                    _ => i += 1,
                }
            }
            let end = content_end.unwrap_or(field_end).max(field_start);
            fields.push(SampleField { text: &text[field_start..end], quoted: quoted && content_end.is_some() });
            if record_end {
                break;
            }
        }
        records += 1;
        on_record(&fields);
    }
}

fn score(text: &[u8], delimiter: &[u8], quote: Option<u8>, escape: Option<u8>, t: Option<&[u8]>) -> Candidate {
    let mut counts: std::collections::HashMap<usize, usize> = Default::default();
    let (mut records, mut quoted) = (0, 0);
    scan(text, delimiter, quote, escape, t, SAMPLE_RECORDS, |fields| {
        records += 1;
        quoted += fields.iter().filter(|f| f.quoted).count();
        *counts.entry(fields.len()).or_default() += 1;
    });
    // The most common count; on a tie, the larger.
    let (fields, hits) = counts.into_iter().max_by_key(|&(f, c)| (c, f)).unwrap_or((1, 0));
    Candidate {
        delimiter: delimiter.to_vec(),
        quote,
        escape,
        fields,
        share: if records == 0 { 0.0 } else { hits as f64 / records as f64 },
        quoted,
        rank: 0,
    }
}

/// Punctuation that may make up a multi-character delimiter or a record terminator.
fn is_separator_punct(c: u8) -> bool {
    c.is_ascii_punctuation() && c != b'"' && c != b'\''
}

/// The complete lines of the sample after `skip_rows` and comment lines, joined by `\n`.
fn sample_lines(text: &[u8], at_eof: bool, o: &CsvOptions) -> Vec<u8> {
    let text = match (at_eof, text.iter().rposition(|&c| c == b'\n' || c == b'\r')) {
        (false, Some(p)) => &text[..=p],
        _ => text,
    };
    let mut out = Vec::with_capacity(text.len());
    let mut skip = o.skip_rows;
    let mut i = 0;
    while i < text.len() {
        let end = memchr::memchr2(b'\n', b'\r', &text[i..]).map_or(text.len(), |p| i + p);
        let line = &text[i..end];
        i = if text.get(end) == Some(&b'\r') && text.get(end + 1) == Some(&b'\n') { end + 2 } else { end + 1 };
        if skip > 0 {
            skip -= 1;
            continue;
        }
        if o.comment.is_some() && line.first() == o.comment.as_ref() {
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// Non-empty lines of the normalised sample.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&c| c == b'\n').filter(|l| !l.is_empty())
}

/// A run of punctuation ending at least 90% of the lines (with two different characters).
fn find_terminator(text: &[u8]) -> Option<Vec<u8>> {
    let mut counts: std::collections::HashMap<&[u8], usize> = Default::default();
    let mut total = 0;
    for line in lines(text).take(SAMPLE_RECORDS) {
        total += 1;
        let run = line.iter().rev().take_while(|&&c| is_separator_punct(c)).count();
        for len in 2..=run.min(4) {
            *counts.entry(&line[line.len() - len..]).or_default() += 1;
        }
    }
    if total < 2 {
        return None;
    }
    counts
        .into_iter()
        .filter(|(t, c)| *c as f64 >= CONSISTENT * total as f64 && t.iter().any(|&b| b != t[0]))
        // The shortest (`&|` rather than `+|&|` when the last field is empty), then the most frequent.
        .min_by_key(|(t, c)| (t.len(), usize::MAX - c, t.to_vec()))
        .map(|(t, _)| t.to_vec())
}

/// Runs of two or three punctuation characters inside at least 90% of the records.
fn multi_char_candidates(text: &[u8], terminator: Option<&[u8]>) -> Vec<Vec<u8>> {
    let mut counts: std::collections::HashMap<&[u8], usize> = Default::default();
    let mut total = 0;
    for line in lines(text).take(SAMPLE_RECORDS) {
        let line = match terminator {
            Some(t) => line.strip_suffix(t).unwrap_or(line),
            None => line,
        };
        total += 1;
        let mut seen: std::collections::HashSet<&[u8]> = Default::default();
        let mut i = 0;
        while i < line.len() {
            if !is_separator_punct(line[i]) {
                i += 1;
                continue;
            }
            let run_end = i + line[i..].iter().take_while(|&&c| is_separator_punct(c)).count();
            for len in 2..=3 {
                for s in i..run_end.saturating_sub(len - 1) {
                    seen.insert(&line[s..s + len]);
                }
            }
            i = run_end;
        }
        for s in seen {
            *counts.entry(s).or_default() += 1;
        }
    }
    let mut found: Vec<(&[u8], usize)> =
        counts.into_iter().filter(|(_, c)| *c as f64 >= CONSISTENT * total as f64 && total >= 2).collect();
    found.sort_by_key(|(s, c)| (usize::MAX - c, s.to_vec()));
    found.into_iter().take(6).map(|(s, _)| s.to_vec()).collect()
}

/// Detect what `o` leaves unset from the sample; the encoding comes from the decoder.
pub(crate) fn detect(sample: &[u8], at_eof: bool, o: &CsvOptions, decoder: &Decoder) -> DetectedDialect {
    let mut d = DetectedDialect::given(o, decoder);
    let text = sample_lines(sample, at_eof, o);

    let terminator: Option<Vec<u8>> = match &o.record_terminator {
        Some(t) => t.clone(),
        None => {
            d.detected.push("record_terminator");
            find_terminator(&text)
        }
    };
    let delimiters: Vec<Vec<u8>> = match &o.delimiter {
        Some(x) => vec![x.clone()],
        None => {
            d.detected.push("delimiter");
            let mut all: Vec<Vec<u8>> = SINGLE_DELIMITERS.iter().map(|s| s.to_vec()).collect();
            for m in multi_char_candidates(&text, terminator.as_deref()) {
                if terminator.as_deref() != Some(&m[..]) && !all.contains(&m) {
                    all.push(m);
                }
            }
            all
        }
    };
    let quotes: Vec<Option<u8>> = match o.quote {
        Some(q) => vec![q],
        None => {
            d.detected.push("quote");
            vec![Some(b'"'), Some(b'\''), None]
        }
    };
    let escape_given = o.escape.unwrap_or(None);
    let mut best: Option<Candidate> = None;
    let mut rank = 0;
    for delim in &delimiters {
        for &quote in &quotes {
            if quote.is_some_and(|q| delim.contains(&q)) {
                continue;
            }
            let mut c = score(&text, delim, quote, escape_given, terminator.as_deref());
            c.rank = rank;
            rank += 1;
            if best.as_ref().is_none_or(|b| c.beats(b)) {
                best = Some(c);
            }
        }
    }
    let mut best = best.expect("at least one candidate");
    if o.delimiter.is_none() && best.tier() == 0 {
        best.delimiter = b",".to_vec(); // one column: the default delimiter
    }
    if o.quote.is_none() && best.quoted == 0 {
        best.quote = Some(b'"'); // no field is quoted: the default, which changes nothing
    }
    d.quotes_seen = best.quoted > 0;
    if o.escape.is_none() && o.quote.is_none() {
        d.detected.push("escape");
        if let Some(q) = best.quote.filter(|_| d.quotes_seen) {
            if text.windows(2).any(|w| w == [b'\\', q]) {
                let with = score(&text, &best.delimiter, best.quote, Some(b'\\'), terminator.as_deref());
                if with.tier() >= best.tier() && with.fields >= best.fields && with.share >= best.share {
                    best.escape = Some(b'\\');
                }
            }
        }
    }
    d.delimiter = best.delimiter.clone();
    d.quote = best.quote;
    d.escape = best.escape;
    d.record_terminator = terminator.clone();
    if o.has_header.is_none() {
        d.detected.push("header");
        d.header = detect_header(&text, &best, terminator.as_deref(), o);
    }
    d
}

/// Whether the first record holds column names (rule 4 of the module doc).
fn detect_header(text: &[u8], c: &Candidate, terminator: Option<&[u8]>, o: &CsvOptions) -> bool {
    let mut rows: Vec<Vec<Vec<u8>>> = Vec::new();
    scan(text, &c.delimiter, c.quote, c.escape, terminator, SAMPLE_RECORDS, |fields| {
        rows.push(fields.iter().map(|f| f.text.to_vec()).collect());
    });
    let is_null = |v: &[u8]| o.null_values.iter().any(|n| n.as_bytes() == v) || v.trim_ascii().is_empty();
    let Some(first) = rows.first() else { return true };
    let rest: Vec<&Vec<Vec<u8>>> = rows[1..].iter().filter(|r| r.len() == first.len()).collect();
    if rest.is_empty() {
        // One record: a header unless every value is typed.
        return !first.iter().all(|v| !is_null(v) && fits(v) != 0);
    }
    let mut typed_columns = 0;
    for (col, v1) in first.iter().enumerate() {
        let (mut mask, mut seen) = (u8::MAX, false);
        for r in &rest {
            let v = &r[col];
            if !is_null(v) {
                seen = true;
                mask &= fits(v);
            }
        }
        if !seen || mask == 0 {
            continue;
        }
        if !is_null(v1) && fits(v1) & mask == 0 {
            return true; // text above a typed column: a column name
        }
        typed_columns += 1;
    }
    if typed_columns > 0 {
        return false;
    }
    // Only text columns.
    let mut seen: std::collections::HashSet<&[u8]> = Default::default();
    for (col, v1) in first.iter().enumerate() {
        if is_null(v1) || !seen.insert(v1) || rest.iter().any(|r| r[col] == *v1) {
            return false;
        }
    }
    true
}

/// Warnings about a file read with `o` (resolved), whose columns are `names`: text that is
/// not UTF-8 read as Windows-1252, a single column, or a header holding another common
/// delimiter. `file` names the file as messages do.
pub(crate) fn warnings(file: &str, d: &DetectedDialect, names: &[String], o: &CsvOptions) -> Vec<String> {
    let mut out = Vec::new();
    if d.encoding_chosen_by == "fallback" {
        out.push(format!(
            "{file} is not valid UTF-8 in its first 256 KiB: read as Windows-1252; set encoding if it is \
             another single-byte encoding"
        ));
    }
    let delimiter = show(o.delimiter());
    if names.len() == 1 {
        out.push(format!(
            "{file} reads as a single column with delimiter {delimiter}; if it has more, set delimiter \
             (and record_terminator) in the options"
        ));
    }
    if o.header() {
        for c in SINGLE_DELIMITERS {
            if o.delimiter().contains(&c[0]) {
                continue;
            }
            if let Some(name) = names.iter().find(|n| n.as_bytes().contains(&c[0])) {
                out.push(format!(
                    "{file}: the header holds {} (in column name {}) but the delimiter is {delimiter}; \
                     if the file is {}-separated, set delimiter",
                    show(c),
                    show(name.as_bytes()),
                    show(c)
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::options::Encoding;

    fn sniff(text: &str, o: &CsvOptions) -> DetectedDialect {
        let mut dec = Decoder::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())), Encoding::Auto).unwrap();
        let (sample, eof) = read_sample(&mut dec).unwrap();
        detect(&sample, eof, o, &dec)
    }

    fn auto() -> CsvOptions {
        CsvOptions::default()
    }

    #[test]
    fn common_delimiters_and_headers() {
        for d in [",", ";", "\t", "|"] {
            let text = format!("id{d}name{d}amount\n1{d}Ann{d}1.5\n2{d}Bob{d}2.25\n3{d}Cy{d}3\n");
            let got = sniff(&text, &auto());
            assert_eq!((got.delimiter.as_slice(), got.header), (d.as_bytes(), true), "{d:?}");
            let no_header = text.split_once('\n').unwrap().1;
            assert!(!sniff(no_header, &auto()).header, "{d:?} without header");
        }
    }

    #[test]
    fn quoted_delimiters_choose_the_quote() {
        let got = sniff("a;b\n'x;y';1\n'z;w';2\n'v';3\n", &auto());
        assert_eq!((got.delimiter.as_slice(), got.quote, got.header), (&b";"[..], Some(b'\''), true));
        let got = sniff("a,b\n\"x,y\",1\n\"z\",2\n", &auto());
        assert_eq!((got.delimiter.as_slice(), got.quote), (&b","[..], Some(b'"')));
    }

    #[test]
    fn multi_character_delimiter_and_terminator() {
        let text = "id+|name+|note&|\r\n1+|Ann+|x&|\r\n2+|Bob+|&|\r\n3+|Cy+|z&|\r\n";
        let got = sniff(text, &auto());
        assert_eq!(got.delimiter, b"+|");
        assert_eq!(got.record_terminator.as_deref(), Some(&b"&|"[..]));
        assert!(got.header);
    }

    #[test]
    fn trailing_empty_fields_are_not_a_terminator() {
        let got = sniff("a;b;;\n1;2;;\n3;4;;\n", &auto());
        assert_eq!((got.delimiter.as_slice(), got.record_terminator), (&b";"[..], None));
    }

    #[test]
    fn backslash_escapes() {
        let got = sniff("a,b\n\"x\\\"y,z\",1\n\"q\",2\n", &auto());
        assert_eq!((got.quote, got.escape), (Some(b'"'), Some(b'\\')));
    }

    #[test]
    fn text_only_files_use_distinct_values_for_the_header() {
        assert!(sniff("name,city\nAnn,Oslo\nBob,Rome\n", &auto()).header);
        assert!(!sniff("Ann,Oslo\nBob,Oslo\nCy,Rome\n", &auto()).header, "Oslo twice in its column");
        assert!(!sniff("Ann,\nBob,Rome\n", &auto()).header, "an empty value");
    }

    #[test]
    fn given_options_win() {
        let o = CsvOptions { delimiter: Some(b";".to_vec()), has_header: Some(false), ..auto() };
        let got = sniff("id,name\n1,a\n", &o);
        assert_eq!((got.delimiter.as_slice(), got.header), (&b";"[..], false));
        assert!(!got.detected.contains(&"delimiter") && !got.detected.contains(&"header"));
    }

    #[test]
    fn job_options_read_back_as_the_same_dialect() {
        let got = sniff("id+|name&|\n1+|\"a\"&|\n", &auto());
        let yaml = got.job_options();
        let o = crate::job::options::reader_options_from_text(&yaml, "options").unwrap();
        assert_eq!(o.delimiter(), b"+|");
        assert_eq!(o.terminator(), Some(&b"&|"[..]));
        assert_eq!((o.quote(), o.escape(), o.header()), (Some(b'"'), None, true));
        assert!(!o.sniffs());
    }
}
