//! Reading YAML files (jobs, assets) into typed structs, with errors a person can act on:
//! the file, the key path, the line and column, and the nearest valid key for a typo.

use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Deserialize YAML `text` into `T`; `label` (usually the file path) starts every message.
///
/// Unknown keys become `label: unknown key 'a.b.c' (line 9, column 7); did you mean 'd'?`,
/// other errors `label: a.b.c: <what is wrong> (line 9, column 7)`.
pub fn from_yaml<T: DeserializeOwned>(text: &str, label: &str) -> Result<T> {
    check_limits(text, label)?;
    if text.trim().is_empty() || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(Error::Config(format!("{label}: the file is empty")));
    }
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| yaml_error(label, e))
}

/// A YAML document parsed once, from which typed sections are read.
///
/// The parse keeps no positions, so a section that does not deserialize is read once more from
/// the text, as [`from_yaml`] reads it, only to report the error with its key path, line,
/// column and suggestion: a file that loads is parsed exactly once.
pub struct Document<'a> {
    text: &'a str,
    label: &'a str,
    value: serde_yaml_ng::Value,
}

impl<'a> Document<'a> {
    /// Parse `text`; `label` starts every message.
    pub fn parse(text: &'a str, label: &'a str) -> Result<Document<'a>> {
        check_limits(text, label)?;
        if text.trim().is_empty() || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            return Err(Error::Config(format!("{label}: the file is empty")));
        }
        match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) {
            Ok(value) => Ok(Document { text, label, value }),
            Err(_) => Err(from_yaml::<serde::de::IgnoredAny>(text, label)
                .err()
                .unwrap_or_else(|| Error::Config(format!("{label}: not valid YAML")))),
        }
    }

    /// The document as parsed.
    pub fn value(&self) -> &serde_yaml_ng::Value {
        &self.value
    }

    /// The whole document as `T`.
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T> {
        self.read(&self.value, "", || from_yaml::<T>(self.text, self.label).err())
    }

    /// The value at `path` (mapping keys from the top) as `T`; `None` when a key on the way is
    /// absent or the value is null. `locate` reads the same value from the text (given the
    /// text and the label) and returns its error, to report one with its line.
    pub fn section<T: DeserializeOwned>(
        &self,
        path: &[&str],
        locate: impl FnOnce(&str, &str) -> Option<Error>,
    ) -> Result<Option<T>> {
        let mut value = &self.value;
        for key in path {
            match value.get(key) {
                Some(v) => value = v,
                None => return Ok(None),
            }
        }
        if value.is_null() {
            return Ok(None);
        }
        self.read(value, &path.join("."), || locate(self.text, self.label)).map(Some)
    }

    fn read<T: DeserializeOwned>(
        &self,
        value: &serde_yaml_ng::Value,
        path: &str,
        locate: impl FnOnce() -> Option<Error>,
    ) -> Result<T> {
        serde_path_to_error::deserialize::<_, T>(value.clone()).map_err(|e| {
            // The text reads where the parsed value did not (never seen): say what serde said.
            locate().unwrap_or_else(|| {
                let at = [path, &e.path().to_string()]
                    .iter()
                    .filter(|p| !p.is_empty() && **p != ".")
                    .copied()
                    .collect::<Vec<_>>()
                    .join(".");
                Error::Config(format!("{}: {at}: {}", self.label, e.inner()))
            })
        })
    }
}

/// Largest YAML text (job file after `${VAR}` substitution, asset file, options text).
pub const MAX_YAML_BYTES: usize = 4 * 1024 * 1024;

/// Deepest nesting of collections accepted; a job or an asset needs fewer than ten.
pub const MAX_YAML_DEPTH: usize = 64;

/// Refuse YAML text that the parser would take minutes on: more than [`MAX_YAML_BYTES`], or
/// collections nested more than [`MAX_YAML_DEPTH`] deep (the YAML parser's time grows with
/// the square of the nesting: `[` nested 100,000 deep took minutes). The message names
/// `label` and the line where the limit was passed.
///
/// The depth is found by a pre-scan of the text, before parsing. It counts, at each point,
/// the open flow collections (`[`, `{`) plus the block levels: the distinct indentations of
/// the enclosing lines, and each `- `/`? ` that starts a nested entry on the same line. A
/// `[` or `{` counts only where a flow collection can start: inside another one, or at the
/// start of a value (line start, after `- `, `? `, `: `, an anchor or a tag); so one inside
/// a plain scalar (`note: a[b`) does not. Quoted scalars (`'...'` with `''`, `"..."` with
/// `\` escapes, over several lines too), comments (`#` at a line start or after a space)
/// and the content of block scalars (`|`, `>`) are skipped.
pub fn check_limits(text: &str, label: &str) -> Result<()> {
    if text.len() > MAX_YAML_BYTES {
        let line = text.as_bytes()[..MAX_YAML_BYTES].iter().filter(|b| **b == b'\n').count() + 1;
        return Err(Error::Config(format!(
            "{label}: line {line}: the text is longer than {} MiB ({} bytes), the most a job or asset file may have",
            MAX_YAML_BYTES / (1024 * 1024),
            text.len()
        )));
    }
    match nesting_past(text, MAX_YAML_DEPTH) {
        None => Ok(()),
        Some(line) => Err(Error::Config(format!(
            "{label}: line {line}: lists and mappings are nested more than {MAX_YAML_DEPTH} levels deep; \
             dativo refuses such YAML (a job or asset file needs a few levels)"
        ))),
    }
}

/// Where the scan of [`check_limits`] is, for the next character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Where a node can start: a quote or a `[`/`{` opens one.
    NodeStart,
    /// Inside a plain scalar or after a closed node: `[`, `{` and quotes are text.
    Plain,
}

/// The 1-based line on which the nesting depth first exceeds `max`, or `None`.
fn nesting_past(text: &str, max: usize) -> Option<usize> {
    let mut block: Vec<usize> = Vec::new(); // indentations of the open block levels
    let mut flow = 0usize;
    let mut quote: Option<u8> = None; // open quoted scalar, possibly from an earlier line
    let mut block_scalar: Option<usize> = None; // indentation of the line that opened it
    for (index, line) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|b| **b == b' ').count();
        let rest = line[indent..].trim_end();
        if let Some(parent) = block_scalar {
            if rest.is_empty() || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        let mut i = indent;
        let mut state = Scan::NodeStart;
        if quote.is_none() && flow == 0 {
            if rest.is_empty() || rest.starts_with('#') {
                continue;
            }
            while block.last().is_some_and(|top| *top > indent) {
                block.pop();
            }
            if block.last() != Some(&indent) {
                block.push(indent);
            }
            // `- - x` and `? - x`: each indicator opens a level on this line.
            while i + 1 < bytes.len() && matches!(bytes[i], b'-' | b'?') && bytes[i + 1] == b' ' {
                i += 2;
                while i < bytes.len() && bytes[i] == b' ' {
                    i += 1;
                }
                block.push(i);
            }
            if block.len() > max {
                return Some(line_no);
            }
        }
        let mut last_significant = 0u8;
        while i < bytes.len() {
            let c = bytes[i];
            if let Some(q) = quote {
                if q == b'"' && c == b'\\' {
                    i += 2;
                    continue;
                }
                if c == q {
                    if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    quote = None;
                    state = Scan::Plain;
                    last_significant = c;
                }
                i += 1;
                continue;
            }
            let after_space = i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t';
            match c {
                b'#' if after_space => break,
                b' ' | b'\t' => {}
                b'\'' | b'"' if state == Scan::NodeStart => quote = Some(c),
                b'[' | b'{' if state == Scan::NodeStart || flow > 0 => {
                    flow += 1;
                    if block.len() + flow > max {
                        return Some(line_no);
                    }
                    state = Scan::NodeStart;
                }
                b']' | b'}' if flow > 0 => {
                    flow -= 1;
                    state = Scan::Plain;
                }
                b',' if flow > 0 => state = Scan::NodeStart,
                b':' | b'?' | b'-'
                    if matches!(bytes.get(i + 1), None | Some(b' ') | Some(b'\t'))
                        || (flow > 0 && c == b':' && matches!(bytes.get(i + 1), Some(b',' | b']' | b'}'))) =>
                {
                    state = Scan::NodeStart
                }
                b'&' | b'!' if state == Scan::NodeStart => {
                    // An anchor or a tag: the node starts after it.
                    while i + 1 < bytes.len() && !matches!(bytes[i + 1], b' ' | b'\t') {
                        i += 1;
                    }
                }
                _ => state = Scan::Plain,
            }
            if !matches!(c, b' ' | b'\t') {
                last_significant = c;
            }
            i += 1;
        }
        // `key: |` or `key: >-`: the more indented lines that follow are text.
        if quote.is_none() && flow == 0 {
            let value = rest.split(" #").next().unwrap_or("").trim_end();
            let tail = value.rsplit(' ').next().unwrap_or("");
            let is_block_scalar = matches!(tail.as_bytes().first(), Some(b'|' | b'>'))
                && tail[1..].bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'+');
            if is_block_scalar && matches!(last_significant, b'|' | b'>' | b'-' | b'+' | b'0'..=b'9') {
                block_scalar = Some(indent);
            }
        }
    }
    None
}

fn yaml_error(label: &str, e: serde_path_to_error::Error<serde_yaml_ng::Error>) -> Error {
    let path = e.path().to_string();
    let inner = e.inner();
    let location = inner.location();
    let mut message = inner.to_string();
    if let Some(loc) = &location {
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_string();
        }
    }
    // serde_yaml_ng may prefix its own path ("a.b: message"); we print ours.
    if let Some((head, tail)) = message.split_once(": ") {
        if !head.contains(char::is_whitespace) && !head.is_empty() {
            message = tail.to_string();
        }
    }
    let at = location.map(|l| format!(" (line {}, column {})", l.line(), l.column())).unwrap_or_default();

    if let Some((word, expected)) = parse_unknown(&message, "unknown field `") {
        // serde_path_to_error's path ends with the unknown key itself.
        let key_path = if path == "." || path.is_empty() {
            word.clone()
        } else if path.ends_with(word.as_str()) {
            path.clone()
        } else {
            format!("{path}.{word}")
        };
        let candidates: Vec<&str> = expected.iter().map(String::as_str).filter(|c| !c.starts_with('_')).collect();
        let hint = suggest(&word, &candidates).map(|s| format!("; did you mean '{s}'?")).unwrap_or_default();
        return Error::Config(format!("{label}: unknown key '{key_path}'{at}{hint}"));
    }
    if let Some((word, expected)) = parse_unknown(&message, "unknown variant `") {
        let candidates: Vec<&str> = expected.iter().map(String::as_str).collect();
        let hint = suggest(&word, &candidates).map(|s| format!("; did you mean '{s}'?")).unwrap_or_default();
        return Error::Config(format!(
            "{label}: {path}: '{word}' is not valid (expected one of: {}){at}{hint}",
            expected.join(", ")
        ));
    }
    if path == "." || path.is_empty() {
        Error::Config(format!("{label}: {message}{at}"))
    } else {
        Error::Config(format!("{label}: {path}: {message}{at}"))
    }
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`", or
/// "there are no fields"): the word and the expected names.
fn parse_unknown(message: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    let word = rest[..end].to_string();
    let expected: Vec<String> = rest[end + 1..].split('`').skip(1).step_by(2).map(str::to_string).collect();
    Some((word, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Any {
        description: serde_yaml_ng::Value,
    }

    #[test]
    fn deep_nesting_is_refused_with_its_line_before_parsing() {
        let deep = format!("# a job\ndescription: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let e = from_yaml::<Any>(&deep, "job.yaml").unwrap_err();
        assert!(matches!(e, Error::Config(_)));
        assert_eq!(
            e.to_string(),
            "job.yaml: line 2: lists and mappings are nested more than 64 levels deep; dativo refuses such YAML \
             (a job or asset file needs a few levels)"
        );
        let deep = format!("description:\n  x: 1\n  y: {}\n", "{a: ".repeat(20_000));
        assert!(from_yaml::<Any>(&deep, "a.yaml").unwrap_err().to_string().starts_with("a.yaml: line 3: "));
        let deep: String = (0..100).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
        let e = from_yaml::<Any>(&format!("description:\n{deep}"), "b.yaml").unwrap_err().to_string();
        assert!(e.starts_with("b.yaml: line 66: "), "{e}"); // k64, the 65th level
        let e = from_yaml::<Any>(&format!("description:\n{}x\n", "- ".repeat(70)), "c.yaml").unwrap_err();
        assert!(e.to_string().starts_with("c.yaml: line 2: "), "{e}");
    }

    #[test]
    fn nesting_within_the_limit_and_brackets_in_text_are_accepted() {
        assert_eq!(nesting_past(&format!("a: {}{}\n", "[".repeat(63), "]".repeat(63)), 64), None);
        assert_eq!(nesting_past(&format!("a: {}{}\n", "[".repeat(64), "]".repeat(64)), 64), Some(1));
        // Brackets that open nothing: in plain scalars, quotes, comments, block scalars.
        let many = "[".repeat(200);
        for text in [
            format!("a: x{many}\nb: it's {many}\n"),
            format!("a: '{many}'\nb: \"{many}\\\"{many}\"\n"),
            format!("a: 'it''s {many}'\n"),
            format!("a: \"multi\n  line {many}\"\nb: 1\n"),
            format!("# {many}\na: 1 # {many}\n"),
            format!("a: |\n  {many}\n  {{{{{{\nb: >-\n  {many}\nc: 1\n"),
            format!("a: [x, 'y{many}', \"{many}\", {{k: 'v{many}'}}]\n"),
        ] {
            assert_eq!(nesting_past(&text, 64), None, "{text}");
        }
        // An anchor or a tag before a flow collection does not hide it.
        assert_eq!(nesting_past(&format!("a: &x !t {}\n", "[".repeat(65)), 64), Some(1));
        // The size limit names the line where it was passed.
        let big = "a: 1\n".repeat(MAX_YAML_BYTES / 5 + 10);
        let e = check_limits(&big, "big.yaml").unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("big.yaml: line {}: the text is longer than 4 MiB", MAX_YAML_BYTES / 5 + 1)),
            "{e}"
        );
    }

    #[test]
    fn suggestions_only_when_close() {
        let keys = ["delimiter", "quote", "escape", "header"];
        assert_eq!(suggest("delimeter", &keys), Some("delimiter"));
        assert_eq!(suggest("qoute", &keys), Some("quote"));
        assert_eq!(suggest("hdr", &keys), None);
        assert_eq!(suggest("compression", &keys), None);
    }

    #[test]
    fn parse_unknown_variants_of_serde_message() {
        let (w, e) = parse_unknown("unknown field `x`, expected one of `a`, `b`", "unknown field `").unwrap();
        assert_eq!((w.as_str(), e), ("x", vec!["a".to_string(), "b".to_string()]));
        let (_, e) = parse_unknown("unknown field `x`, expected `a`", "unknown field `").unwrap();
        assert_eq!(e, ["a"]);
        let (_, e) = parse_unknown("unknown field `x`, there are no fields", "unknown field `").unwrap();
        assert!(e.is_empty());
        assert!(parse_unknown("missing field `x`", "unknown field `").is_none());
    }
}
