//! The Dativo platform's incremental state, read so that a job switched to dativo does not
//! ingest everything again.
//!
//! The platform keeps `{"file_<id>": {"last_modified": "<local ISO time>", "file_id": "<id>"}}`
//! per job (`<id>` is the file's `id` in the job, else its path as written), and skips a file
//! whose modification time is not later than `last_modified`. dativo's first run over such a
//! file takes the same decision for every file it lists, records the skipped ones in its own
//! state (with no Parquet files: their rows are wherever the platform wrote them), and saves
//! its own format from then on; the platform's file is kept next to it as
//! `<state file>.platform.json`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// The platform's record of each file: its `last_modified`, as seconds since the Unix epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlatformState {
    pub modified: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
struct Record {
    last_modified: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    file_id: Option<serde_json::Value>,
}

/// Whether `text` is a platform state file: a JSON object whose keys all start with `file_`
/// (dativo's own state has `version`).
pub fn is_platform_state(text: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => !map.is_empty() && map.keys().all(|k| k.starts_with("file_")),
        _ => false,
    }
}

impl PlatformState {
    /// Parse a platform state file; `path` names it in errors.
    pub fn parse(text: &[u8], path: &Path) -> Result<PlatformState> {
        let corrupt = |what: String| {
            Error::Data(format!(
                "Dativo platform state file {} cannot be migrated: {what}; fix it, or run with --reset-state to \
                 ingest every listed file again",
                path.display()
            ))
        };
        let records: BTreeMap<String, Record> = serde_json::from_slice(text).map_err(|e| corrupt(e.to_string()))?;
        let mut modified = BTreeMap::new();
        for (key, record) in records {
            let id = key.strip_prefix("file_").unwrap_or(&key).to_string();
            // The platform ingests a file again when its record has no time: so does dativo.
            let Some(text) = record.last_modified else { continue };
            let secs = local_iso_to_epoch(&text).ok_or_else(|| {
                corrupt(format!("{key}.last_modified: '{text}' is not a time like 2024-03-01T09:14:05.123456"))
            })?;
            modified.insert(id, secs);
        }
        Ok(PlatformState { modified })
    }

    /// Whether the platform would skip the file it knows as `id`, now modified at `mtime_ns`.
    pub fn ingested(&self, id: &str, mtime_ns: u64) -> bool {
        // The platform compares times at microsecond precision (isoformat()).
        let mtime = (mtime_ns / 1_000) as f64 / 1e6;
        self.modified.get(id).is_some_and(|last| mtime <= last + 1e-7)
    }
}

/// Where the platform's own file is kept once dativo has migrated it.
pub fn backup_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.file_name().unwrap_or_default().to_os_string();
    name.push(".platform.json");
    state_path.with_file_name(name)
}

/// Keep the platform's file (once) before dativo replaces it.
pub fn keep_original(state_path: &Path, text: &[u8]) -> Result<()> {
    let backup = backup_path(state_path);
    if backup.exists() {
        return Ok(());
    }
    fs::write(&backup, text).map_err(|e| Error::io("cannot keep the Dativo platform state file", &backup, e))
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` in the local time zone (as Python's
/// `datetime.fromtimestamp(t).isoformat()` writes it) as seconds since the Unix epoch.
fn local_iso_to_epoch(text: &str) -> Option<f64> {
    let (date, time) = text.trim().split_once(['T', ' '])?;
    let mut d = date.split('-').map(|p| p.parse::<i32>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f)) => (hms, format!("0.{f}").parse::<f64>().ok()?),
        None => (time, 0.0),
    };
    let mut t = hms.split(':').map(|p| p.parse::<i32>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    if d.next().is_some() || t.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // SAFETY: `tm` is a plain C struct, zero is a valid value for every field; mktime only
    // reads and normalises it.
    let secs = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        tm.tm_year = year - 1900;
        tm.tm_mon = month - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = minute;
        tm.tm_sec = second;
        tm.tm_isdst = -1; // let the C library decide, as Python's local time did
        libc::mktime(&mut tm)
    };
    if secs == -1 && !(year == 1969 && month == 12 && day == 31) {
        return None;
    }
    Some(secs as f64 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_and_reads_the_platform_format() {
        let text = br#"{"file_orders": {"last_modified": "2024-03-01T09:14:05.250000", "file_id": "orders"},
                        "file_data/b.csv": {"last_modified": "2024-03-01T09:14:05", "file_id": "data/b.csv"}}"#;
        assert!(is_platform_state(text));
        assert!(!is_platform_state(br#"{"version": 1, "strategy": "x", "inputs": {}}"#));
        assert!(!is_platform_state(b"{}"));
        let state = PlatformState::parse(text, Path::new("s.json")).unwrap();
        let orders = state.modified["orders"];
        assert_eq!(orders - state.modified["data/b.csv"], 0.25);
        let ns = |secs: f64| (secs * 1e9).round() as u64;
        assert!(state.ingested("orders", ns(orders)));
        assert!(state.ingested("orders", ns(orders - 10.0)));
        assert!(!state.ingested("orders", ns(orders + 0.001)));
        assert!(!state.ingested("unknown", 0));
    }

    #[test]
    fn a_bad_time_is_an_error_naming_the_file_and_key() {
        let e = PlatformState::parse(br#"{"file_a": {"last_modified": "yesterday"}}"#, Path::new("s.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.json") && e.contains("file_a.last_modified: 'yesterday'"), "{e}");
    }
}
