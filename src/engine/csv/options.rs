//! Options of the CSV reader. Every field has a sane default (see `Default`), and every
//! field is documented in the README's job reference under `source.engine.options`. The
//! dialect fields (delimiter, quote, escape, header, record terminator) default to unset,
//! which means detected from the file (docs/csv.md, "Dialect"); a value given always wins.

use std::path::PathBuf;

use arrow_schema::{Field, SchemaRef};

/// Text encoding of the input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8, unless a byte-order mark says UTF-16LE/BE (the BOM is stripped either way).
    #[default]
    Auto,
    Utf8,
    Utf16Le,
    Utf16Be,
    /// ISO-8859-1: every byte is the code point of the same value.
    Latin1,
    /// Windows-1252 (what many "ANSI" exports really are).
    Windows1252,
}

impl Encoding {
    /// Parse a user-facing name such as `utf-16-le`, `UTF16LE`, `latin1`, `cp1252`.
    pub fn from_name(name: &str) -> Option<Encoding> {
        let n: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        Some(match n.as_str() {
            "auto" => Encoding::Auto,
            "utf8" => Encoding::Utf8,
            "utf16le" | "utf16" => Encoding::Utf16Le, // Windows' "Unicode" is little-endian
            "utf16be" => Encoding::Utf16Be,
            "latin1" | "iso88591" | "l1" => Encoding::Latin1,
            "windows1252" | "cp1252" => Encoding::Windows1252,
            _ => return None,
        })
    }

    /// Like [`from_name`](Encoding::from_name), with an error listing the accepted names.
    pub fn parse(name: &str) -> Result<Encoding, String> {
        Encoding::from_name(name).ok_or_else(|| {
            format!("encoding '{name}' is not supported (use one of: auto, utf-8, utf-16-le, utf-16-be, latin-1, windows-1252)")
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "utf-8",
            Encoding::Utf16Le => "utf-16-le",
            Encoding::Utf16Be => "utf-16-be",
            Encoding::Latin1 => "latin-1",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

/// A one-character option (delimiter, quote, escape, comment) as users write it: one ASCII
/// character, or `\t` / `tab` for a tab; empty means none. The error starts with `key`.
pub fn parse_char(key: &str, text: &str) -> Result<Option<u8>, String> {
    match text {
        "" => Ok(None),
        "\\t" | "\t" | "tab" => Ok(Some(b'\t')),
        t if t.len() == 1 && t.is_ascii() => Ok(Some(t.as_bytes()[0])),
        t => Err(format!("{key} must be one ASCII character (or \"\\t\"), got '{t}'")),
    }
}

/// Most parse threads a reader may be given (`threads`); more is refused as a configuration
/// error instead of exhausting the process's threads or memory.
pub const MAX_THREADS: usize = 256;

/// The message for a `threads` value (parse or encode) above [`MAX_THREADS`], starting with
/// `key`; `None` when the value is allowed.
pub fn check_threads(key: &str, threads: usize) -> Option<String> {
    (threads > MAX_THREADS)
        .then(|| format!("{key} must be 0 (one per core) or between 1 and {MAX_THREADS}, got {threads}"))
}

/// A delimiter or record terminator as users write it: one or more characters, with `\t` /
/// `tab` for a tab; empty is an error. A line break at the end of a terminator (`&|\n`) is
/// dropped: the line break after a terminator is always part of it.
pub fn parse_separator(key: &str, text: &str) -> Result<Vec<u8>, String> {
    let unescaped = text.replace("\\t", "\t").replace("\\r", "\r").replace("\\n", "\n");
    let t = match unescaped.as_str() {
        "tab" => "\t",
        t => t,
    };
    let t = if key == "record_terminator" { t.trim_end_matches(['\r', '\n']) } else { t };
    if t.is_empty() {
        return Err(format!("{key} cannot be empty"));
    }
    if t.contains(['\r', '\n']) {
        return Err(format!("{key} cannot contain a line break"));
    }
    Ok(t.as_bytes().to_vec())
}

/// What to do with a row that cannot be read or typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop with an error naming file, line, column and value (default).
    #[default]
    Fail,
    /// Drop the row and count it.
    Skip,
    /// Write the row to the rejects CSV (file, line, byte offset, column, reason, raw line),
    /// count it, and go on.
    Reject,
}

#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Field separator: one or more bytes (`,`, `\t`, `+|`). `None` (the default): detected
    /// from a sample of the first file (see `sniff`), `,` when nothing else fits.
    pub delimiter: Option<Vec<u8>>,
    /// Quote character: `Some(Some(q))`, or `Some(None)` to turn quoting off. `None` (the
    /// default): detected (`"` or `'`), `"` when no field is quoted.
    pub quote: Option<Option<u8>>,
    /// Escape character inside quoted fields: `Some(Some(e))`, or `Some(None)` for quotes
    /// escaped by doubling (`""`), as RFC 4180 says. `None` (the default): detected (`\`
    /// when the sample escapes quotes that way, else doubling).
    pub escape: Option<Option<u8>>,
    /// Whether the first record (after `skip_rows`) holds column names. `None` (the
    /// default): detected by comparing the types of the first record with the rest.
    pub has_header: Option<bool>,
    /// Record terminator written before the line break at the end of every record (`&|` of
    /// bulk exports): `Some(Some(t))`, or `Some(None)` for plain line breaks. With one,
    /// records end only at the terminator (a line break after it is part of it), so line
    /// breaks inside fields need no quotes. `None` (the default): detected.
    pub record_terminator: Option<Option<Vec<u8>>>,
    /// Column names to use; required to name columns of a file without header (otherwise
    /// they are `column_1`, `column_2`, ...), and replaces the header names when given with
    /// `has_header: true`.
    pub column_names: Option<Vec<String>>,
    /// Lines starting with this byte are skipped. Default none.
    pub comment: Option<u8>,
    /// Field texts that mean null. Default `[""]` (an empty field is null). A quoted field in
    /// a string column is never null, so `""` there is an empty string.
    pub null_values: Vec<String>,
    /// Physical lines to skip at the start of every file, before the header. Default 0.
    pub skip_rows: usize,
    /// Rows per record batch. Default 65,536.
    pub batch_size: usize,
    /// Rows sampled from the first file to infer column types. Default 10,000.
    pub infer_sample_rows: usize,
    /// The complete schema of the file (names and types, in file order); disables inference.
    pub schema: Option<SchemaRef>,
    /// Types pinned for some columns by name (the others are inferred). A field with
    /// `nullable == false` makes a null in that column a bad row.
    pub column_types: Vec<Field>,
    /// Columns where a null is kept but reported: each row with one is counted as a warning
    /// and the first ones are logged with file, line and column (the asset's required
    /// columns in `schema_validation_mode: warn`). Default none.
    pub warn_null_columns: Vec<String>,
    /// Input text encoding. Default auto (UTF-8 or a BOM-announced UTF-16).
    pub encoding: Encoding,
    /// Bad-row policy. Default fail.
    pub on_error: OnError,
    /// Where rejected rows go with `on_error: reject`. Default `<output>/_rejects.csv` chosen
    /// by the job; required when the reader is used alone with `Reject`.
    pub rejects_path: Option<PathBuf>,
    /// With skip/reject: fail once more than this many rows were dropped. Default unlimited.
    pub max_rejects: Option<u64>,
    /// Longest record accepted, in bytes; bounds memory on a runaway quote. Default 16 MiB.
    pub max_line_bytes: usize,
    /// Parse threads; 0 means one per core. Default 0. At most [`MAX_THREADS`].
    pub threads: usize,
    /// How the inputs are named in messages, warnings and the rejects file, one per input in
    /// order. Default: their paths. A job passes its paths with `${VAR}` values redacted, so
    /// a secret in a path never reaches the rejects file.
    pub file_labels: Option<Vec<String>>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            quote: None,
            escape: None,
            has_header: None,
            record_terminator: None,
            column_names: None,
            comment: None,
            null_values: vec![String::new()],
            skip_rows: 0,
            batch_size: 65_536,
            infer_sample_rows: 10_000,
            schema: None,
            column_types: Vec::new(),
            warn_null_columns: Vec::new(),
            encoding: Encoding::Auto,
            on_error: OnError::Fail,
            rejects_path: None,
            max_rejects: None,
            max_line_bytes: 16 * 1024 * 1024,
            threads: 0,
            file_labels: None,
        }
    }
}

impl CsvOptions {
    /// The field delimiter: the given or detected one, `,` when neither.
    pub fn delimiter(&self) -> &[u8] {
        self.delimiter.as_deref().unwrap_or(b",")
    }

    /// The quote character: the given or detected one, `"` when neither.
    pub fn quote(&self) -> Option<u8> {
        self.quote.unwrap_or(Some(b'"'))
    }

    /// The escape character (none: quotes are doubled) when neither given nor detected.
    pub fn escape(&self) -> Option<u8> {
        self.escape.unwrap_or(None)
    }

    /// Whether the first record is a header: given or detected, true when neither.
    pub fn header(&self) -> bool {
        self.has_header.unwrap_or(true)
    }

    /// The record terminator before the line break, if any.
    pub fn terminator(&self) -> Option<&[u8]> {
        self.record_terminator.as_ref().and_then(|t| t.as_deref())
    }

    /// Whether the dialect is detected from the file: when the delimiter, the quote or the
    /// header is unset. Then an unset record terminator is detected too, and an unset escape
    /// when the quote is; with all three given, nothing is detected (no terminator, quotes
    /// escaped by doubling, unless given).
    pub fn sniffs(&self) -> bool {
        self.delimiter.is_none() || self.quote.is_none() || self.has_header.is_none()
    }

    /// Check the options against each other; every message starts with the offending key.
    pub fn validate(&self) -> crate::Result<()> {
        let o = self;
        let bad = |m: String| Err(crate::Error::Config(m));
        if o.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        if o.max_line_bytes == 0 {
            return bad("max_line_bytes must be at least 1".into());
        }
        if let Some(m) = check_threads("threads", o.threads) {
            return bad(m);
        }
        for (what, c) in [("quote", o.quote()), ("escape", o.escape()), ("comment", o.comment)] {
            if let Some(c) = c {
                if c == b'\n' || c == b'\r' {
                    return bad(format!("{what} cannot be a line break"));
                }
            }
        }
        for (what, text) in [("delimiter", o.delimiter.as_deref()), ("record_terminator", o.terminator())] {
            let Some(text) = text else { continue };
            if text.is_empty() {
                return bad(format!("{what} cannot be empty"));
            }
            if text.contains(&b'\n') || text.contains(&b'\r') {
                return bad(format!("{what} cannot contain a line break"));
            }
            for (other, c) in [("quote", o.quote()), ("escape", o.escape())] {
                if let Some(c) = c.filter(|c| text.contains(c)) {
                    let how = if text.len() == 1 { "is also" } else { "is also in" };
                    return bad(format!("{other}: '{}' {how} the {what}", c as char));
                }
            }
        }
        if let (Some(d), Some(t)) = (o.delimiter.as_deref(), o.terminator()) {
            if d == t {
                return bad(format!("record_terminator: '{}' is also the delimiter", String::from_utf8_lossy(t)));
            }
        }
        if o.on_error == OnError::Reject && o.rejects_path.is_none() {
            return bad("on_error: reject needs rejects_path (where to write the rejected rows)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_character_options_and_encoding_names() {
        assert_eq!(parse_char("delimiter", ";"), Ok(Some(b';')));
        assert_eq!(parse_char("delimiter", "tab"), Ok(Some(b'\t')));
        assert_eq!(parse_char("delimiter", "\\t"), Ok(Some(b'\t')));
        assert_eq!(parse_char("quote", ""), Ok(None));
        assert_eq!(parse_char("quote", "ab"), Err("quote must be one ASCII character (or \"\\t\"), got 'ab'".into()));
        assert_eq!(parse_separator("delimiter", "+|"), Ok(b"+|".to_vec()));
        assert_eq!(parse_separator("delimiter", "\\t"), Ok(b"\t".to_vec()));
        assert_eq!(parse_separator("record_terminator", "&|\\r\\n"), Ok(b"&|".to_vec()));
        assert_eq!(parse_separator("record_terminator", "&|\n"), Ok(b"&|".to_vec()));
        assert_eq!(parse_separator("delimiter", ""), Err("delimiter cannot be empty".into()));
        assert_eq!(parse_separator("delimiter", "a\nb"), Err("delimiter cannot contain a line break".into()));
        assert_eq!(Encoding::parse("UTF16LE"), Ok(Encoding::Utf16Le));
        assert!(Encoding::parse("ebcdic").unwrap_err().starts_with("encoding 'ebcdic' is not supported"));
    }

    #[test]
    fn thread_counts_are_bounded_and_a_refused_thread_is_an_io_error() {
        for ok in [0, 1, MAX_THREADS] {
            assert!(CsvOptions { threads: ok, ..Default::default() }.validate().is_ok(), "{ok}");
        }
        let e = CsvOptions { threads: 30_000, ..Default::default() }.validate().unwrap_err();
        assert!(matches!(e, crate::Error::Config(_)));
        assert_eq!(e.to_string(), "threads must be 0 (one per core) or between 1 and 256, got 30000");
        // What every `Builder::spawn` failure becomes: the machine's limit, not a dativo bug.
        let refused = std::io::Error::from_raw_os_error(libc::EAGAIN);
        let e = crate::Error::thread_start("a CSV parse thread", refused);
        assert!(matches!(e, crate::Error::Io { .. }));
        assert!(e.to_string().starts_with("cannot start a CSV parse thread (out of threads or memory?): "), "{e}");
    }
}
