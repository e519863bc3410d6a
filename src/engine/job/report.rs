//! What a job run reports: live [`Progress`] while it runs and a [`RunReport`] at the end.

use std::time::Duration;

use crate::parquet::writer::CommittedFile;

/// Where a running job is; handed to the progress callback about ten times a second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Rows written so far.
    pub rows: u64,
    /// Input bytes consumed so far.
    pub bytes_read: u64,
    /// Total size of the input files.
    pub total_bytes: u64,
    pub elapsed: Duration,
}

impl Progress {
    /// Fraction of the input consumed, 0.0..=1.0 (0 when the total is unknown).
    pub fn fraction(&self) -> f64 {
        if self.total_bytes == 0 {
            0.0
        } else {
            (self.bytes_read as f64 / self.total_bytes as f64).min(1.0)
        }
    }
}

/// The outcome of a successful run (serde: `dativo run --engine ray` hands it from the
/// Python driver to the CLI as JSON).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RunReport {
    /// Good rows read from the input.
    pub rows_read: u64,
    /// Rows written to Parquet.
    pub rows_written: u64,
    /// Bad rows skipped or sent to the rejects file (`on_error: skip | reject`).
    pub rows_rejected: u64,
    /// Warnings logged: each column missing or dropped per file, and each row kept with a
    /// null in a required column (`schema_validation_mode: warn`).
    pub warnings: u64,
    /// The Parquet files committed, in order.
    pub files: Vec<CommittedFile>,
    /// Sum of the sizes of `files`.
    pub bytes_written: u64,
    /// Sum of the sizes of the input files (read in this run); 0 when a reader plugin reads
    /// the input (its size is unknown to dativo).
    pub input_bytes: u64,
    pub seconds: f64,
    /// With `source.incremental`: which inputs were ingested and which skipped.
    pub incremental: Option<IncrementalReport>,
    /// The CSV dialect the (first) input was read with and what of it was detected
    /// (`DetectedDialect::describe`); `None` for a reader plugin.
    pub dialect: Option<String>,
}

/// The incremental part of a [`RunReport`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IncrementalReport {
    /// Inputs read and committed in this run, in job order (as the job names them, `${VAR}`
    /// values redacted: these are for display, unlike `files`).
    pub ingested: Vec<std::path::PathBuf>,
    /// Inputs skipped because they are unchanged since they were ingested (redacted).
    pub skipped: Vec<std::path::PathBuf>,
    /// The state file (redacted).
    pub state_path: std::path::PathBuf,
}

impl RunReport {
    /// Input throughput in MB/s (10^6 bytes).
    pub fn mb_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.input_bytes as f64 / 1e6 / self.seconds
        } else {
            0.0
        }
    }

    /// Rows read per second (for inputs whose size dativo cannot know, a reader plugin's).
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows_read as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// A few human lines, e.g. for the CLI.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "rows: {} read, {} written, {} rejected",
            group(self.rows_read),
            group(self.rows_written),
            group(self.rows_rejected)
        );
        if self.warnings > 0 {
            s.push_str(&format!(", {} warning{}", group(self.warnings), plural(self.warnings)));
        }
        s.push_str(&format!(
            "\nfiles: {} parquet file{}, {}",
            self.files.len(),
            plural(self.files.len() as u64),
            human_bytes(self.bytes_written)
        ));
        // A reader plugin's input has no size dativo can know: rows per second instead.
        if self.input_bytes > 0 || self.rows_read == 0 {
            s.push_str(&format!(
                " (input {})\ntime: {:.2} s, {:.1} MB/s",
                human_bytes(self.input_bytes),
                self.seconds,
                self.mb_per_second()
            ));
        } else {
            let rate = self.rows_per_second().round() as u64;
            s.push_str(&format!("\ntime: {:.2} s, {} rows/s", self.seconds, group(rate)));
        }
        if let Some(d) = &self.dialect {
            s.push_str(&format!("\ncsv: {d}"));
        }
        if let Some(inc) = &self.incremental {
            s.push_str(&format!(
                "\ninputs: {} ingested, {} skipped (unchanged)",
                inc.ingested.len(),
                inc.skipped.len()
            ));
            for skipped in &inc.skipped {
                s.push_str(&format!("\n  skipped: {}", skipped.display()));
            }
        }
        s
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// 1234567 -> "1,234,567".
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 1536 -> "1.5 KiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_helpers() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn summary_lines() {
        let r = RunReport {
            rows_read: 1_000_000,
            rows_written: 999_998,
            rows_rejected: 2,
            warnings: 1,
            files: vec![],
            bytes_written: 2048,
            input_bytes: 50_000_000,
            seconds: 2.0,
            incremental: None,
            dialect: None,
        };
        let s = r.summary();
        assert_eq!(
            s,
            "rows: 1,000,000 read, 999,998 written, 2 rejected, 1 warning\n\
             files: 0 parquet files, 2.0 KiB (input 47.7 MiB)\ntime: 2.00 s, 25.0 MB/s"
        );
        assert_eq!(RunReport::default().mb_per_second(), 0.0);
        assert_eq!(RunReport::default().rows_per_second(), 0.0);
        let plugin_read = RunReport { input_bytes: 0, rows_rejected: 0, warnings: 0, ..r.clone() };
        assert_eq!(
            plugin_read.summary(),
            "rows: 1,000,000 read, 999,998 written, 0 rejected\n\
             files: 0 parquet files, 2.0 KiB\ntime: 2.00 s, 500,000 rows/s"
        );
        let inc = RunReport {
            incremental: Some(IncrementalReport {
                ingested: vec!["a.csv".into()],
                skipped: vec!["b.csv".into(), "c.csv".into()],
                state_path: "s.json".into(),
            }),
            ..r
        };
        assert!(inc
            .summary()
            .ends_with("\ninputs: 1 ingested, 2 skipped (unchanged)\n  skipped: b.csv\n  skipped: c.csv"));
        let with_dialect = RunReport { dialect: Some("delimiter \";\" (detected)".into()), ..RunReport::default() };
        assert!(with_dialect.summary().ends_with("\ncsv: delimiter \";\" (detected)"));
        let p = Progress { rows: 1, bytes_read: 5, total_bytes: 10, elapsed: Duration::ZERO };
        assert_eq!(p.fraction(), 0.5);
    }
}
