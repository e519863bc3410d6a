//! `dativo`: the command line over the dativo engine.
//!
//! Exit codes: 0 success, 1 an error the user can fix (config, data, disk), 2 bad command-line
//! usage (clap), 70 an internal error (a bug: please report it). A panic never prints a Rust
//! backtrace; it becomes an "internal error" line.

mod logger;
mod progress;
mod ray;

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use clap::{Parser, Subcommand};

use dativo_engine::csv::{CsvOptions, Encoding};
use dativo_engine::{Error, Result};

use logger::Redactor;
use progress::{Progress, Snapshot};

/// Exit code of internal errors (BSD `EX_SOFTWARE`).
const EXIT_INTERNAL: u8 = 70;

#[derive(Parser)]
#[command(name = "dativo", version, about = "Fast, trustworthy CSV -> Parquet ingestion")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--mode`: the Dativo platform's deployment modes.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// Plugins load under the usual rules (pins and DATIVO_PLUGIN_DIR when given).
    #[value(name = "self_hosted", alias = "self-hosted")]
    SelfHosted,
    /// A shared deployment: plugins must be pinned and allow-listed.
    Cloud,
}

/// `--engine`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Engine {
    Local,
    /// Ray, at this address (None: Ray's default, e.g. RAY_ADDRESS).
    Ray(Option<String>),
}

fn parse_engine(text: &str) -> std::result::Result<Engine, String> {
    match text.split_once('=') {
        None if text == "local" => Ok(Engine::Local),
        None if text == "ray" => Ok(Engine::Ray(None)),
        Some(("ray", address)) if !address.is_empty() => Ok(Engine::Ray(Some(address.to_string()))),
        _ => Err(format!("`{text}`: expected local, ray or ray=ADDRESS (e.g. ray=127.0.0.1:6379)")),
    }
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
        /// Where the job runs, as the Dativo platform names it. `cloud`: every plugin must be
        /// sha256-pinned and inside DATIVO_PLUGIN_DIR.
        #[arg(long, value_enum, default_value_t = Mode::SelfHosted)]
        mode: Mode,
        /// Where the units run: `local` (this process), or `ray` / `ray=ADDRESS` (one Ray task
        /// per unit on a cluster, through the Python package: docs/ray.md). Same report,
        /// state and guarantees.
        #[arg(long, value_name = "local|ray[=ADDRESS]", default_value = "local", value_parser = parse_engine)]
        engine: Engine,
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
        /// As for `run`: `cloud` checks that every plugin is pinned and allow-listed.
        #[arg(long, value_enum, default_value_t = Mode::SelfHosted)]
        mode: Mode,
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
    /// Run the conformance suite against a plugin library: one line per check (PASS, FAIL or
    /// SKIP), then a summary. Exits 0 only when no check failed.
    Test {
        /// `path/to/lib.so:symbol`, or `path/to/lib.so` for the entry symbol dativo_plugin_init.
        #[arg(value_name = "LIB[:SYMBOL]")]
        spec: String,
        /// The config a reader is opened with, or the base of a writer's config (default {}).
        #[arg(long, value_name = "JSON")]
        config: Option<String>,
        /// A reader config that must fail (e.g. a missing file), for the error checks.
        #[arg(long, value_name = "JSON")]
        bad_config: Option<String>,
        /// Refuse a library whose sha256 differs.
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
        /// How long one check may run before it is killed and fails.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        timeout: u64,
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
        Command::Run { config, quiet, full_refresh, reset_state, mode, engine } => {
            run(&config, quiet, full_refresh, reset_state, mode, engine)
        }
        Command::Check { config, data, quiet, mode } => check(&config, data, quiet, mode),
        Command::Infer { file, delimiter, encoding, no_header, header, sample_rows } => {
            let header = (header || no_header).then_some(header);
            infer(&file, delimiter.as_deref(), &encoding, header, sample_rows)
        }
        Command::Gen { rows, out } => gen(rows, &out),
        Command::Plugin { command: PluginCommand::Info { spec, sha256 } } => plugin_info(&spec, sha256),
        Command::Plugin { command: PluginCommand::Test { spec, config, bad_config, sha256, timeout } } => {
            plugin_test(&spec, config, bad_config, sha256, timeout)
        }
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
fn load_job(config: &Path, mode: Mode) -> Result<dativo_engine::job::Job> {
    let mut job = dativo_engine::job::load(config)?;
    if job.uses_plugins() {
        // DATIVO_PLUGIN_DIR matters (and a bad value fails) only for a job that loads plugins.
        let mut loader = dativo_plugin::Loader::from_env()?;
        loader.require_pins = mode == Mode::Cloud;
        job.set_plugin_loader(loader.shared());
    }
    let redactor = job.redactor().clone();
    let redact: Redactor = Arc::new(move |text: &str| redactor.redact(text));
    let _ = REDACTOR.set(redact.clone());
    logger::init(job.log_level, redact);
    Ok(job)
}

fn run(config: &Path, quiet: bool, full_refresh: bool, reset_state: bool, mode: Mode, engine: Engine) -> Result<()> {
    let mut job = load_job(config, mode)?;
    job.full_refresh = full_refresh;
    job.reset_state = reset_state;
    let report = match engine {
        Engine::Local => with_progress(quiet, |p| job.run(p))?,
        // The job was loaded here first, so its errors read as a local run's; the driver's
        // own messages (Ray's included) go to stderr.
        Engine::Ray(address) => ray::run(config, address.as_deref(), full_refresh, reset_state)?,
    };
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
    work: impl FnOnce(&dyn Fn(&dativo_engine::job::Progress)) -> Result<dativo_engine::job::RunReport>,
) -> Result<dativo_engine::job::RunReport> {
    let progress = Progress::new(quiet);
    let report = work(&|p: &dativo_engine::job::Progress| {
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

fn check(config: &Path, data: bool, quiet: bool, mode: Mode) -> Result<()> {
    let job = load_job(config, mode)?;
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
            .map(|d| dativo_engine::csv::parse_separator("--delimiter", d))
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
    let reader = dativo_engine::csv::CsvReader::open(&[file.to_path_buf()], options.clone())?;
    let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "asset".into());
    let asset = dativo_engine::schema::asset_yaml(
        &name,
        &file.display().to_string(),
        options.infer_sample_rows,
        &reader.schema(),
    );
    print_stdout(&format!("{}{asset}", dialect_comment(reader.dialect())))
}

/// The dialect `infer` read the file with, as YAML comments above the asset (which stays a
/// valid asset file): the job options to paste under `source.engine.options`, and warnings.
fn dialect_comment(d: &dativo_engine::csv::DetectedDialect) -> String {
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
    use dativo_plugin::{LoadPolicy, Plugin, PluginSpec};
    let spec = PluginSpec::parse(spec)?;
    let allow_dir = dativo_plugin::Loader::from_env()?.allow_dir;
    let plugin = Plugin::load(&spec, &LoadPolicy { sha256, allow_dir })?;
    print_stdout(&format!(
        "name: {}\nkind: {}\nversion: {}\nabi_version: {}\nlibrary: {}\nsymbol: {}\n",
        plugin.name(),
        plugin.kind().name(),
        plugin.version().unwrap_or("-"),
        if plugin.is_legacy() { "0 (legacy Dativo JSON ABI)".to_string() } else { plugin.abi_version().to_string() },
        spec.path.display(),
        plugin.entry_symbol(&spec),
    ))
}

/// `dativo plugin test`: the conformance suite (honouring DATIVO_PLUGIN_DIR); fails when a
/// check failed.
fn plugin_test(
    spec: &str,
    config: Option<String>,
    bad_config: Option<String>,
    sha256: Option<String>,
    timeout: u64,
) -> Result<()> {
    use dativo_plugin::conformance::{run, Options};
    for (flag, value) in [("--config", &config), ("--bad-config", &bad_config)] {
        if let Some(text) = value {
            serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| Error::Config(format!("{flag} is not valid JSON: {e}")))?;
        }
    }
    let parsed = dativo_plugin::PluginSpec::parse(spec)?;
    let allow_dir = dativo_plugin::Loader::from_env()?.allow_dir;
    let options = Options {
        config,
        bad_config,
        policy: dativo_plugin::LoadPolicy { sha256, allow_dir },
        timeout: std::time::Duration::from_secs(timeout.max(1)),
        ..Options::default()
    };
    let report = run(&parsed, &options);
    print_stdout(&report.to_string())?;
    if report.ok() {
        Ok(())
    } else {
        Err(Error::Plugin(format!(
            "plugin {spec}: {} of {} conformance checks failed",
            report.failed(),
            report.checks.len()
        )))
    }
}

fn gen(rows: u64, out: &Path) -> Result<()> {
    let start = Instant::now();
    if out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        return match dativo_engine::gen::generate(rows, &mut lock) {
            Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(Error::io("cannot write", Path::new("<stdout>"), e)),
            _ => Ok(()), // `dativo gen ... - | head` closing the pipe early is fine
        };
    }
    let bytes = dativo_engine::gen::generate_file(rows, out).map_err(|e| Error::io("cannot write", out, e))?;
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
