//! `target.type: s3` or `minio`: the object-store target's keys, as Dativo platform jobs write
//! them (`target.connection.s3`, `target.connection.minio`, or the same keys directly under
//! `target.connection`), resolved to a [`StoreConfig`]. `target.connection` is read from the
//! job text on its own (like `engine_options`), so its errors keep their key path and line.
//!
//! A connector recipe's `connection_template` ([`Template`]) lies under the job's keys, key by
//! key, as the platform merges it: a key the job gives wins, and its template value is never
//! substituted, so a `${VAR}` it names need not be set.
//!
//! Without `prefix`, objects go to the platform's layout `<bucket>/<domain>/<data_product>/<table>/`:
//! `domain` and `dataProduct` from the asset (`default` when it has none), the table from the
//! asset's name (lower case, `-` and spaces as `_`).

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

use super::Ctx;
use crate::csv::{CsvOptions, OnError};
use crate::job::config::{self, Scalar, TargetConfig};
use crate::job::state::Incremental;
use crate::job::DEFAULT_REJECTS_FILE;
use crate::schema::Asset;
use crate::store::StoreConfig;
use crate::{Error, Result};

/// Whether `target.type` names an object store.
pub(super) fn is_object_kind(kind: &str) -> bool {
    kind.eq_ignore_ascii_case("s3") || kind.eq_ignore_ascii_case("minio")
}

/// `target.connection` (or one of its `s3:` / `minio:` sections) as written; `source.connection`
/// has the same keys (see `source.rs`), and so has a writer's options text (`output.rs`, its
/// connection keys only). [`Connection::store_config`] is the one place they become a
/// [`StoreConfig`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::job) struct Connection {
    #[serde(default)]
    pub(in crate::job) endpoint: Option<String>,
    #[serde(default)]
    pub(in crate::job) bucket: Option<Scalar>,
    #[serde(default)]
    pub(in crate::job) prefix: Option<String>,
    #[serde(default)]
    pub(in crate::job) region: Option<String>,
    #[serde(default)]
    pub(in crate::job) access_key_id: Option<String>,
    #[serde(default)]
    pub(in crate::job) secret_access_key: Option<String>,
    #[serde(default)]
    pub(in crate::job) session_token: Option<String>,
    #[serde(default)]
    pub(in crate::job) path_style_access: Option<bool>,
    /// TLS: `false` for plain HTTP.
    #[serde(default)]
    pub(in crate::job) secure: Option<bool>,
    #[serde(default)]
    pub(in crate::job) s3: Option<Box<Connection>>,
    #[serde(default)]
    pub(in crate::job) minio: Option<Box<Connection>>,
    /// The platform's Nessie catalog (`target.type: iceberg` only; see `iceberg.rs`).
    #[serde(default)]
    pub(in crate::job) nessie: Option<serde_yaml_ng::Value>,
}

impl Connection {
    /// The section's keys, with the flat keys as fallbacks.
    pub(super) fn merged(mut self) -> Connection {
        let nessie = self.nessie.take();
        let Some(inner) = self.s3.take().or(self.minio.take()) else { return Connection { nessie, ..self } };
        let inner = *inner;
        Connection {
            endpoint: inner.endpoint.or(self.endpoint),
            bucket: inner.bucket.or(self.bucket),
            prefix: inner.prefix.or(self.prefix),
            region: inner.region.or(self.region),
            access_key_id: inner.access_key_id.or(self.access_key_id),
            secret_access_key: inner.secret_access_key.or(self.secret_access_key),
            session_token: inner.session_token.or(self.session_token),
            path_style_access: inner.path_style_access.or(self.path_style_access),
            secure: inner.secure.or(self.secure),
            s3: None,
            minio: None,
            nessie: inner.nessie.or(nessie),
        }
    }

    /// Whether the job gives key `name` (of a merged connection).
    fn gives(&self, name: &str) -> bool {
        match name {
            "endpoint" => self.endpoint.is_some(),
            "bucket" => self.bucket.is_some(),
            "prefix" => self.prefix.is_some(),
            "region" => self.region.is_some(),
            "access_key_id" => self.access_key_id.is_some(),
            "secret_access_key" => self.secret_access_key.is_some(),
            "session_token" => self.session_token.is_some(),
            "path_style_access" => self.path_style_access.is_some(),
            "secure" => self.secure.is_some(),
            "nessie" => self.nessie.is_some(),
            _ => false,
        }
    }

    /// These keys, with `under`'s where these have none (both merged).
    fn or(self, under: Connection) -> Connection {
        Connection {
            endpoint: self.endpoint.or(under.endpoint),
            bucket: self.bucket.or(under.bucket),
            prefix: self.prefix.or(under.prefix),
            region: self.region.or(under.region),
            access_key_id: self.access_key_id.or(under.access_key_id),
            secret_access_key: self.secret_access_key.or(under.secret_access_key),
            session_token: self.session_token.or(under.session_token),
            path_style_access: self.path_style_access.or(under.path_style_access),
            secure: self.secure.or(under.secure),
            s3: None,
            minio: None,
            nessie: self.nessie.or(under.nessie),
        }
    }

    /// The store of `bucket` and `prefix` reached with these keys (bucket and prefix are the
    /// caller's: each place takes them from somewhere else): region `us-east-1` unless given,
    /// path-style requests with an endpoint (or for MinIO, `minio`) unless `path_style_access`
    /// says otherwise, the AWS environment's credentials when no keys are given. `key` is the
    /// YAML path of the keys for messages (`target.connection`; empty for an options text, whose
    /// caller adds its own label). A message never shows a credential.
    pub(in crate::job) fn store_config(
        &self,
        bucket: String,
        prefix: String,
        key: &str,
        minio: bool,
    ) -> std::result::Result<StoreConfig, String> {
        let at = |name: &str| if key.is_empty() { name.to_string() } else { format!("{key}.{name}") };
        let (endpoint, allow_http) = endpoint(self.endpoint.as_deref(), self.secure, &at("endpoint"))?;
        let secret = |v: &Option<String>| v.clone().filter(|k| !k.is_empty());
        let config = StoreConfig {
            bucket,
            prefix,
            region: self.region.clone().filter(|r| !r.trim().is_empty()).unwrap_or_else(|| "us-east-1".into()),
            path_style: self.path_style_access.unwrap_or(minio || endpoint.is_some()),
            endpoint,
            access_key_id: secret(&self.access_key_id),
            secret_access_key: secret(&self.secret_access_key),
            session_token: secret(&self.session_token),
            allow_http,
        };
        if config.access_key_id.is_some() != config.secret_access_key.is_some() {
            let both = "give both access_key_id and secret_access_key, or neither (then the AWS environment's \
                        credentials are used)";
            return Err(if key.is_empty() { both.to_string() } else { format!("{key}: {both}") });
        }
        Ok(config)
    }
}

/// An object-store target read from the job, waiting for the asset (its default prefix).
pub(super) struct Pending {
    minio: bool,
    connection: Connection,
    /// Bucket and prefix of an `output_base: s3://bucket/prefix`.
    output_base: Option<(String, String)>,
}

/// What `output_dir` holds until [`finish`] sets it to `s3://bucket/prefix`.
pub(super) const PLACEHOLDER: &str = "s3://";

/// The object-store target of `target`, when its type is `s3` or `minio` (a writer plugin takes
/// the target's keys as its config instead).
/// `kind` is the target's type: `target.type`, else the target recipe's.
pub(super) fn pending(ctx: &Ctx, target: &TargetConfig, kind: &str, writer_plugin: bool) -> Result<Option<Pending>> {
    if writer_plugin || !is_object_kind(kind) {
        return Ok(None);
    }
    let connection = target_connection(ctx)?.unwrap_or_default();
    if connection.nessie.is_some() {
        return Err(ctx.error(format!(
            "target.connection.nessie is a catalog, for target.type iceberg; target.type {kind} writes Parquet \
             objects without one"
        )));
    }
    let output_base = match target.output_base.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => match url.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                Some((bucket.to_string(), prefix.trim_matches('/').to_string()))
            }
            None => {
                return Err(ctx.error(format!(
                    "target.output_base '{url}' is not an s3:// URL: for target.type {}, give \
                     s3://bucket/prefix, or target.connection.bucket and prefix",
                    kind
                )))
            }
        },
    };
    let minio = kind.eq_ignore_ascii_case("minio");
    Ok(Some(Pending { minio, connection, output_base }))
}

/// `<side>.connection` as written (`side`: `source` or `target`), not merged yet; None when
/// absent. Read from the job text on its own, so a bad key's error has its path and line.
pub(super) fn connection_section(ctx: &Ctx, side: &str) -> Result<Option<Connection>> {
    #[derive(Deserialize)]
    // Read only from the text, to give a bad connection's error its line.
    #[allow(dead_code)]
    struct Side {
        #[serde(default)]
        connection: Option<Connection>,
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Top {
        #[serde(default)]
        source: Option<Side>,
        #[serde(default)]
        target: Option<Side>,
    }
    ctx.doc.section::<Connection>(&[side, "connection"], |text, label| config::from_yaml::<Top>(text, label).err())
}

/// `target.connection` as written, its `s3:` / `minio:` section merged, over the target
/// recipe's template; None when neither is there.
pub(super) fn target_connection(ctx: &Ctx) -> Result<Option<Connection>> {
    let own = connection_section(ctx, "target")?.map(Connection::merged);
    match ctx.target_template {
        Some(template) => Ok(Some(template.under(ctx, own.unwrap_or_default(), &[])?)),
        None => Ok(own),
    }
}

/// A connector recipe's `connection_template`: the connection keys a job starts from. Its
/// `s3:` or `minio:` section (the platform's Iceberg recipe has one) is flattened like a job's,
/// its keys over the flat ones.
pub(in crate::job) struct Template {
    /// Key -> value as the recipe writes it (`${VAR}`s not substituted yet).
    keys: Mapping,
    /// The recipe file, for messages.
    recipe: PathBuf,
    /// `source` or `target`: whose `connection` the job would give a key in.
    side: &'static str,
}

impl Template {
    /// The template of a recipe (None when it has none). Anything but a mapping is an error.
    pub(in crate::job) fn of(value: Option<Value>, recipe: &Path, side: &'static str) -> Result<Option<Template>> {
        let keys = match value {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Mapping(m)) => m,
            Some(_) => {
                return Err(Error::Config(format!(
                    "{}: connection_template must be a mapping of connection keys (endpoint, bucket, ...)",
                    recipe.display()
                )))
            }
        };
        let mut flat = Mapping::new();
        let mut section = None;
        for (key, value) in keys {
            match (key.as_str(), value) {
                (Some("s3"), Value::Mapping(m)) => section = Some(m),
                (Some("minio"), Value::Mapping(m)) if section.is_none() => section = Some(m),
                (_, value) => {
                    flat.insert(key, value);
                }
            }
        }
        for (key, value) in section.unwrap_or_default() {
            flat.insert(key, value);
        }
        Ok(Some(Template { keys: flat, recipe: recipe.to_path_buf(), side }))
    }

    /// `job` (a merged connection) with the template's keys under it: each key the job does
    /// not give, and that is not in `skip`, is taken from the template, its `${VAR}`s
    /// substituted now. A variable that is not set is an error naming the recipe, the key and
    /// the variable; a value is never shown.
    pub(super) fn under(&self, ctx: &Ctx, job: Connection, skip: &[&str]) -> Result<Connection> {
        let mut used = Mapping::new();
        for (key, value) in &self.keys {
            let name = key.as_str().unwrap_or_default();
            if job.gives(name) || skip.contains(&name) {
                continue;
            }
            used.insert(key.clone(), self.substitute(ctx, name, value)?);
        }
        let template: Connection = serde_yaml_ng::from_value(Value::Mapping(used))
            .map_err(|e| ctx.error(format!("{}: connection_template: {e}", self.recipe.display())))?;
        Ok(job.or(template))
    }

    /// `value` of template key `key` with its `${VAR}`s substituted (strings inside mappings
    /// too); every substituted value is remembered for redaction.
    fn substitute(&self, ctx: &Ctx, key: &str, value: &Value) -> Result<Value> {
        Ok(match value {
            Value::String(text) => {
                let missing = RefCell::new(None);
                let lookup = |name: &str| {
                    let found = (ctx.lookup)(name);
                    match &found {
                        Some(v) => ctx.substituted.borrow_mut().push((v.clone(), name.to_string())),
                        None => *missing.borrow_mut() = Some(name.to_string()),
                    }
                    found
                };
                let at = format!("{}: connection_template.{key}", self.recipe.display());
                match crate::job::env::substitute(text, &at, lookup) {
                    Ok((text, _)) => Value::String(text),
                    Err(e) => {
                        return Err(match missing.take() {
                            Some(var) => ctx.error(format!(
                                "{at}: environment variable {var} is not set; set it, or give {}.connection.{key} \
                                 in the job (a key the job gives is not read from the template)",
                                self.side
                            )),
                            None => ctx.error(e),
                        })
                    }
                }
            }
            Value::Mapping(m) => {
                let mut out = Mapping::new();
                for (k, v) in m {
                    let inner = format!("{key}.{}", k.as_str().unwrap_or_default());
                    out.insert(k.clone(), self.substitute(ctx, &inner, v)?);
                }
                Value::Mapping(out)
            }
            other => other.clone(),
        })
    }
}

/// For `target.type: iceberg`: the S3 connection of the table's files (None without S3
/// keys; bucket and prefix may be empty, the table's location gives them) and the platform's
/// `nessie` URI (`nessie: {uri: ...}` or `nessie: <uri>`).
pub(super) fn iceberg_connection(ctx: &Ctx) -> Result<(Option<StoreConfig>, Option<String>)> {
    let c = target_connection(ctx)?.unwrap_or_default();
    let nessie = match &c.nessie {
        None => None,
        Some(serde_yaml_ng::Value::String(uri)) => Some(uri.clone()),
        Some(v) => match v.get("uri").and_then(serde_yaml_ng::Value::as_str) {
            Some(uri) => Some(uri.to_string()),
            None => {
                return Err(ctx.error("target.connection.nessie needs a uri (nessie: {uri: http://host:19120/api/v1})"))
            }
        },
    };
    let given = c.endpoint.is_some() || c.bucket.is_some() || c.access_key_id.is_some() || c.region.is_some();
    if !given {
        return Ok((None, nessie));
    }
    let bucket = c.bucket.as_ref().map(|b| b.0.trim().to_string()).unwrap_or_default();
    let prefix = c.prefix.as_deref().map(|p| p.trim().trim_matches('/').to_string()).unwrap_or_default();
    let config = c.store_config(bucket, prefix, "target.connection", false).map_err(|m| ctx.error(m))?;
    Ok((Some(config), nessie))
}

/// The resolved target: the [`StoreConfig`] and the `s3://bucket/prefix` that names it. Also
/// refuses what an object-store target cannot do: a state file or a rejects file without a
/// local path.
pub(super) fn finish(
    ctx: &Ctx,
    pending: Pending,
    asset: Option<&Asset>,
    asset_name: Option<&str>,
    csv: &CsvOptions,
    incremental: Option<&Incremental>,
) -> Result<(PathBuf, StoreConfig)> {
    let c = pending.connection;
    let from_base = pending.output_base;
    let bucket = match (c.bucket.as_ref().map(|b| b.0.clone()), &from_base) {
        (Some(b), _) if !b.trim().is_empty() => b.trim().to_string(),
        (_, Some((b, _))) if !b.is_empty() => b.clone(),
        _ => {
            return Err(ctx.error(
                "target.connection.bucket is required for an object-store target (or target.connection.s3.bucket, \
                 or output_base: s3://bucket/prefix)",
            ))
        }
    };
    if bucket.contains('/') {
        return Err(ctx.error(format!("target.connection.bucket '{bucket}' must be a bucket name, without '/'")));
    }
    let prefix = match (c.prefix.clone(), from_base) {
        (Some(p), _) => p.trim().trim_matches('/').to_string(),
        (None, Some((_, p))) if !p.is_empty() => p,
        _ => default_prefix(ctx, asset, asset_name)?,
    };
    let config = c.store_config(bucket, prefix, "target.connection", pending.minio).map_err(|m| ctx.error(m))?;
    // The state is a local file: its default, next to the output, would be in the bucket.
    if incremental.is_some_and(|inc| inc.state_path.starts_with(PLACEHOLDER)) {
        return Err(ctx.error(
            "source.incremental.state_path is required with an object-store target: the incremental state is a \
             local file (e.g. state_path: .local/state/<job>.json), kept next to the job, not in the bucket",
        ));
    }
    let default_rejects = Path::new(PLACEHOLDER).join(DEFAULT_REJECTS_FILE);
    if csv.on_error == OnError::Reject && csv.rejects_path.as_deref().is_none_or(|p| p == default_rejects) {
        return Err(ctx.error(
            "source.engine.options.rejects_path is required with on_error: reject and an object-store target: \
             the rejects file is written to a local path",
        ));
    }
    Ok((PathBuf::from(config.url()), config))
}

/// `<domain>/<data_product>/<table>` from the asset.
fn default_prefix(ctx: &Ctx, asset: Option<&Asset>, asset_name: Option<&str>) -> Result<String> {
    let Some(name) = asset.map(|a| a.name.as_str()).or(asset_name) else {
        return Err(ctx.error(
            "target.connection.prefix is required without an asset: the default layout \
             <bucket>/<domain>/<data_product>/<table>/ takes the table from the asset's name",
        ));
    };
    let part = |v: Option<&String>| v.map(|s| s.trim().trim_matches('/').to_string()).filter(|s| !s.is_empty());
    let domain = part(asset.and_then(|a| a.domain.as_ref())).unwrap_or_else(|| "default".into());
    let product = part(asset.and_then(|a| a.data_product.as_ref())).unwrap_or_else(|| "default".into());
    let table = name.to_lowercase().replace(['-', ' '], "_");
    Ok(format!("{domain}/{product}/{table}"))
}

/// The endpoint URL and whether plain HTTP is allowed. `s3.amazonaws.com` (the platform's S3
/// recipe) means AWS itself. `key` names the endpoint in messages (`target.connection.endpoint`
/// in a job, `endpoint` in the C API's writer options).
pub(in crate::job) fn endpoint(
    raw: Option<&str>,
    secure: Option<bool>,
    key: &str,
) -> std::result::Result<(Option<String>, bool), String> {
    let Some(raw) = raw.map(|e| e.trim().trim_end_matches('/')).filter(|e| !e.is_empty()) else {
        return Ok((None, secure == Some(false)));
    };
    if let Some(rest) = raw.strip_prefix("http://") {
        if secure == Some(true) {
            return Err(format!("{key} 'http://{rest}' is plain HTTP but secure is true"));
        }
        return Ok((Some(raw.to_string()), true));
    }
    if raw.starts_with("https://") {
        if secure == Some(false) {
            return Err(format!("{key} '{raw}' is HTTPS but secure is false"));
        }
        return Ok((Some(raw.to_string()), false));
    }
    if raw.contains("://") {
        return Err(format!("{key} '{raw}': expected host:port, http://... or https://..."));
    }
    if raw == "s3.amazonaws.com" {
        return Ok((None, secure == Some(false)));
    }
    Ok(match secure {
        Some(false) => (Some(format!("http://{raw}")), true),
        _ => (Some(format!("https://{raw}")), false),
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::endpoint;
    use crate::job::Job;

    /// The job `target` in a folder with an input and an asset; the result of loading it
    /// (also for the Iceberg target's tests).
    pub(in crate::job::resolve) fn load(target: &str, vars: &[(&str, &str)]) -> crate::Result<Job> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.csv"), "id\n1\n").unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "name: Web Events\nversion: 1\ndomain: marketing\ndataProduct: clicks\nschema: [{name: id, type: integer}]\n",
        )
        .unwrap();
        let text = format!("asset_path: a.yaml\nsource:\n  files: [{{path: in.csv}}]\ntarget:\n{target}");
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Job::from_text(&text, &dir.path().join("job.yaml"), |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn platform_s3_and_minio_sections_resolve_to_a_store() {
        let job = load(
            "  type: s3\n  connection:\n    s3:\n      endpoint: \"${EP}\"\n      bucket: lake\n      access_key_id: \"${KEY}\"\n      secret_access_key: \"${SECRET}\"\n      region: eu-west-1\n",
            &[("EP", "http://127.0.0.1:9000"), ("KEY", "AKIAEXAMPLE"), ("SECRET", "s3cr3t-value")],
        )
        .unwrap();
        let store = job.object_target.as_ref().unwrap();
        assert_eq!(store.url(), "s3://lake/marketing/clicks/web_events", "the platform layout");
        assert_eq!(job.output_dir, std::path::Path::new("s3://lake/marketing/clicks/web_events"));
        assert_eq!(store.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(store.allow_http && store.path_style);
        assert_eq!(store.region, "eu-west-1");
        let debug = format!("{job:?}");
        assert!(!debug.contains("AKIAEXAMPLE") && !debug.contains("s3cr3t-value"), "{debug}");

        // The platform's flat minio keys (older job files), with a prefix.
        let job = load(
            "  type: minio\n  connection:\n    endpoint: minio.internal:9000\n    bucket: b\n    prefix: /raw/x/\n    secure: false\n",
            &[],
        )
        .unwrap();
        let store = job.object_target.unwrap();
        assert_eq!(store.url(), "s3://b/raw/x");
        assert_eq!(store.endpoint.as_deref(), Some("http://minio.internal:9000"));
        assert!(store.path_style && store.access_key_id.is_none());

        let job = load("  type: s3\n  output_base: s3://bkt/a/b/\n", &[]).unwrap();
        assert_eq!(job.object_target.unwrap().url(), "s3://bkt/a/b");
    }

    #[test]
    fn object_store_targets_refuse_what_they_cannot_do_yet() {
        let err = |target: &str| load(target, &[]).unwrap_err().to_string();
        assert!(err("  type: s3\n  connection: {region: x}\n").contains("target.connection.bucket is required"));
        assert!(err("  type: s3\n  connection: {bucket: b, endpont: x}\n")
            .contains("unknown key 'target.connection.endpont'"));
        assert!(err("  type: s3\n  connection: {bucket: b, access_key_id: k}\n")
            .contains("both access_key_id and secret_access_key"));
        assert!(err("  type: s3\n  output_base: out\n").contains("is not an s3:// URL"));
        assert!(err("  type: local\n  output_base: out\n  connection: {bucket: b}\n")
            .contains("target.connection is not supported"));
        assert!(err("  type: gcs\n  output_base: out\n")
            .contains("to object storage (type: s3 or minio) or to an Iceberg table"));
    }

    #[test]
    fn a_recipe_template_lies_under_the_job_keys_and_only_its_used_keys_are_substituted() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name).display().to_string();
        std::fs::write(at("in.csv"), "id\n1\n").unwrap();
        std::fs::write(at("a.yaml"), "name: t\nversion: 1\nschema: [{name: id, type: integer}]\n").unwrap();
        let load = |template: &str, vars: &[(&str, &str)]| {
            std::fs::write(at("recipe.yaml"), format!("name: lake\ntype: s3\nconnection_template:\n{template}"))
                .unwrap();
            // A platform job (it names a recipe): paths are absolute, as the working directory is not the folder.
            let text = format!(
                "target_connector_path: {}\nasset_path: {}\nsource:\n  files: [{{path: {}}}]\ntarget:\n  connection:\n    \
                 bucket: own\n    s3: {{access_key_id: \"${{MINE}}\", secret_access_key: \"${{MINE2}}\"}}\n",
                at("recipe.yaml"),
                at("a.yaml"),
                at("in.csv")
            );
            let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            Job::from_text(&text, &dir.path().join("job.yaml"), |name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            })
        };
        let template = "  bucket: \"${BUCKET}\"\n  region: eu-west-3\n  endpoint: flat.example:1\n  s3:\n    endpoint: \"${EP}\"\n    access_key_id: \"${KEY}\"\n    secret_access_key: \"${SECRET}\"\n";
        let mine = [("MINE", "AKIAJOBKEY"), ("MINE2", "job-secret-value")];
        // BUCKET, KEY and SECRET are unset: the job gives those keys, so they are not read.
        let job = load(template, &[mine[0], mine[1], ("EP", "http://127.0.0.1:9000")]).unwrap();
        let store = job.object_target.as_ref().unwrap();
        assert_eq!(store.bucket, "own");
        assert_eq!(store.endpoint.as_deref(), Some("http://127.0.0.1:9000"), "the template's s3: section wins");
        assert_eq!(store.region, "eu-west-3");
        assert_eq!(store.access_key_id.as_deref(), Some("AKIAJOBKEY"));
        assert_eq!(job.redact("at http://127.0.0.1:9000"), "at ${EP}", "a template's value is redacted too");

        let e = load(template, &mine).unwrap_err().to_string();
        assert!(e.contains("recipe.yaml: connection_template.endpoint: environment variable EP is not set"), "{e}");
        assert!(e.contains("give target.connection.endpoint in the job"), "{e}");
        assert!(!e.contains("AKIAJOBKEY") && !e.contains("job-secret-value"), "{e}");
        let e = load("  endpont: x\n", &mine).unwrap_err().to_string();
        assert!(e.contains("recipe.yaml: connection_template: unknown field `endpont`"), "{e}");
        let e = load("  - x\n", &mine).unwrap_err().to_string();
        assert!(e.contains("connection_template must be a mapping"), "{e}");
    }

    #[test]
    fn endpoints_take_their_scheme_from_secure_or_the_url() {
        assert_eq!(endpoint(Some("minio:9000"), Some(false), "e"), Ok((Some("http://minio:9000".into()), true)));
        assert_eq!(endpoint(Some("minio:9000"), None, "e"), Ok((Some("https://minio:9000".into()), false)));
        assert_eq!(endpoint(Some("http://127.0.0.1:1/"), None, "e"), Ok((Some("http://127.0.0.1:1".into()), true)));
        assert_eq!(endpoint(Some("s3.amazonaws.com"), None, "e"), Ok((None, false)));
        assert_eq!(endpoint(None, None, "e"), Ok((None, false)));
        assert!(endpoint(Some("http://x"), Some(true), "e").unwrap_err().contains("secure is true"));
        assert!(endpoint(Some("https://x"), Some(false), "e").unwrap_err().contains("secure is false"));
        assert!(endpoint(Some("ftp://x"), None, "e").is_err());
    }
}
