//! `${VAR}` substitution in job files, and the [`Redactor`] that keeps substituted values
//! (secrets) out of every error, log line and report.
//!
//! Substitution works on the raw text before YAML parsing, so a variable can appear anywhere
//! a value can. `$${` writes a literal `${`. Lines whose first non-blank character is `#`
//! (YAML comments) are left alone, so a commented-out `${OLD_VAR}` never fails a job.

use std::sync::Arc;

use crate::{Error, Result};

/// Values shorter than this are not redacted: replacing every `1` or `eu` in a message
/// would make it unreadable and protects nothing.
const MIN_REDACTED_LEN: usize = 4;

/// Replaces every substituted value of [`MIN_REDACTED_LEN`] or more bytes by `${NAME}`.
/// Cheap to clone and shareable between threads. Its `Debug` shows variable names only.
#[derive(Clone, Default)]
pub struct Redactor {
    /// (form, name, cut), longest form first so that a value containing another is replaced
    /// whole. `cut`: the form is a prefix followed by the cut marker of quoted values, and is
    /// replaced by `${NAME}...`.
    secrets: Arc<Vec<(String, String, bool)>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.secrets.iter().map(|(_, n, _)| n).collect();
        names.sort();
        names.dedup();
        f.debug_struct("Redactor").field("variables", &names).finish()
    }
}

impl Redactor {
    /// A redactor for `(value, NAME)` pairs. Each value is remembered in every form a message
    /// can give it: the forms YAML parses it to (see [`parsed_forms`]), and each of those as a
    /// bad-row message quotes a value found in the data (escaped, or cut after 80 characters:
    /// every escaped prefix of [`MIN_REDACTED_LEN`] or more characters followed by `...`; see
    /// `csv::quoted_forms`).
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        let mut forms: Vec<(String, String, bool)> = Vec::new();
        for (value, name) in pairs {
            for form in parsed_forms(&value) {
                if form.len() < MIN_REDACTED_LEN {
                    continue;
                }
                for (quoted, cut) in crate::csv::quoted_forms(&form, MIN_REDACTED_LEN) {
                    forms.push((quoted, name.clone(), cut));
                }
                forms.push((form, name.clone(), false));
            }
        }
        forms.retain(|(form, _, _)| form.len() >= MIN_REDACTED_LEN);
        forms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.1.cmp(&b.1)));
        forms.dedup_by(|a, b| a.0 == b.0);
        Redactor { secrets: Arc::new(forms) }
    }

    /// This redactor's values and `other`'s together (values substituted after the job text's,
    /// such as a recipe's connection template).
    pub fn joined(&self, other: &Redactor) -> Redactor {
        if other.secrets.is_empty() {
            return self.clone();
        }
        let mut forms: Vec<(String, String, bool)> = self.secrets.iter().chain(other.secrets.iter()).cloned().collect();
        forms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.1.cmp(&b.1)));
        forms.dedup_by(|a, b| a.0 == b.0);
        Redactor { secrets: Arc::new(forms) }
    }

    /// `text` with every remembered value replaced by `${NAME}` (a cut one by `${NAME}...`).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (form, name, cut) in self.secrets.iter() {
            if out.contains(form.as_str()) {
                let marker = if *cut { "..." } else { "" };
                out = out.replace(form.as_str(), &format!("${{{name}}}{marker}"));
            }
        }
        out
    }

    /// The error with its message redacted.
    pub fn error(&self, e: Error) -> Error {
        e.redacted(|m| self.redact(m))
    }

    /// Whether no value is remembered.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

/// The forms a substituted value can take once YAML has parsed it, each of which must be
/// redacted: as written; without the surrounding whitespace (a secret read from a file often
/// ends in a newline, which YAML drops); decoded as inside double quotes (`\x41` becomes `A`)
/// and inside single quotes (`''` becomes `'`).
fn parsed_forms(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_string(), value.replace("''", "'")];
    if let Ok(decoded) = serde_yaml_ng::from_str::<String>(&format!("\"{value}\"")) {
        forms.push(decoded);
    }
    let trimmed: Vec<String> = forms.iter().map(|f| f.trim().to_string()).collect();
    forms.extend(trimmed);
    forms
}

/// Substitute `${VAR}` in `text` using `lookup`; `label` names the file in errors.
/// Returns the new text and a [`Redactor`] for the substituted values.
pub fn substitute(text: &str, label: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<(String, Redactor)> {
    let mut out = String::with_capacity(text.len());
    let mut used: Vec<(String, String)> = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let line_no = index + 1;
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos..];
            if let Some(tail) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = tail;
            } else if let Some(body) = after.strip_prefix("${") {
                let Some(end) = body.find('}') else {
                    return Err(Error::Config(format!("{label}: line {line_no}: '${{' without a closing '}}'")));
                };
                // `${NAME}`, `${NAME:-default}` (default when unset or empty) or
                // `${NAME-default}` (default when unset), as in POSIX shells.
                let inner = &body[..end];
                let (name, default) = match inner.find([':', '-']) {
                    Some(i) if inner[i..].starts_with(":-") => (&inner[..i], Some((&inner[i + 2..], true))),
                    Some(i) if inner[i..].starts_with('-') => (&inner[..i], Some((&inner[i + 1..], false))),
                    _ => (inner, None),
                };
                if !is_var_name(name) {
                    return Err(Error::Config(format!(
                        "{label}: line {line_no}: invalid variable name '${{{inner}}}' \
                         (use letters, digits and '_', optionally with :-default or -default; write '$${{' \
                         for a literal '${{')"
                    )));
                }
                // A value from the environment is redacted wherever it appears; a default is
                // written in the job file itself, so it is no secret (and is often a path).
                let (value, secret) = match (lookup(name), default) {
                    (Some(v), Some((fallback, true))) if v.is_empty() => (fallback.to_string(), false),
                    (Some(v), _) => (v, true),
                    (None, Some((fallback, _))) => (fallback.to_string(), false),
                    (None, None) => {
                        return Err(Error::Config(format!(
                            "{label}: line {line_no}: environment variable {name} is not set \
                             (used as ${{{name}}}; write ${{{name}:-default}} to give a default)"
                        )))
                    }
                };
                out.push_str(&value);
                if secret {
                    used.push((value, name.to_string()));
                }
                rest = &body[end + 1..];
            } else {
                out.push('$');
                rest = &after[1..];
            }
        }
        out.push_str(rest);
    }
    Ok((out, Redactor::new(used)))
}

/// [`substitute`] with the process environment.
pub fn substitute_env(text: &str, label: &str) -> Result<(String, Redactor)> {
    substitute(text, label, |name| std::env::var(name).ok())
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "PASSWORD" => Some("hunter2-secret".into()),
            "REGION" => Some("eu".into()),
            "DIR" => Some("/data/in".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_and_redacts() {
        let text = "a: ${PASSWORD}\nb: ${REGION}-x\nc: \"${DIR}/f.csv\"\n";
        let (out, r) = substitute(text, "job.yaml", vars).unwrap();
        assert_eq!(out, "a: hunter2-secret\nb: eu-x\nc: \"/data/in/f.csv\"\n");
        assert_eq!(r.redact("login hunter2-secret failed"), "login ${PASSWORD} failed");
        // Short values are not redacted.
        assert_eq!(r.redact("eu"), "eu");
        assert_eq!(r.redact("cannot open /data/in/f.csv"), "cannot open ${DIR}/f.csv");
        let e = r.error(Error::Data("bad value hunter2-secret".into()));
        assert_eq!(e.to_string(), "bad value ${PASSWORD}");
    }

    #[test]
    fn defaults_as_in_posix_shells_and_env_values_redacted() {
        let text =
            "a: ${NOPE:-fallback-value}\nb: ${EMPTY:-empty-default}\nc: ${EMPTY-kept}\nd: ${NOPE-unset-default}\n\
                    e: ${PASSWORD:-unused}\nf: ${NOPE:-}\n";
        let (out, r) = substitute(text, "job.yaml", vars).unwrap();
        assert_eq!(out, "a: fallback-value\nb: empty-default\nc: \nd: unset-default\ne: hunter2-secret\nf: \n");
        // A value from the environment is redacted; a default, written in the file, is not.
        assert_eq!(r.redact("login hunter2-secret"), "login ${PASSWORD}");
        assert_eq!(r.redact("x fallback-value y"), "x fallback-value y");
        let (_, r) = substitute("a: ${PASSWORD:-default-value}\n", "job.yaml", vars).unwrap();
        assert_eq!(r.redact("hunter2-secret"), "${PASSWORD}");
        let err = substitute("a: ${9X:-d}\n", "job.yaml", vars).unwrap_err().to_string();
        assert!(err.contains("invalid variable name '${9X:-d}'"), "{err}");
    }

    #[test]
    fn missing_variable_names_it_and_the_line() {
        let err = substitute("a: 1\nb: ${NOPE}\n", "job.yaml", vars).unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        assert_eq!(
            err.to_string(),
            "job.yaml: line 2: environment variable NOPE is not set (used as ${NOPE}; write ${NOPE:-default} to give \
             a default)"
        );
    }

    #[test]
    fn escapes_comments_and_plain_dollars() {
        let text = "# ${NOPE} in a comment\na: $${NOT_A_VAR} costs $5\nb: ${EMPTY}x\n";
        let (out, r) = substitute(text, "j", vars).unwrap();
        assert_eq!(out, "# ${NOPE} in a comment\na: ${NOT_A_VAR} costs $5\nb: x\n");
        assert!(r.is_empty());
    }

    #[test]
    fn malformed_references() {
        let e = substitute("a: ${PASSWORD\n", "j", vars).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("closing"), "{e}");
        let e = substitute("a: ${1X}\n", "j", vars).unwrap_err().to_string();
        assert!(e.contains("invalid variable name"), "{e}");
    }

    #[test]
    fn longer_secret_wins_over_contained_one() {
        let r = Redactor::new(vec![("abcd".into(), "SHORT".into()), ("abcdefgh".into(), "LONG".into())]);
        assert_eq!(r.redact("x abcdefgh y abcd"), "x ${LONG} y ${SHORT}");
        let debug = format!("{r:?}");
        assert!(!debug.contains("abcd") && debug.contains("LONG"), "{debug}");
    }

    #[test]
    fn escaped_and_cut_forms_of_a_value_are_redacted() {
        let tab = "pass\tword";
        let quote = "pa\"ss\\word";
        let long: String = (0..300).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let r = Redactor::new(vec![
            (tab.into(), "TAB".into()),
            (quote.into(), "QUOTE".into()),
            (long.clone(), "LONG".into()),
        ]);
        assert_eq!(r.redact(&format!("cannot parse {tab:?} as integer")), "cannot parse \"${TAB}\" as integer");
        assert_eq!(r.redact(&format!("cannot parse {quote:?} as integer")), "cannot parse \"${QUOTE}\" as integer");
        // Cut after 80 characters, wherever the secret starts in the value.
        for start in 0..80 {
            let value = format!("{}{long}", "-".repeat(start));
            let shown: String = value.chars().take(80).collect();
            let message = format!("cannot parse {:?} as integer", format!("{shown}..."));
            let redacted = r.redact(&message);
            let leaked = 80 - start;
            if leaked >= MIN_REDACTED_LEN {
                assert!(!redacted.contains(&long[..leaked]), "{redacted}");
                assert!(redacted.ends_with("${LONG}...\" as integer"), "{redacted}");
            }
        }
    }
}
