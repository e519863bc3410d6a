//! `dativo`: the command line over the dativo engine.
//!
//! Exit codes: 0 success, 1 an error the user can fix (config, data, disk), 2 bad command-line
//! usage (clap), 70 an internal error (a bug: please report it). A panic never prints a Rust
//! backtrace; it becomes an "internal error" line.

mod cli;

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use clap::{Parser, Subcommand};

use dativo::csv::{CsvOptions, Encoding};
use dativo::{Error, Result};

use cli::logger::{self, Redactor};
use cli::progress::{Progress, Snapshot};

/// Exit code of internal errors (BSD `EX_SOFTWARE`).
const EXIT_INTERNAL: u8 = 70;

#[derive(Parser)]
#[command(name = "dativo", version, about = "Fast, trustworthy CSV -> Parquet ingestion")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a job: read its CSV files and write them as Parquet.
    Run {
        /// The job file (YAML).
        #[arg(long, short, value_name = "JOB.yaml")]
        config: PathBuf,
        /// No progress display (errors and the final summary are still printed).
        #[arg(long, short)]
        quiet: bool,
        /// With source.incremental: ingest every listed file again, replacing its Parquet
        /// files, even when it is unchanged.
        #[arg(long)]
        full_refresh: bool,
        /// With source.incremental: ignore the state file (also a corrupt one) and start from an
        /// empty state: every listed file is ingested again.
        #[arg(long)]
        reset_state: bool,
    },
    /// Validate a job without running it: keys, values, asset, input files and their headers.
    Check {
        /// The job file (YAML).
        #[arg(long, short, value_name = "JOB.yaml")]
        config: PathBuf,
        /// Also read and check every row as `run` would (bad rows are reported, skipped or
        /// rejected per on_error), writing no Parquet; prints the rows and MB/s.
        #[arg(long)]
        data: bool,
        /// No progress display (with --data).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Infer the schema of a CSV file and print it as an asset file to edit and pin.
    Infer {
        /// The CSV file.
        file: PathBuf,
        /// Field separator: one or more characters (`;`, `+|`), or `tab`. Default: detected.
        #[arg(long, short)]
        delimiter: Option<String>,
        /// Text encoding: auto, utf-8, utf-16-le, utf-16-be, latin-1, windows-1252.
        #[arg(long, short, default_value = "auto")]
        encoding: String,
        /// The first line is data, not column names (default: detected).
        #[arg(long, conflicts_with = "header")]
        no_header: bool,
        /// The first line holds column names (default: detected).
        #[arg(long)]
        header: bool,
        /// Rows read to decide the types.
        #[arg(long, value_name = "N")]
        sample_rows: Option<usize>,
    },
    /// Inspect plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Write the deterministic benchmark CSV (`-` writes to stdout).
    Gen {
        /// Number of data rows.
        #[arg(long, short)]
        rows: u64,
        /// Output file.
        #[arg(value_name = "OUT.csv")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Load a plugin library and print its name, kind, version and ABI version.
    Info {
        /// `path/to/lib.so:symbol`, or `path/to/lib.so` for the entry symbol dativo_plugin_init.
        #[arg(value_name = "LIB[:SYMBOL]")]
        spec: String,
        /// Refuse a library whose sha256 differs.
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
    },
}

/// Redacts error text and panic messages once a job (and its secrets) is known.
static REDACTOR: OnceLock<Redactor> = OnceLock::new();

fn redact(text: &str) -> String {
    match REDACTOR.get() {
        Some(r) => r(text),
        None => text.to_string(),
    }
}

/// The first panic's message and location, recorded by the hook.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_string());
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        if let Ok(mut slot) = PANIC.lock() {
            slot.get_or_insert(format!("{message}{location}"));
        }
    }));
}

fn main() -> ExitCode {
    install_panic_hook();
    let cli = Cli::parse(); // usage errors exit with 2, --help and --version with 0
    let outcome = std::panic::catch_unwind(move || execute(cli));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(Error::Internal(message))) => internal_error(&message),
        Ok(Err(e)) => {
            eprintln!("error: {}", redact(&e.to_string()));
            ExitCode::FAILURE
        }
        Err(_) => {
            let message = PANIC.lock().ok().and_then(|p| p.clone()).unwrap_or_else(|| "panic".into());
            internal_error(&message)
        }
    }
}

fn internal_error(message: &str) -> ExitCode {
    eprintln!("internal error: {}; this is a bug in dativo, please report it", redact(message));
    ExitCode::from(EXIT_INTERNAL)
}

fn execute(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run { config, quiet, full_refresh, reset_state } => run(&config, quiet, full_refresh, reset_state),
        Command::Check { config, data, quiet } => check(&config, data, quiet),
        Command::Infer { file, delimiter, encoding, no_header, header, sample_rows } => {
            let header = (header || no_header).then_some(header);
            infer(&file, delimiter.as_deref(), &encoding, header, sample_rows)
        }
        Command::Gen { rows, out } => gen(rows, &out),
        Command::Plugin { command: PluginCommand::Info { spec, sha256 } } => plugin_info(&spec, sha256),
    }
}

/// Print to stdout; a reader that stops early (`dativo infer x.csv | head -3`) is not an error.
fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(Error::io("cannot write", Path::new("<stdout>"), e)),
        _ => Ok(()),
    }
}

/// Load a job and start logging at its level, through its redaction.
fn load_job(config: &Path) -> Result<dativo::job::Job> {
    let job = dativo::job::load(config)?;
    let redactor = job.redactor().clone();
    let redact: Redactor = Arc::new(move |text: &str| redactor.redact(text));
    let _ = REDACTOR.set(redact.clone());
    logger::init(job.log_level, redact);
    Ok(job)
}

fn run(config: &Path, quiet: bool, full_refresh: bool, reset_state: bool) -> Result<()> {
    let mut job = load_job(config)?;
    job.full_refresh = full_refresh;
    job.reset_state = reset_state;
    let report = with_progress(quiet, |p| job.run(p))?;
    let mut text = format!("{}\n", report.summary());
    match report.files.as_slice() {
        [] if report.incremental.is_some() => text.push_str("no parquet file written (every input unchanged)\n"),
        [] => text.push_str("no parquet file written (no rows)\n"),
        [file] => text.push_str(&format!("parquet: {}\n", file.path.display())),
        files => text.push_str(&format!("parquet: {} files in {}\n", files.len(), job.output_dir.display())),
    }
    print_stdout(&job.redact(&text))
}

/// Run `work` with a progress display fed by its progress callback.
fn with_progress(
    quiet: bool,
    work: impl FnOnce(&dyn Fn(&dativo::job::Progress)) -> Result<dativo::job::RunReport>,
) -> Result<dativo::job::RunReport> {
    let progress = Progress::new(quiet);
    let report = work(&|p: &dativo::job::Progress| {
        progress.update(&Snapshot {
            rows: p.rows,
            bytes_read: p.bytes_read,
            total_bytes: p.total_bytes,
            elapsed: p.elapsed,
        })
    });
    progress.finish();
    report
}

fn check(config: &Path, data: bool, quiet: bool) -> Result<()> {
    let job = load_job(config)?;
    job.plan()?; // reads every header and matches it to the asset
    let plugins = job.check_plugins()?; // loads every plugin once
    if data {
        let report = with_progress(quiet, |p| job.check_data(p))?;
        return print_stdout(
            &job.redact(&format!("{}\nok: every row read and checked; no parquet written\n", report.summary())),
        );
    }
    let files: Vec<String> = job.inputs.iter().map(|i| i.path.display().to_string()).collect();
    let schema = match &job.asset {
        Some(asset) => format!(
            "asset {} ({} columns: {})",
            asset.name,
            asset.fields.len(),
            asset.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
        None => "no asset (column types inferred)".to_string(),
    };
    let inputs = match &job.reader_plugin {
        Some(plugin) => format!("custom reader {}", plugin.spec),
        None => format!("{} input file{} ({})", files.len(), if files.len() == 1 { "" } else { "s" }, files.join(", ")),
    };
    let summary = format!("ok: {inputs} -> {}, {}, {} mode", job.output_dir.display(), schema, job.mode.name());
    let plugins: String = plugins.iter().map(|line| format!("ok: {line}\n")).collect();
    print_stdout(&job.redact(&format!("{summary}\n{plugins}")))
}

fn infer(
    file: &Path,
    delimiter: Option<&str>,
    encoding: &str,
    header: Option<bool>,
    sample_rows: Option<usize>,
) -> Result<()> {
    let mut options = CsvOptions {
        delimiter: delimiter
            .map(|d| dativo::csv::parse_separator("--delimiter", d))
            .transpose()
            .map_err(Error::Config)?,
        encoding: Encoding::parse(encoding).map_err(|m| Error::Config(format!("--{m}")))?,
        has_header: header,
        ..CsvOptions::default()
    };
    if let Some(n) = sample_rows {
        if n == 0 {
            return Err(Error::Config("--sample-rows must be at least 1".into()));
        }
        options.infer_sample_rows = n;
    }
    let reader = dativo::csv::CsvReader::open(&[file.to_path_buf()], options.clone())?;
    let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "asset".into());
    let asset =
        dativo::schema::asset_yaml(&name, &file.display().to_string(), options.infer_sample_rows, &reader.schema());
    print_stdout(&format!("{}{asset}", dialect_comment(reader.dialect())))
}

/// The dialect `infer` read the file with, as YAML comments above the asset (which stays a
/// valid asset file): the job options to paste under `source.engine.options`, and warnings.
fn dialect_comment(d: &dativo::csv::DetectedDialect) -> String {
    let mut out = String::from(
        "# CSV dialect (detected unless given); to pin it, paste these lines under the job's\n\
         # source.engine.options:\n",
    );
    for line in d.job_options().lines() {
        out.push_str(&format!("#   {line}\n"));
    }
    for w in &d.warnings {
        eprintln!("warning: {w}");
        out.push_str(&format!("# warning: {w}\n"));
    }
    out
}

/// `dativo plugin info`: load the plugin (honouring DATIVO_PLUGIN_DIR) and describe it.
fn plugin_info(spec: &str, sha256: Option<String>) -> Result<()> {
    use dativo::plugin::{LoadPolicy, Plugin, PluginSpec};
    let spec = PluginSpec::parse(spec)?;
    let allow_dir = dativo::job::plugins::PluginHost::from_env().allow_dir;
    let plugin = Plugin::load(&spec, &LoadPolicy { sha256, allow_dir })?;
    print_stdout(&format!(
        "name: {}\nkind: {}\nversion: {}\nabi_version: {}\nlibrary: {}\nsymbol: {}\n",
        plugin.name(),
        plugin.kind().name(),
        plugin.version().unwrap_or("-"),
        plugin.abi_version(),
        spec.path.display(),
        spec.name.as_deref().unwrap_or(dativo::ffi::plugin_abi::DATIVO_PLUGIN_INIT_SYMBOL),
    ))
}

fn gen(rows: u64, out: &Path) -> Result<()> {
    let start = Instant::now();
    if out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        return match dativo::gen::generate(rows, &mut lock) {
            Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(Error::io("cannot write", Path::new("<stdout>"), e)),
            _ => Ok(()), // `dativo gen ... - | head` closing the pipe early is fine
        };
    }
    let bytes = dativo::gen::generate_file(rows, out).map_err(|e| Error::io("cannot write", out, e))?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "wrote {rows} rows, {:.1} MB to {} in {secs:.2} s ({:.0} MB/s)",
        bytes as f64 / 1e6,
        out.display(),
        bytes as f64 / 1e6 / secs.max(1e-9)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
