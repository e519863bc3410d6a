//! Globs in `source.files[].path` (`data/2025-*.csv`, `logs/**/*.csv`,
//! `s3://bucket/raw/*.csv`): the literal folder a pattern starts from, the matcher, and the
//! expansion over a local folder. The keys of a bucket are matched in `source.rs`, with the
//! same matcher.
//!
//! Syntax (the `globset` crate's): `*` and `?` stay within one folder, `**` spans folders,
//! `[abc]`, `[!a-z]` and `{csv,tsv}` as usual, `\` escapes. Matches are sorted by path, so a
//! job reads them in the same order on every run and every machine.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

/// Whether `text` holds a glob character (a literal path is never expanded).
pub(super) fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

/// `pattern` split at the last `/` before its first glob character: the literal folder to
/// search (may be empty) and the rest. `a/b/c*/d.csv` -> (`a/b`, `c*/d.csv`).
pub(super) fn split(pattern: &str) -> (&str, &str) {
    let first = pattern.find(['*', '?', '[', '{']).unwrap_or(pattern.len());
    match pattern[..first].rfind('/') {
        Some(0) => ("/", &pattern[1..]),
        Some(i) => (&pattern[..i], &pattern[i + 1..]),
        None => ("", pattern),
    }
}

/// The matcher of `pattern`, where `*` never crosses a `/`; the error says what is wrong.
pub(super) fn matcher(pattern: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .empty_alternates(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("'{pattern}' is not a valid glob: {}", e.kind()))
}

/// The files under `folder` whose path relative to it matches `pattern`, sorted by path.
/// Without `**` only as many folder levels as the pattern has are read; symlinked folders are
/// followed then, but not under `**` (a link loop would never end).
pub(super) fn local(folder: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let glob = matcher(pattern)?;
    let depth = if pattern.contains("**") { None } else { Some(pattern.split('/').count()) };
    let mut found = Vec::new();
    walk(folder, Path::new(""), depth, &glob, &mut found)
        .map_err(|e| format!("cannot search {}: {e}", display(folder)))?;
    found.sort();
    Ok(found.into_iter().map(|rel| folder.join(rel)).collect())
}

fn walk(root: &Path, rel: &Path, depth: Option<usize>, glob: &GlobMatcher, found: &mut Vec<PathBuf>) -> io::Result<()> {
    if depth == Some(0) {
        return Ok(());
    }
    let dir = root.join(rel);
    for entry in fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { &dir })? {
        let entry = entry?;
        let path = rel.join(entry.file_name());
        let kind = entry.file_type()?;
        let (is_dir, is_file) = if kind.is_symlink() {
            match fs::metadata(entry.path()) {
                Ok(m) => (m.is_dir() && depth.is_some(), m.is_file()),
                Err(_) => (false, false), // a dangling link is no file
            }
        } else {
            (kind.is_dir(), kind.is_file())
        };
        if is_file && glob.is_match(&path) {
            found.push(path);
        } else if is_dir {
            walk(root, &path, depth.map(|d| d - 1), glob, found)?;
        }
    }
    Ok(())
}

/// A folder as messages name it.
pub(super) fn display(folder: &Path) -> String {
    match folder.as_os_str().is_empty() {
        true => ".".into(),
        false => folder.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_split_at_the_folder_before_the_first_glob_character() {
        assert_eq!(split("data/2025-*.csv"), ("data", "2025-*.csv"));
        assert_eq!(split("/srv/a/b/c*/d.csv"), ("/srv/a/b", "c*/d.csv"));
        assert_eq!(split("*.csv"), ("", "*.csv"));
        assert_eq!(split("/*.csv"), ("/", "*.csv"));
        assert_eq!(split("raw/**/x.csv"), ("raw", "**/x.csv"));
        assert!(is_glob("a/{b,c}.csv") && is_glob("a?.csv") && is_glob("[ab].csv") && !is_glob("a/b.csv"));
    }

    #[test]
    fn star_stays_in_one_folder_and_double_star_spans_them() {
        let m = matcher("*.csv").unwrap();
        assert!(m.is_match("a.csv") && !m.is_match("sub/a.csv"));
        let m = matcher("**/*.csv").unwrap();
        assert!(m.is_match("a.csv") && m.is_match("sub/deeper/a.csv"));
        assert!(matcher("[a.csv").unwrap_err().contains("'[a.csv' is not a valid glob"));
    }

    #[test]
    fn local_matches_are_files_sorted_by_path_at_the_pattern_depth() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.csv", "a.csv", "c.txt", "sub/d.csv", "sub/deep/e.csv"] {
            let p = dir.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "x\n").unwrap();
        }
        fs::create_dir(dir.path().join("z.csv")).unwrap(); // a folder is never an input
        let rel = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter().map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string()).collect()
        };
        assert_eq!(rel(local(dir.path(), "*.csv").unwrap()), ["a.csv", "b.csv"]);
        assert_eq!(rel(local(dir.path(), "**/*.csv").unwrap()), ["a.csv", "b.csv", "sub/d.csv", "sub/deep/e.csv"]);
        assert_eq!(rel(local(dir.path(), "*/*.csv").unwrap()), ["sub/d.csv"]);
        assert_eq!(rel(local(dir.path(), "{a,c}.*").unwrap()), ["a.csv", "c.txt"]);
        assert!(local(&dir.path().join("missing"), "*.csv").unwrap_err().starts_with("cannot search"));
    }
}
