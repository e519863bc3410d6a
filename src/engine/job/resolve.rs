//! From a parsed job file to a [`Job`]: one function per section of the file, each checking
//! its keys and values and resolving relative paths against the job file's folder. Every
//! error starts with the job file's label and names the key.

use std::fs;
use std::path::{Path, PathBuf};

use super::config::{self, AssetRef, JobFile, ReaderOptions, SourceConfig, TargetConfig, WriterOptions};
use super::options::{csv_options, parquet_options};
use super::plugins::{self, PluginUse};
use super::{incremental_config, normalize, InputFile, Job, Redactor, DEFAULT_REJECTS_FILE};
use crate::csv::{CsvOptions, OnError};
use crate::parquet::ParquetOptions;
use crate::schema::Asset;
use crate::{Error, Result};

mod lake;

/// What every section needs: the text (already `${VAR}`-substituted), the label for messages,
/// and the folder relative paths start from.
struct Ctx<'a> {
    text: &'a str,
    label: &'a str,
    base: PathBuf,
}

impl Ctx<'_> {
    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Config(format!("{}: {message}", self.label))
    }

    /// `p` as written in the job, relative to the job file's folder.
    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() || self.base.as_os_str().is_empty() {
            normalize(p)
        } else {
            normalize(&self.base.join(p))
        }
    }
}

/// The sections dativo reads, resolved in dependency order.
pub(super) fn resolve(text: &str, path: &Path, label: &str, redactor: Redactor) -> Result<Job> {
    let file: JobFile = config::from_yaml(text, label)?;
    let ctx = Ctx { text, label, base: path.parent().map(Path::to_path_buf).unwrap_or_default() };
    refuse_connectors(&ctx, &file)?;
    let (reader_plugin, writer_plugin) = plugin_uses(&ctx, &file)?;
    refuse_unsupported(&ctx, &file, reader_plugin.is_some(), writer_plugin.is_some())?;

    let inputs = source_files(&ctx, &file.source, reader_plugin.is_some())?;
    let object_target = lake::pending(&ctx, &file.target, writer_plugin.is_some())?;
    let (output_dir, parquet) = target(&ctx, &file.target, writer_plugin.is_some(), object_target.is_some())?;
    let incremental = match &file.source.incremental {
        None => None,
        Some(inc) => Some(incremental_config(inc, &parquet, &output_dir, |p| ctx.path(p)).map_err(|m| ctx.error(m))?),
    };
    if incremental.is_some() && (reader_plugin.is_some() || writer_plugin.is_some()) {
        return Err(ctx.error(
            "source.incremental cannot be combined with a custom reader or writer: dativo tracks local CSV \
             files written as Parquet",
        ));
    }
    let (csv, pinned_types) = reader(&ctx, reader_plugin.is_some(), &output_dir)?;
    let (asset, asset_name) = asset(&ctx, &file.asset_path, file.asset)?;
    if asset.is_some() && pinned_types {
        return Err(ctx.error(
            "source.engine.options.column_types cannot be combined with an asset: the asset types every column \
             (change the types there)",
        ));
    }
    let (output_dir, object_target) = match object_target {
        Some(pending) => {
            let (url, config) =
                lake::finish(&ctx, pending, asset.as_ref(), asset_name.as_deref(), &csv, incremental.is_some())?;
            (url, Some(config))
        }
        None => (output_dir, None),
    };
    let log_level = log_level(&ctx, file.logging.as_ref().and_then(|l| l.level.as_deref()))?;
    let (reader_plugin, writer_plugin) = plugins::with_configs(text, label, reader_plugin, writer_plugin, &ctx.base)?;

    Ok(Job {
        reader_plugin,
        writer_plugin,
        plugin_loader: None,
        path: path.to_path_buf(),
        tenant_id: file.tenant_id.map(|s| s.0),
        environment: file.environment.map(|s| s.0),
        asset_name,
        asset,
        mode: file.schema_validation_mode.unwrap_or_default(),
        inputs,
        csv,
        parquet,
        output_dir,
        object_target,
        log_level,
        incremental,
        full_refresh: false,
        reset_state: false,
        redactor,
    })
}

/// Connector references: jobs are self-contained.
fn refuse_connectors(ctx: &Ctx, file: &JobFile) -> Result<()> {
    const SOURCE_FIX: &str = "list the input files under source.files and reader options under source.engine.options";
    const TARGET_FIX: &str =
        "give the output directory as target.output_base and writer options under target.engine.options";
    for (key, present, fix) in [
        ("source_connector", file.source_connector.is_some(), SOURCE_FIX),
        ("source_connector_path", file.source_connector_path.is_some(), SOURCE_FIX),
        ("target_connector", file.target_connector.is_some(), TARGET_FIX),
        ("target_connector_path", file.target_connector_path.is_some(), TARGET_FIX),
    ] {
        if present {
            return Err(ctx.error(format!("{key} is not supported by dativo: jobs are self-contained; {fix}")));
        }
    }
    Ok(())
}

/// `source.custom_reader` and `target.custom_writer`, with their pins (configs come last).
fn plugin_uses(ctx: &Ctx, file: &JobFile) -> Result<(Option<PluginUse>, Option<PluginUse>)> {
    let source = &file.source;
    let reader =
        plugins::parse_use(&source.custom_reader, &source.custom_reader_sha256, "source.custom_reader", &ctx.base)
            .map_err(|m| ctx.error(m))?;
    let target = &file.target;
    let writer =
        plugins::parse_use(&target.custom_writer, &target.custom_writer_sha256, "target.custom_writer", &ctx.base)
            .map_err(|m| ctx.error(m))?;
    Ok((reader, writer))
}

/// Platform keys dativo cannot serve. A plugin gets its section as its config, so under a
/// plugin they are the plugin's business, not errors.
fn refuse_unsupported(ctx: &Ctx, file: &JobFile, reader_plugin: bool, writer_plugin: bool) -> Result<()> {
    if let Some(key) = file.source.platform_keys().first().filter(|_| !reader_plugin) {
        return Err(ctx.error(format!(
            "source.{key} is not supported by dativo: it reads local CSV files only; list them under source.files"
        )));
    }
    // An object-store target reads `connection` (see `lake.rs`).
    let object_store = lake::is_object_kind(&file.target);
    let mut unsupported = file.target.unsupported_keys().into_iter().filter(|k| !(object_store && *k == "connection"));
    if let Some(key) = unsupported.next().filter(|_| !writer_plugin) {
        let why = match key {
            "partitioning" => "files are written unpartitioned into target.output_base",
            _ => "dativo writes Parquet files to a local directory (target.output_base)",
        };
        return Err(ctx.error(format!("target.{key} is not supported yet: {why}")));
    }
    Ok(())
}

/// `source.type` and `source.files`: every listed file exists and is a file. Under a reader
/// plugin what `files` name is the plugin's business (they reach it in its config).
fn source_files(ctx: &Ctx, source: &SourceConfig, reader_plugin: bool) -> Result<Vec<InputFile>> {
    let kind = source.kind.as_deref().unwrap_or("csv");
    if !kind.eq_ignore_ascii_case("csv") && !reader_plugin {
        return Err(ctx.error(format!("source.type '{kind}' is not supported: dativo reads CSV files (type: csv)")));
    }
    let files = source.files.as_deref().unwrap_or_default();
    if files.is_empty() && !reader_plugin {
        return Err(ctx.error("source.files: list at least one input file, e.g. `files: [{path: data/users.csv}]`"));
    }
    let mut inputs = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        if f.path.trim().is_empty() {
            return Err(ctx.error(format!("source.files[{i}].path is empty")));
        }
        if reader_plugin {
            continue;
        }
        let resolved = ctx.path(&f.path);
        match fs::metadata(&resolved) {
            Ok(m) if m.is_dir() => {
                return Err(ctx.error(format!(
                    "source.files[{i}].path: {} is a directory; list the files in it one by one",
                    resolved.display()
                )))
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Error::io(&format!("{}: source.files[{i}].path: cannot read", ctx.label), &resolved, e))
            }
        }
        let id = f.id.as_ref().or(f.object.as_ref()).map(|s| s.0.clone());
        inputs.push(InputFile { path: resolved, id });
    }
    Ok(inputs)
}

/// `target`: the output directory and the Parquet writer's options. A custom writer's engine
/// options are its own (they reach it in its config).
/// For an object store (`object_store`), the output directory is a placeholder that
/// `lake::finish` replaces.
fn target(
    ctx: &Ctx,
    target: &TargetConfig,
    writer_plugin: bool,
    object_store: bool,
) -> Result<(PathBuf, ParquetOptions)> {
    let kind = target.kind.as_deref().unwrap_or("local");
    if !kind.eq_ignore_ascii_case("local") && !writer_plugin && !object_store {
        return Err(ctx.error(format!(
            "target.type '{kind}' is not supported: dativo writes Parquet files to a local directory (type: local) \
             or to object storage (type: s3 or minio)"
        )));
    }
    let format = target.file_format.as_deref().unwrap_or("parquet");
    if !format.eq_ignore_ascii_case("parquet") && !writer_plugin {
        return Err(ctx.error(format!("target.file_format '{format}' is not supported: dativo writes parquet")));
    }
    let output_dir = match target.output_base.as_deref() {
        _ if object_store => PathBuf::from(lake::PLACEHOLDER),
        Some(p) if !p.trim().is_empty() => ctx.path(p),
        _ => return Err(ctx.error("target.output_base is required: the directory the Parquet files go to")),
    };
    if output_dir.is_file() {
        return Err(ctx.error(format!("target.output_base: {} is a file, not a directory", output_dir.display())));
    }
    let writer = match writer_plugin {
        false => config::engine_options::<WriterOptions>(ctx.text, ctx.label, "target")?.unwrap_or_default(),
        true => WriterOptions::default(),
    };
    let mut parquet = parquet_options(&writer).map_err(|m| ctx.error(format!("target.engine.options.{m}")))?;
    if let Some(mb) = target.parquet_target_size_mb {
        if !(mb > 0.0 && mb.is_finite()) {
            return Err(ctx.error(format!("target.parquet_target_size_mb must be a positive number, got {mb}")));
        }
        parquet.max_bytes_per_file = Some(((mb * 1024.0 * 1024.0) as u64).max(1));
    }
    parquet.validate().map_err(|e| ctx.error(format!("target: {e}")))?;
    Ok((output_dir, parquet))
}

/// `source.engine.options`: the CSV reader's options, and whether they pin column types. A
/// reader plugin's options are its own.
fn reader(ctx: &Ctx, reader_plugin: bool, output_dir: &Path) -> Result<(CsvOptions, bool)> {
    let reader = match reader_plugin {
        false => config::engine_options::<ReaderOptions>(ctx.text, ctx.label, "source")?.unwrap_or_default(),
        true => ReaderOptions::default(),
    };
    let mut csv = csv_options(&reader).map_err(|m| ctx.error(format!("source.engine.options.{m}")))?;
    if csv.on_error == OnError::Reject {
        csv.rejects_path = Some(match reader.rejects_path.as_deref() {
            Some(p) if !p.trim().is_empty() => ctx.path(p),
            _ => output_dir.join(DEFAULT_REJECTS_FILE),
        });
    } else if let Some(p) = reader.rejects_path.as_deref() {
        csv.rejects_path = Some(ctx.path(p));
    }
    csv.validate().map_err(|e| ctx.error(format!("source.engine.options.{e}")))?;
    Ok((csv, reader.column_types.is_some()))
}

/// `asset_path` or an inline `asset:` (or only the asset's name).
fn asset(ctx: &Ctx, asset_path: &Option<String>, asset: Option<AssetRef>) -> Result<(Option<Asset>, Option<String>)> {
    Ok(match (asset_path, asset) {
        (Some(_), Some(AssetRef::Inline(_))) => {
            return Err(ctx.error("give the asset either as asset_path or inline under asset:, not both"))
        }
        (Some(p), name) => {
            let asset = Asset::load(&ctx.path(p))?;
            if let Some(AssetRef::Name(n)) = name {
                if n != asset.name {
                    return Err(
                        ctx.error(format!("asset: '{n}' but the file at asset_path describes asset '{}'", asset.name))
                    );
                }
            }
            let name = asset.name.clone();
            (Some(asset), Some(name))
        }
        (None, Some(AssetRef::Inline(doc))) => {
            let asset = doc.into_asset(&format!("{} (inline asset)", ctx.label))?;
            let name = asset.name.clone();
            (Some(asset), Some(name))
        }
        (None, Some(AssetRef::Name(n))) => (None, Some(n)),
        (None, None) => (None, None),
    })
}

/// `logging.level`.
fn log_level(ctx: &Ctx, level: Option<&str>) -> Result<log::LevelFilter> {
    let Some(level) = level else { return Ok(log::LevelFilter::Info) };
    match level.trim().to_ascii_lowercase().as_str() {
        "error" => Ok(log::LevelFilter::Error),
        "warn" | "warning" => Ok(log::LevelFilter::Warn),
        "info" => Ok(log::LevelFilter::Info),
        "debug" => Ok(log::LevelFilter::Debug),
        other => {
            Err(ctx.error(format!("logging.level '{other}' is not valid (expected one of: error, warn, info, debug)")))
        }
    }
}
