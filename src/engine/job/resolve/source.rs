//! `source.type`, `source.files` and `source.connection`: the job's input files, local or
//! `s3://bucket/key`, with globs expanded (`glob.rs`) in a stable sorted order, so each match
//! is one input exactly as if it were listed.
//!
//! `s3://` inputs are found (HEAD for a key, LIST for a glob) when the job is loaded, as local
//! files are checked then; each keeps the stamp (size, ETag, last-modified) it had, and the
//! reader refuses an object that changed since. The bucket's connection is
//! `source.connection` (the keys of `target.connection`: `s3:` or `minio:` sections, endpoint,
//! region, keys via `${VAR}`, `path_style_access`, `secure`), else the target's connection when
//! the target is an object store, else the AWS environment.

use std::fs;
use std::path::Path;

use super::lake::{self, Connection};
use super::{glob, Ctx};
use crate::job::config::{ConnectorRecipe, FileConfig, ReaderOptions, SourceConfig};
use crate::job::{InputFile, ObjectInput};
use crate::store::{ListedObject, Store, StoreConfig};
use crate::{Error, Result};

/// `source.type` and `source.files`: every listed file exists and is a file, every glob
/// matches at least one. Under a reader plugin what `files` name is the plugin's business
/// (they reach it in its config).
/// `target_kind`: the target's type (whose connection `s3://` inputs may share).
pub(super) fn source_files(
    ctx: &Ctx,
    source: &SourceConfig,
    recipe: Option<&ConnectorRecipe<ReaderOptions>>,
    reader_plugin: bool,
    target_kind: &str,
) -> Result<Vec<InputFile>> {
    let kind = source.kind.as_deref().or(recipe.and_then(|r| r.kind.as_deref())).unwrap_or("csv");
    if !kind.eq_ignore_ascii_case("csv") && !reader_plugin {
        let from = if source.kind.is_none() { " (from source_connector_path)" } else { "" };
        return Err(ctx.error(format!(
            "source.type '{kind}'{from} is not supported: dativo reads CSV files (type: csv); other sources \
             need a reader plugin (source.custom_reader)"
        )));
    }
    let files = source.files.as_deref().unwrap_or_default();
    if files.is_empty() && !reader_plugin {
        return Err(ctx.error("source.files: list at least one input file, e.g. `files: [{path: data/users.csv}]`"));
    }
    for (i, f) in files.iter().enumerate() {
        if f.path.trim().is_empty() {
            return Err(ctx.error(format!("source.files[{i}].path is empty")));
        }
    }
    if reader_plugin {
        return Ok(Vec::new());
    }
    let any_object = files.iter().any(|f| s3_url(&f.path).is_some());
    if source.connection.is_some() && !any_object {
        return Err(ctx.error(
            "source.connection is read only for s3:// input files, and source.files lists none; remove it \
             (local files need no connection)",
        ));
    }
    let mut buckets = Buckets { ctx, target_kind, connection: None, stores: Vec::new() };
    let mut inputs = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let at = format!("source.files[{i}].path");
        match s3_url(&f.path) {
            Some(rest) => object_inputs(ctx, &at, f, rest, &mut buckets, &mut inputs)?,
            None => local_inputs(ctx, &at, f, &mut inputs)?,
        }
    }
    Ok(inputs)
}

/// What follows `s3://` in `path`, if it is an s3 URL.
fn s3_url(path: &str) -> Option<&str> {
    let path = path.trim();
    path.get(..5).filter(|s| s.eq_ignore_ascii_case("s3://")).map(|_| &path[5..])
}

/// The entry's `id` (or `object`), for an entry that stands for `matches` inputs: an `id`
/// names one input, so a glob with several matches cannot have one.
fn entry_id(ctx: &Ctx, i: &str, f: &FileConfig, matches: usize) -> Result<Option<String>> {
    if matches > 1 {
        if let Some(id) = &f.id {
            return Err(ctx.error(format!(
                "{i}: id '{}' names one input, but the glob matches {matches} files; remove the id (each match \
                 is named by its path) or list the files one by one",
                id.0
            )));
        }
        return Ok(None);
    }
    Ok(f.id.as_ref().or(f.object.as_ref()).map(|s| s.0.clone()))
}

/// A local path, or the files a local glob matches.
fn local_inputs(ctx: &Ctx, at: &str, f: &FileConfig, inputs: &mut Vec<InputFile>) -> Result<()> {
    if let Some((scheme, _)) = f.path.split_once("://") {
        return Err(ctx.error(format!(
            "{at}: {scheme}:// input files are not supported: dativo reads local files and s3:// objects \
             (s3://bucket/key, or a glob such as s3://bucket/raw/*.csv)"
        )));
    }
    let resolved = ctx.path(&f.path);
    // A path that exists is taken literally, even with glob characters in its name.
    match fs::metadata(&resolved) {
        Ok(m) if m.is_dir() => {
            return Err(ctx.error(format!(
                "{at}: {} is a directory; list the files in it, or give a glob such as {}/*.csv",
                resolved.display(),
                f.path.trim_end_matches('/')
            )))
        }
        Ok(_) => {
            let id = entry_id(ctx, at, f, 1)?;
            let platform_key = f.id.as_ref().map_or_else(|| f.path.clone(), |id| id.0.clone());
            inputs.push(InputFile { path: resolved, id, platform_key, object: None });
            return Ok(());
        }
        Err(e) if !glob::is_glob(&f.path) => {
            return Err(Error::io(&format!("{}: {at}: cannot read", ctx.label), &resolved, e));
        }
        Err(_) => {}
    }
    let Some(pattern) = resolved.to_str() else {
        return Err(ctx.error(format!("{at}: the glob {} is not valid UTF-8", resolved.display())));
    };
    let (folder, rest) = glob::split(pattern);
    let folder = Path::new(folder);
    let matches = glob::local(folder, rest).map_err(|m| ctx.error(format!("{at}: {m}")))?;
    if matches.is_empty() {
        return Err(ctx.error(format!(
            "{at}: the glob '{}' matches no file (searched {} for '{rest}')",
            f.path,
            glob::display(folder)
        )));
    }
    let id = entry_id(ctx, at, f, matches.len())?;
    for path in matches {
        let platform_key = id.clone().unwrap_or_else(|| path.display().to_string());
        inputs.push(InputFile { path, id: id.clone(), platform_key, object: None });
    }
    Ok(())
}

/// `s3://bucket/key`, or the objects an `s3://bucket/prefix/*.csv` glob matches.
fn object_inputs(
    ctx: &Ctx,
    at: &str,
    f: &FileConfig,
    rest: &str,
    buckets: &mut Buckets,
    inputs: &mut Vec<InputFile>,
) -> Result<()> {
    let url = f.path.trim();
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || glob::is_glob(bucket) {
        return Err(ctx.error(format!("{at}: '{url}' has no bucket name; expected s3://bucket/key")));
    }
    if key.is_empty() || key.ends_with('/') {
        return Err(ctx.error(format!(
            "{at}: '{url}' names a folder, not an object; give s3://{bucket}/key, or a glob such as \
             s3://{bucket}/{key}*.csv"
        )));
    }
    let store = buckets.store(bucket)?;
    let found: Vec<ListedObject> = if glob::is_glob(key) {
        let matcher = glob::matcher(key).map_err(|m| ctx.error(format!("{at}: {m}")))?;
        let (folder, _) = glob::split(key);
        let listed = store.list_objects(folder).map_err(|e| ctx.error(format!("{at}: {e}")))?;
        let total = listed.len();
        let found: Vec<ListedObject> =
            listed.into_iter().filter(|o| !o.name.ends_with('/') && matcher.is_match(&o.name)).collect();
        if found.is_empty() {
            let searched =
                if folder.is_empty() { format!("s3://{bucket}/") } else { format!("s3://{bucket}/{folder}/") };
            return Err(ctx.error(format!(
                "{at}: the glob '{url}' matches no object (listed {searched}: {total} object(s) there)"
            )));
        }
        found
    } else {
        match store.head(key).map_err(|e| ctx.error(format!("{at}: {e}")))? {
            Some(stamp) => vec![ListedObject { name: key.to_string(), stamp }],
            None => {
                return Err(ctx.error(format!(
                    "{at}: cannot read {url}: no such object (bucket '{bucket}', key '{key}'); check the bucket \
                     and the key, or give a glob such as s3://{bucket}/*.csv"
                )))
            }
        }
    };
    let id = entry_id(ctx, at, f, found.len())?;
    for o in found {
        let object = ObjectInput { store: store.config().clone(), key: o.name, stamp: o.stamp };
        let url = object.url();
        let platform_key = id.clone().unwrap_or_else(|| url.clone());
        inputs.push(InputFile { path: url.into(), id: id.clone(), platform_key, object: Some(object) });
    }
    Ok(())
}

/// The store clients of the buckets the inputs name, and the one connection they share.
struct Buckets<'a> {
    ctx: &'a Ctx<'a>,
    target_kind: &'a str,
    /// Resolved at the first `s3://` input: the keys, and which section they came from.
    connection: Option<(Connection, &'static str, bool)>,
    stores: Vec<Store>,
}

impl Buckets<'_> {
    fn store(&mut self, bucket: &str) -> Result<&Store> {
        if let Some(i) = self.stores.iter().position(|s| s.config().bucket == bucket) {
            return Ok(&self.stores[i]);
        }
        let config = self.config(bucket)?;
        self.stores.push(Store::connect(&config)?);
        Ok(self.stores.last().expect("just pushed"))
    }

    /// The connection of `bucket`, from `source.connection` or the target's.
    fn config(&mut self, bucket: &str) -> Result<StoreConfig> {
        if self.connection.is_none() {
            self.connection = Some(source_connection(self.ctx, self.target_kind)?);
        }
        let (c, key, minio) = self.connection.as_ref().expect("resolved above");
        c.store_config(bucket.to_string(), String::new(), key, *minio).map_err(|m| self.ctx.error(m))
    }
}

/// The connection `s3://` inputs use, the key it was read from, and whether it is MinIO's
/// (path-style by default): `source.connection`, else the target's when the target is an
/// object store, else none (the AWS environment).
fn source_connection(ctx: &Ctx, target_kind: &str) -> Result<(Connection, &'static str, bool)> {
    let own = lake::connection_section(ctx, "source")?;
    if own.is_some() || ctx.source_template.is_some() {
        let own = own.unwrap_or_default();
        let minio = own.minio.is_some();
        let c = own.merged();
        if c.bucket.is_some() || c.prefix.is_some() {
            return Err(ctx.error(
                "source.connection: bucket and prefix are not read here: each input names its bucket and key in \
                 its path (s3://bucket/key); remove them",
            ));
        }
        // A source recipe's template: its bucket and prefix are not read either.
        let c = match ctx.source_template {
            Some(template) => template.under(ctx, c, &["bucket", "prefix"])?,
            None => c,
        };
        return Ok((c, "source.connection", minio));
    }
    if lake::is_object_kind(target_kind) {
        if let Some(c) = lake::target_connection(ctx)? {
            return Ok((c, "target.connection", target_kind.eq_ignore_ascii_case("minio")));
        }
    }
    Ok((Connection::default(), "source.connection", false))
}
