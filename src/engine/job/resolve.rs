//! From a parsed job file to a [`Job`]: one function per section of the file, each checking
//! its keys and values and resolving relative paths against the job file's folder. Every
//! error starts with the job file's label and names the key.

use std::fs;
use std::path::{Path, PathBuf};

use super::config::{
    self, AssetRef, ConnectorRecipe, IncrementalConfig, JobFile, ReaderOptions, TargetConfig, WriterOptions,
};
use super::options::{csv_options, parquet_options};
use super::plugins::{self, PluginUse};
use super::{incremental_config, normalize, Job, Redactor, DEFAULT_REJECTS_FILE};
use crate::csv::{CsvOptions, OnError};
use crate::parquet::ParquetOptions;
use crate::schema::Asset;
use crate::yaml::Document;
use crate::{Error, Result};

mod glob;
pub(super) mod iceberg;
pub(super) mod lake;
mod source;

/// What every section needs: the parsed job (already `${VAR}`-substituted), the label for
/// messages, and the folder relative paths start from.
struct Ctx<'a> {
    label: &'a str,
    base: PathBuf,
    /// The job, parsed once; every section is read from it.
    doc: &'a Document<'a>,
    /// The variables `${VAR}` names (the job's were substituted already; a recipe's
    /// connection template is substituted key by key, see [`lake::Template`]).
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// The recipes' connection templates, once loaded.
    source_template: Option<&'a lake::Template>,
    target_template: Option<&'a lake::Template>,
    /// Values substituted from the environment after the job text's, with their variable
    /// names: redacted like the job's.
    substituted: std::cell::RefCell<Vec<(String, String)>>,
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

/// The connector recipes a Dativo platform job names (`source_connector_path`,
/// `target_connector_path`): defaults under the job's own keys.
#[derive(Default)]
struct Recipes {
    source: Option<ConnectorRecipe<ReaderOptions>>,
    target: Option<ConnectorRecipe<WriterOptions>>,
    /// Their `connection_template`s.
    source_template: Option<lake::Template>,
    target_template: Option<lake::Template>,
}

/// The sections dativo reads, resolved in dependency order.
pub(super) fn resolve(
    text: &str,
    path: &Path,
    label: &str,
    redactor: Redactor,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Job> {
    let doc = Document::parse(text, label)?;
    let file: JobFile = doc.typed()?;
    // A Dativo platform job (one that names connector recipes) is run from the platform's
    // folder, and its relative paths are relative to the working directory, as there.
    let platform = file.source_connector_path.is_some() || file.target_connector_path.is_some();
    let base = if platform { PathBuf::new() } else { path.parent().map(Path::to_path_buf).unwrap_or_default() };
    let ctx = Ctx {
        label,
        base,
        doc: &doc,
        lookup,
        source_template: None,
        target_template: None,
        substituted: Default::default(),
    };
    let mut recipes = recipes(&ctx, &file)?;
    let (source_template, target_template) = (recipes.source_template.take(), recipes.target_template.take());
    let ctx = Ctx { source_template: source_template.as_ref(), target_template: target_template.as_ref(), ..ctx };
    let (reader_plugin, writer_plugin) = plugin_uses(&ctx, &file)?;
    // The source and target types first: for a platform job aimed at a remote store, that is
    // the message that says what to change.
    let kind = target_kind(&file.target, recipes.target.as_ref());
    let inputs = source::source_files(&ctx, &file.source, recipes.source.as_ref(), reader_plugin.is_some(), kind)?;
    let object_target = lake::pending(&ctx, &file.target, kind, writer_plugin.is_some())?;
    let iceberg_target = iceberg::pending(&ctx, kind, writer_plugin.is_some())?;
    let lake_kind = match (object_target.is_some(), iceberg_target.is_some()) {
        (_, true) => Lake::Iceberg,
        (true, false) => Lake::ObjectStore,
        (false, false) => Lake::None,
    };
    let (output_dir, parquet, partition_options) =
        target(&ctx, &file.target, recipes.target.as_ref(), writer_plugin.is_some(), lake_kind)?;
    refuse_unsupported(&ctx, &file, reader_plugin.is_some(), writer_plugin.is_some(), lake_kind)?;
    let incremental = match incremental_section(&file, recipes.source.as_ref()) {
        None => None,
        Some(mut inc) => {
            if platform && inc.state_path.is_none() {
                inc.state_path = Some(platform_state_path(&file, recipes.source.as_ref()));
            }
            Some(incremental_config(&inc, &parquet, &output_dir, |p| ctx.path(p)).map_err(|m| ctx.error(m))?)
        }
    };
    if incremental.is_some() && (reader_plugin.is_some() || writer_plugin.is_some()) {
        return Err(ctx.error(
            "source.incremental cannot be combined with a custom reader or writer: dativo tracks local CSV \
             files written as Parquet",
        ));
    }
    let (csv, pinned_types) = reader(&ctx, recipes.source.as_ref(), reader_plugin.is_some(), &output_dir)?;
    let (asset, asset_name) = asset(&ctx, &file.asset_path, file.asset)?;
    if let Some(asset) = &asset {
        refuse_asset_target(&ctx, asset, writer_plugin.is_some())?;
    }
    let partitioning = partitioning(
        &ctx,
        &file.target,
        partition_options,
        asset.as_ref(),
        recipes.target.as_ref(),
        writer_plugin.is_some(),
    )?;
    if asset.is_some() && pinned_types {
        return Err(ctx.error(
            "source.engine.options.column_types cannot be combined with an asset: the asset types every column \
             (change the types there)",
        ));
    }
    let (output_dir, object_target) = match object_target {
        Some(pending) => {
            let (url, config) =
                lake::finish(&ctx, pending, asset.as_ref(), asset_name.as_deref(), &csv, incremental.as_ref())?;
            (url, Some(config))
        }
        None => (output_dir, None),
    };
    let (output_dir, iceberg_target) = match iceberg_target {
        Some(pending) => {
            let (name, target) =
                iceberg::finish(&ctx, pending, asset.as_ref(), asset_name.as_deref(), &csv, incremental.is_some())?;
            (name, Some(target))
        }
        None => (output_dir, None),
    };
    let log_level = log_level(&ctx, file.logging.as_ref().and_then(|l| l.level.as_deref()))?;
    let mode = file.schema_validation_mode.or_else(|| asset.as_ref().and_then(|a| a.target.mode)).unwrap_or_default();
    let (reader_plugin, writer_plugin) =
        plugins::with_configs(doc.value(), label, reader_plugin, writer_plugin, &ctx.base)?;

    Ok(Job {
        reader_plugin,
        writer_plugin,
        plugin_loader: None,
        path: path.to_path_buf(),
        tenant_id: file.tenant_id.map(|s| s.0),
        environment: file.environment.map(|s| s.0),
        asset_name,
        asset,
        mode,
        inputs,
        csv,
        parquet,
        output_dir,
        object_target,
        iceberg_target,
        partitioning,
        log_level,
        incremental,
        full_refresh: false,
        reset_state: false,
        redactor: redactor.joined(&Redactor::new(ctx.substituted.take())),
    })
}

/// Load the connector recipes the job names. A recipe's keys are checked as strictly as the
/// job's (unknown keys are errors naming the recipe file and line).
fn recipes(ctx: &Ctx, file: &JobFile) -> Result<Recipes> {
    fn load<O: serde::de::DeserializeOwned>(
        ctx: &Ctx,
        key: &str,
        path: &str,
        role: &str,
    ) -> Result<ConnectorRecipe<O>> {
        let resolved = ctx.path(path);
        let text = fs::read_to_string(&resolved)
            .map_err(|e| Error::io(&format!("{}: {key}: cannot read the connector recipe", ctx.label), &resolved, e))?;
        let label = resolved.display().to_string();
        let doc = Document::parse(&text, &label)?;
        // The role first: a recipe for the other side has the other side's options.
        let untyped: ConnectorRecipe<serde::de::IgnoredAny> = doc.typed()?;
        if let Some(roles) = &untyped.roles {
            if !roles.iter().any(|r| r == role) {
                return Err(Error::Config(format!(
                    "{}: {key}: the connector {label} serves [{}], not {role}",
                    ctx.label,
                    roles.join(", ")
                )));
            }
        }
        doc.typed()
    }
    let mut recipes = Recipes::default();
    if let Some(p) = file.source_connector_path.as_deref().filter(|p| !p.trim().is_empty()) {
        let mut recipe: ConnectorRecipe<ReaderOptions> = load(ctx, "source_connector_path", p, "source")?;
        recipes.source_template = lake::Template::of(recipe.connection_template.take(), &ctx.path(p), "source")?;
        recipes.source = Some(recipe);
    }
    if let Some(p) = file.target_connector_path.as_deref().filter(|p| !p.trim().is_empty()) {
        let mut recipe: ConnectorRecipe<WriterOptions> = load(ctx, "target_connector_path", p, "target")?;
        recipes.target_template = lake::Template::of(recipe.connection_template.take(), &ctx.path(p), "target")?;
        recipes.target = Some(recipe);
    }
    Ok(recipes)
}

/// `source.incremental` with the source recipe's defaults under it. As on the platform, a
/// recipe alone never turns incremental runs on, and `incremental: {}` turns them off.
fn incremental_section(file: &JobFile, recipe: Option<&ConnectorRecipe<ReaderOptions>>) -> Option<IncrementalConfig> {
    let mut inc = file.source.incremental.clone()?;
    if inc.strategy.is_none() && inc.state_path.is_none() && inc.lookback_days.is_none() && inc.cursor_field.is_none() {
        return None;
    }
    if let Some(defaults) = recipe.and_then(|r| r.incremental.as_ref()) {
        inc.strategy = inc.strategy.or_else(|| defaults.strategy.clone());
        inc.lookback_days = inc.lookback_days.or(defaults.lookback_days_default);
    }
    Some(inc)
}

/// Where the Dativo platform keeps a job's state: `$STATE_DIR` (default `.local/state`)
/// `/<tenant>/<source type>.<object>.state.json`, so that a switched job finds it.
fn platform_state_path(file: &JobFile, recipe: Option<&ConnectorRecipe<ReaderOptions>>) -> String {
    let dir = std::env::var("STATE_DIR").ok().filter(|d| !d.is_empty()).unwrap_or_else(|| ".local/state".into());
    let tenant = file.tenant_id.as_ref().map_or("default", |t| t.0.as_str());
    let kind = file.source.kind.as_deref().or(recipe.and_then(|r| r.kind.as_deref())).unwrap_or("csv");
    let object = file
        .source
        .files
        .as_deref()
        .and_then(|f| f.first())
        .and_then(|f| f.object.as_ref())
        .map_or("default", |o| o.0.as_str());
    format!("{dir}/{tenant}/{kind}.{object}.state.json")
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

/// Which lake target a job has, if any.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lake {
    None,
    /// `target.type: s3` or `minio`.
    ObjectStore,
    /// `target.type: iceberg`.
    Iceberg,
}

/// Platform keys dativo cannot serve. A plugin gets its section as its config, so under a
/// plugin they are the plugin's business, not errors.
fn refuse_unsupported(ctx: &Ctx, file: &JobFile, reader_plugin: bool, writer_plugin: bool, lake: Lake) -> Result<()> {
    if file.catalog.is_some() {
        return Err(ctx.error(
            "catalog is not supported yet: dativo does not push lineage or metadata to a data catalog \
             (OpenMetadata, Glue, Unity, Nessie); remove the block to write the same data without it",
        ));
    }
    if file.plugins.as_ref().is_some_and(|p| p.sandbox.is_some()) {
        return Err(ctx.error(
            "plugins.sandbox is not supported: dativo runs plugins in its own process, without a container; \
             remove the block and restrict plugins instead with custom_reader_sha256 / custom_writer_sha256, \
             DATIVO_PLUGIN_DIR and `dativo run --mode cloud`",
        ));
    }
    // `source.connection` is read for s3:// inputs (see `source.rs`).
    if let Some(key) = file.source.platform_keys().into_iter().find(|k| *k != "connection").filter(|_| !reader_plugin) {
        return Err(ctx.error(format!(
            "source.{key} is not supported by dativo: it reads CSV files, local or s3://; list them under \
             source.files"
        )));
    }
    // An object-store target reads `connection` (see `lake.rs`); an Iceberg target also its
    // catalog keys (see `iceberg.rs`).
    let mut unsupported = file.target.unsupported_keys().into_iter().filter(|k| match lake {
        Lake::None => true,
        Lake::ObjectStore => *k != "connection",
        Lake::Iceberg => false,
    });
    if let Some(key) = unsupported.next().filter(|_| !writer_plugin) {
        return Err(ctx.error(format!(
            "target.{key} is not supported yet: dativo writes Parquet files to a local directory \
             (target.output_base), to object storage (target.type: s3 or minio) or to an Iceberg table \
             (target.type: iceberg)"
        )));
    }
    Ok(())
}

/// The target's type: `target.type`, else the target recipe's, else `local`.
fn target_kind<'a>(target: &'a TargetConfig, recipe: Option<&'a ConnectorRecipe<WriterOptions>>) -> &'a str {
    target.kind.as_deref().or(recipe.and_then(|r| r.kind.as_deref())).unwrap_or("local")
}

/// `partition_by_default` of the job's and of the recipe's `engine.options`.
#[derive(Default)]
struct PartitionOptions {
    job: Option<Vec<String>>,
    recipe: Option<Vec<String>>,
}

/// `target`: the output directory, the Parquet writer's options and the engine options'
/// partition columns. A custom writer's engine options are its own (they reach it in its
/// config).
fn target(
    ctx: &Ctx,
    target: &TargetConfig,
    recipe: Option<&ConnectorRecipe<WriterOptions>>,
    writer_plugin: bool,
    lake: Lake,
) -> Result<(PathBuf, ParquetOptions, PartitionOptions)> {
    let object_store = lake != Lake::None;
    let kind = target_kind(target, recipe);
    if !kind.eq_ignore_ascii_case("local") && !writer_plugin && !object_store {
        let from = if target.kind.is_none() { " (from target_connector_path)" } else { "" };
        return Err(ctx.error(format!(
            "target.type '{kind}'{from} is not supported yet: dativo writes Parquet files to a local directory \
             (type: local), to object storage (type: s3 or minio) or to an Iceberg table (type: iceberg); or use a \
             writer plugin (target.custom_writer)"
        )));
    }
    // An Iceberg recipe's `catalog: nessie` only names the catalog `connection.nessie` reaches.
    if let Some(recipe) = recipe.filter(|_| !writer_plugin && lake != Lake::Iceberg) {
        if recipe.catalog.is_some() {
            return Err(ctx.error(
                "the target connector recipe sets a catalog, which dativo does not support yet; use a recipe without one",
            ));
        }
    }
    let format = target.file_format.as_deref().or(recipe.and_then(|r| r.file_format.as_deref())).unwrap_or("parquet");
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
    let mut partition = PartitionOptions::default();
    let mut writer = match writer_plugin {
        false => {
            let mut job = ctx
                .doc
                .section::<WriterOptions>(&["target", "engine", "options"], |text, label| {
                    config::engine_options::<WriterOptions>(text, label, "target").err()
                })?
                .unwrap_or_default()
                .flattened();
            partition.job = job.partition_by_default.take();
            match recipe.and_then(|r| r.default_engine.as_ref()).and_then(|e| e.options.clone()) {
                Some(defaults) => {
                    let mut defaults = defaults.flattened();
                    partition.recipe = defaults.partition_by_default.take();
                    job.or(defaults)
                }
                None => job,
            }
        }
        true => WriterOptions::default(),
    };
    writer.partition_by_default = None;
    let mut parquet = parquet_options(&writer).map_err(|m| ctx.error(format!("target.engine.options.{m}")))?;
    if let Some(mb) = target.parquet_target_size_mb {
        if !(mb > 0.0 && mb.is_finite()) {
            return Err(ctx.error(format!("target.parquet_target_size_mb must be a positive number, got {mb}")));
        }
        parquet.max_bytes_per_file = Some(((mb * 1024.0 * 1024.0) as u64).max(1));
    }
    parquet.validate().map_err(|e| ctx.error(format!("target: {e}")))?;
    Ok((output_dir, parquet, partition))
}

/// `source.engine.options`: the CSV reader's options, and whether they pin column types. A
/// reader plugin's options are its own.
fn reader(
    ctx: &Ctx,
    recipe: Option<&ConnectorRecipe<ReaderOptions>>,
    reader_plugin: bool,
    output_dir: &Path,
) -> Result<(CsvOptions, bool)> {
    let reader = match reader_plugin {
        false => {
            let job = ctx
                .doc
                .section::<ReaderOptions>(&["source", "engine", "options"], |text, label| {
                    config::engine_options::<ReaderOptions>(text, label, "source").err()
                })?
                .unwrap_or_default();
            match recipe.and_then(|r| r.default_engine.as_ref()).and_then(|e| e.options.clone()) {
                Some(defaults) => job.flattened().or(defaults.flattened()),
                None => job.flattened(),
            }
        }
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

/// What an asset's `target:` declares: served, or refused with what to do; never ignored.
fn refuse_asset_target(ctx: &Ctx, asset: &Asset, writer_plugin: bool) -> Result<()> {
    if writer_plugin {
        return Ok(()); // the writer plugin gets the asset and decides
    }
    let format = asset.target.file_format.as_deref().unwrap_or("parquet");
    if !format.eq_ignore_ascii_case("parquet") {
        return Err(ctx.error(format!(
            "the asset {} asks for target.file_format '{format}'; dativo writes parquet",
            asset.origin
        )));
    }
    Ok(())
}

/// The Hive partition columns: the first of `target.partitioning`, the job's
/// `target.engine.options.partition_by_default`, the asset's `target.partitioning`, the target
/// recipe's `partitioning_default` and its engine options' `partition_by_default` that is
/// given (`[]` means unpartitioned). Every column but `ingest_date` (the run's date) must be
/// in the asset, when there is one; without one it is checked against the data's columns
/// when the run starts. A writer plugin gets the keys in its config and decides.
fn partitioning(
    ctx: &Ctx,
    target: &TargetConfig,
    options: PartitionOptions,
    asset: Option<&Asset>,
    recipe: Option<&ConnectorRecipe<WriterOptions>>,
    writer_plugin: bool,
) -> Result<Vec<String>> {
    if writer_plugin {
        return Ok(Vec::new());
    }
    let candidates = [
        (target.partitioning.clone(), "target.partitioning".to_string()),
        (options.job, "target.engine.options.partition_by_default".to_string()),
        (
            asset.and_then(|a| a.target.partitioning.clone()),
            format!("target.partitioning of the asset {}", asset.map_or("", |a| a.origin.as_str())),
        ),
        (recipe.and_then(|r| r.partitioning_default.clone()), "partitioning_default of target_connector_path".into()),
        (options.recipe, "partition_by_default of target_connector_path".into()),
    ];
    let Some((columns, from)) = candidates.into_iter().find_map(|(c, from)| c.map(|c| (c, from))) else {
        return Ok(Vec::new());
    };
    if columns.is_empty() {
        return Ok(columns);
    }
    let list = columns.join(", ");
    for (i, name) in columns.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(ctx.error(format!("{from}: entry {} is empty", i + 1)));
        }
        if columns[..i].contains(name) {
            return Err(ctx.error(format!("{from} lists `{name}` twice")));
        }
        if let Some(asset) = asset {
            let is_field = asset.fields.iter().any(|f| &f.name == name);
            if name == crate::parquet::partitioned::INGEST_DATE {
                if is_field {
                    return Err(ctx.error(format!(
                        "{from}: `{name}` is the run's date (as on the Dativo platform), but the asset {} has a \
                         field of that name too; rename the field, or partition by another column",
                        asset.origin
                    )));
                }
            } else if !is_field {
                let fields: Vec<&str> = asset.fields.iter().map(|f| f.name.as_str()).collect();
                let hint =
                    crate::yaml::suggest(name, &fields).map_or(String::new(), |s| format!("; did you mean '{s}'?"));
                return Err(ctx.error(format!(
                    "{from}: column `{name}` is not in the asset {} (its fields: {}); partition by fields of the \
                     asset, or by ingest_date (the run's date){hint}",
                    asset.origin,
                    fields.join(", ")
                )));
            }
        }
    }
    if asset.is_some_and(|a| a.fields.iter().all(|f| columns.contains(&f.name))) {
        return Err(ctx.error(format!("{from} [{list}] leaves no column to write in the files")));
    }
    Ok(columns)
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
