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
    if text.trim().is_empty() || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(Error::Config(format!("{label}: the file is empty")));
    }
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| yaml_error(label, e))
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
