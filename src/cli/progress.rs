//! Progress of `dativo run`: a live bar on a terminal, a plain line every few seconds otherwise
//! (CI logs, pipes), nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use dativo_engine::job::report::group;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the plain display prints a line.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// One snapshot of a running job, as the job reports it.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    pub rows: u64,
    pub bytes_read: u64,
    /// 0 when the input size is unknown.
    pub total_bytes: u64,
    pub elapsed: Duration,
}

/// The bar currently on screen, so the logger can print above it instead of through it.
static ACTIVE_BAR: OnceLock<Mutex<Option<ProgressBar>>> = OnceLock::new();

fn active_bar() -> &'static Mutex<Option<ProgressBar>> {
    ACTIVE_BAR.get_or_init(|| Mutex::new(None))
}

/// Run `print` so that it does not garble a progress bar on screen.
pub fn print_above_bar(print: impl FnOnce()) {
    let bar = active_bar().lock().ok().and_then(|b| b.clone());
    match bar {
        Some(bar) => bar.suspend(print),
        None => print(),
    }
}

enum Display {
    Quiet,
    Bar(ProgressBar),
    Plain { last_print: Mutex<Option<Instant>> },
}

pub struct Progress {
    display: Display,
}

impl Progress {
    /// Choose the display: nothing when `quiet`, a bar when stderr is a terminal, lines otherwise.
    pub fn new(quiet: bool) -> Self {
        let display = if quiet {
            Display::Quiet
        } else if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg}")
                    .expect("valid progress template")
                    .progress_chars("=> "),
            );
            if let Ok(mut slot) = active_bar().lock() {
                *slot = Some(bar.clone());
            }
            Display::Bar(bar)
        } else {
            Display::Plain { last_print: Mutex::new(None) }
        };
        Progress { display }
    }

    /// Show a new snapshot (cheap enough to call for every batch).
    pub fn update(&self, s: &Snapshot) {
        match &self.display {
            Display::Quiet => {}
            Display::Bar(bar) => {
                if s.total_bytes > 0 {
                    bar.set_length(s.total_bytes);
                    bar.set_position(s.bytes_read.min(s.total_bytes));
                }
                bar.set_message(describe(s));
            }
            Display::Plain { last_print } => {
                let now = Instant::now();
                let Ok(mut last) = last_print.lock() else { return };
                let due = match *last {
                    None => s.elapsed >= PLAIN_INTERVAL,
                    Some(t) => now.duration_since(t) >= PLAIN_INTERVAL,
                };
                if due {
                    *last = Some(now);
                    eprintln!("progress: {}", describe(s));
                }
            }
        }
    }

    /// Remove the bar before the summary is printed.
    pub fn finish(&self) {
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
            if let Ok(mut slot) = active_bar().lock() {
                *slot = None;
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `1,234,567 rows, 512.0 of 1060.0 MB (48%), 210.3 MB/s, ETA 3s`
pub fn describe(s: &Snapshot) -> String {
    const MB: f64 = 1e6;
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 { s.bytes_read as f64 / secs } else { 0.0 };
    let mut text = format!("{} rows, {:.1}", group(s.rows), s.bytes_read as f64 / MB);
    if s.total_bytes > 0 {
        let done = s.bytes_read.min(s.total_bytes);
        let percent = done as f64 * 100.0 / s.total_bytes as f64;
        text.push_str(&format!(" of {:.1} MB ({percent:.0}%)", s.total_bytes as f64 / MB));
        text.push_str(&format!(", {:.1} MB/s", rate / MB));
        if rate > 0.0 {
            let eta = (s.total_bytes - done) as f64 / rate;
            text.push_str(&format!(", ETA {}", short_duration(eta)));
        }
    } else {
        text.push_str(&format!(" MB, {:.1} MB/s", rate / MB));
    }
    text
}

/// `75.0` -> `1m15s`
fn short_duration(secs: f64) -> String {
    let secs = secs.round() as u64;
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_shows_rate_and_eta_when_size_is_known() {
        let s = Snapshot {
            rows: 1_000_000,
            bytes_read: 100_000_000,
            total_bytes: 200_000_000,
            elapsed: Duration::from_secs(1),
        };
        assert_eq!(describe(&s), "1,000,000 rows, 100.0 of 200.0 MB (50%), 100.0 MB/s, ETA 1s");
    }

    #[test]
    fn describe_without_total_has_no_eta() {
        let s = Snapshot { rows: 5, bytes_read: 2_000_000, total_bytes: 0, elapsed: Duration::from_secs(2) };
        assert_eq!(describe(&s), "5 rows, 2.0 MB, 1.0 MB/s");
    }
}
