//! Bad rows: what went wrong where, the message for `on_error: fail`, and the rejects file.

use std::path::{Path, PathBuf};

use super::values::Invalid;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BadReason {
    /// The record has the wrong number of fields.
    Ragged { expected: usize, found: usize },
    /// A quoted field opened on this line never closes before the end of the file.
    Unterminated,
    /// The record is longer than `max_line_bytes`.
    TooLong { limit: usize },
    /// The text is not valid in the file's encoding.
    Encoding { encoding: &'static str },
    /// A value does not parse as the column's type.
    Value { kind: Invalid },
    /// A null (empty) value in a column that does not allow nulls.
    NullInRequired,
}

#[derive(Debug, Clone)]
pub(crate) struct BadRow {
    pub line: u64,
    /// Offset of the record in the decoded text of the file.
    pub offset: u64,
    pub column: Option<usize>,
    pub value: Option<Vec<u8>>,
    pub reason: BadReason,
    /// The record's text (the first line only for an unterminated or over-long record, and
    /// at most 64 KiB of it).
    pub raw: Vec<u8>,
    /// When `raw` holds less than the record: its length in bytes, and whether that is exact
    /// (false: at least that many).
    pub raw_len: Option<(u64, bool)>,
}

/// The end of a rejects file's `raw_line` that holds less than the record:
/// `…[truncated: 70000 bytes total]`, or `…[truncated: at least 16777217 bytes total]` when
/// the record's end was never read (a line longer than `max_line_bytes`).
pub(crate) fn truncation_marker(len: u64, exact: bool) -> String {
    let at_least = if exact { "" } else { "at least " };
    format!("…[truncated: {at_least}{len} bytes total]")
}

/// What the message needs to know about a column.
pub(crate) struct ColumnInfo<'a> {
    pub name: &'a str,
    pub type_name: &'a str,
    /// Declared by the user (schema / asset) rather than inferred.
    pub pinned: bool,
}

/// Characters of a value quoted in a message; a longer value is cut and ends in
/// [`CUT_MARKER`].
const SHOWN_CHARS: usize = 80;
/// What follows a value cut to [`SHOWN_CHARS`] characters, inside the quotes.
const CUT_MARKER: &str = "...";

/// A value as messages and the rejects file's `reason` quote it: its first [`SHOWN_CHARS`]
/// characters (then [`CUT_MARKER`]), escaped and quoted by `{:?}` (`"a\tb"`).
fn show(value: &[u8]) -> String {
    let s = String::from_utf8_lossy(value);
    let mut out: String = s.chars().take(SHOWN_CHARS).collect();
    if s.chars().count() > SHOWN_CHARS {
        out.push_str(CUT_MARKER);
    }
    format!("{out:?}")
}

/// `text` escaped as [`show`] escapes it, without the quotes.
fn escaped(text: &str) -> String {
    let quoted = format!("{text:?}");
    quoted[1..quoted.len() - 1].to_string()
}

/// Every form other than itself that `text` can take inside a value quoted by [`show`], so
/// that a secret found in data can be redacted from messages however it was quoted:
/// escaped (a tab, `"` or `\` become `\t`, `\"`, `\\`), and, as the value is cut after
/// [`SHOWN_CHARS`] characters wherever `text` starts in it, each escaped prefix of
/// `min_chars` or more characters followed by [`CUT_MARKER`]. Each form is paired with
/// whether it is a cut prefix.
pub(crate) fn quoted_forms(text: &str, min_chars: usize) -> Vec<(String, bool)> {
    let mut forms = Vec::new();
    let whole = escaped(text);
    if whole != text {
        forms.push((whole, false));
    }
    let mut prefix = String::new();
    for (i, c) in text.chars().enumerate().take(SHOWN_CHARS) {
        prefix.push(c);
        if i + 1 >= min_chars {
            forms.push((format!("{}{CUT_MARKER}", escaped(&prefix)), true));
        }
    }
    forms
}

impl BadRow {
    /// The reason alone, as in the rejects file's `reason` column.
    pub(crate) fn reason_text(&self, col: Option<&ColumnInfo>) -> String {
        match (&self.reason, col) {
            (BadReason::Ragged { expected, found }, _) => format!("expected {expected} fields, found {found}"),
            (BadReason::Unterminated, _) => {
                "a quoted field starting on this line is never closed (unbalanced quote)".into()
            }
            (BadReason::TooLong { limit }, _) => format!("record is longer than max_line_bytes ({limit} bytes)"),
            (BadReason::Encoding { encoding }, _) => format!("text is not valid {encoding}"),
            (BadReason::Value { kind }, Some(c)) => {
                let v = show(self.value.as_deref().unwrap_or_default());
                match kind {
                    Invalid::Syntax => format!("cannot parse {v} as {}", c.type_name),
                    Invalid::Range => format!("{v} is out of range for {}", c.type_name),
                }
            }
            (BadReason::NullInRequired, _) => "null value in a required column".into(),
            (BadReason::Value { .. }, None) => "invalid value".into(),
        }
    }

    /// The full error for `on_error: fail`: where, what, and how to fix it.
    pub(crate) fn message(&self, file: &str, col: Option<&ColumnInfo>, sample_rows: usize) -> String {
        let place = match col {
            Some(c) => format!("{file}:{}: column '{}' (#{})", self.line, c.name, self.column.map_or(0, |i| i + 1)),
            None => format!("{file}:{}", self.line),
        };
        let reason = self.reason_text(col);
        let hint = match (&self.reason, col) {
            (BadReason::Value { .. }, Some(c)) if c.pinned => format!(
                "the schema declares '{}' as {}: fix the value or change the declared type",
                c.name, c.type_name
            ),
            (BadReason::Value { .. }, Some(c)) => format!(
                "the type {} was inferred from the first {sample_rows} rows: pin '{}' to a wider type \
                 (e.g. string) in the asset schema, or raise infer_sample_rows",
                c.type_name, c.name
            ),
            (BadReason::Ragged { .. }, _) => "check the delimiter and quoting of this line".into(),
            (BadReason::Unterminated, _) => {
                "close or escape the quote (a literal quote inside a quoted field is written \"\")".into()
            }
            (BadReason::TooLong { .. }, _) => {
                "an unbalanced quote often causes this; otherwise raise max_line_bytes".into()
            }
            (BadReason::Encoding { .. }, _) => "set source.engine.options.encoding to the file's real encoding".into(),
            (BadReason::NullInRequired, _) => "fill the value, or mark the column required: false in the asset".into(),
            (BadReason::Value { .. }, None) => String::new(),
        };
        format!("{place}: {reason}; {hint} (or set on_error: skip | reject to set bad rows aside)")
    }
}

/// The warning for a row kept with nulls in columns that should have none (`warn_null_columns`,
/// i.e. required columns in `schema_validation_mode: warn`).
pub(crate) fn null_warning(file: &str, line: u64, columns: &[&str]) -> String {
    let list: Vec<String> = columns.iter().map(|c| format!("'{c}'")).collect();
    let s = if columns.len() > 1 { "s" } else { "" };
    format!("{file}:{line}: null in required column{s} {}; row kept (schema_validation_mode: warn)", list.join(", "))
}

/// The rejects CSV: `file,line,byte_offset,column,reason,raw_line`, one row per bad row.
pub(crate) struct RejectsWriter {
    path: PathBuf,
    out: csv::Writer<std::io::BufWriter<std::fs::File>>,
}

impl RejectsWriter {
    pub(crate) fn create(path: &Path) -> crate::Result<RejectsWriter> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| crate::Error::io("cannot create folder", dir, e))?;
        }
        let file = std::fs::File::create(path).map_err(|e| crate::Error::io("cannot create rejects file", path, e))?;
        let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
        out.write_record(["file", "line", "byte_offset", "column", "reason", "raw_line"])
            .map_err(|e| crate::Error::Internal(format!("rejects file {}: {e}", path.display())))?;
        Ok(RejectsWriter { path: path.to_path_buf(), out })
    }

    pub(crate) fn write(&mut self, file: &str, bad: &BadRow, col: Option<&ColumnInfo>) -> crate::Result<()> {
        let line = bad.line.to_string();
        let offset = bad.offset.to_string();
        let column = col.map(|c| c.name).unwrap_or("");
        let reason = bad.reason_text(col);
        // The raw line is written byte for byte, so nothing of the input is lost; a record
        // kept only in part says so, and how long it was.
        let mut raw = std::borrow::Cow::Borrowed(&bad.raw[..]);
        if let Some((len, exact)) = bad.raw_len {
            raw.to_mut().extend_from_slice(truncation_marker(len, exact).as_bytes());
        }
        self.out
            .write_record([
                file.as_bytes(),
                line.as_bytes(),
                offset.as_bytes(),
                column.as_bytes(),
                reason.as_bytes(),
                &raw,
            ])
            .map_err(|e| crate::Error::Internal(format!("cannot write rejects file {}: {e}", self.path.display())))
    }

    pub(crate) fn finish(mut self) -> crate::Result<()> {
        self.out.flush().map_err(|e| crate::Error::io("cannot write rejects file", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_forms_cover_every_way_show_quotes_a_text() {
        let secret = "ab\tc\"d\\e";
        let forms = quoted_forms(secret, 4);
        for value in [secret.to_string(), format!("x{secret}y"), format!("{}{secret}", "z".repeat(75))] {
            let shown = show(value.as_bytes());
            assert!(
                shown.contains(secret) || forms.iter().any(|(f, _)| shown.contains(f.as_str())),
                "{shown} {forms:?}"
            );
        }
        let long = "s".repeat(300);
        let shown = show(long.as_bytes());
        assert!(quoted_forms(&long, 4).iter().any(|(f, cut)| *cut && shown.contains(f.as_str())), "{shown}");
        assert_eq!(quoted_forms("abcd", 4), vec![("abcd...".to_string(), true)]);
    }

    #[test]
    fn null_warnings_name_file_line_and_columns() {
        assert_eq!(
            null_warning("a.csv", 7, &["email"]),
            "a.csv:7: null in required column 'email'; row kept (schema_validation_mode: warn)"
        );
        assert_eq!(
            null_warning("a.csv", 9, &["id", "email"]),
            "a.csv:9: null in required columns 'id', 'email'; row kept (schema_validation_mode: warn)"
        );
    }
}
