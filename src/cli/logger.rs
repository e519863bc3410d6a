//! A small stderr logger for the `log` crate.
//!
//! Every line goes through the job's redaction (so a secret substituted from `${VAR}` never
//! reaches a log) and is printed above the progress bar, never through it.

use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use log::{LevelFilter, Log, Metadata, Record};

use super::progress::print_above_bar;

/// Turns text that may contain secrets into text that does not.
pub type Redactor = Arc<dyn Fn(&str) -> String + Send + Sync>;

struct StderrLogger {
    started: Instant,
    redact: Redactor,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = (self.redact)(&record.args().to_string());
        let line = format_line(self.started.elapsed().as_secs_f64(), record.level(), record.target(), &message);
        print_above_bar(|| {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        });
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// `[   1.234s INFO ] message`; debug and trace lines also name the module they come from.
fn format_line(secs: f64, level: log::Level, target: &str, message: &str) -> String {
    if level <= log::Level::Info {
        format!("[{secs:8.3}s {level:<5}] {message}")
    } else {
        format!("[{secs:8.3}s {level:<5}] {target}: {message}")
    }
}

static LOGGER: OnceLock<StderrLogger> = OnceLock::new();

/// Install the logger (first call wins) and set the level (every call).
pub fn init(level: LevelFilter, redact: Redactor) {
    let logger = LOGGER.get_or_init(|| StderrLogger { started: Instant::now(), redact });
    let _ = log::set_logger(logger);
    log::set_max_level(level);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_lines_name_their_module() {
        assert_eq!(format_line(1.5, log::Level::Info, "dativo::job", "go"), "[   1.500s INFO ] go");
        assert_eq!(format_line(0.0, log::Level::Debug, "dativo::job", "go"), "[   0.000s DEBUG] dativo::job: go");
    }
}
