//! `target.type: iceberg`: the table, its catalog and where its files go, from dativo's own
//! `target.catalog` block or from the Dativo platform's keys (`target.warehouse`,
//! `target.branch`, `target.connection.nessie.uri`, `target.connection.s3`), resolved to an
//! [`IcebergTarget`]. The reference is docs/lake.md ("Iceberg tables").
//!
//! - `target.catalog.type`: `sql` (a SQLite file, `uri`) or `rest` (`uri`); without a type,
//!   `rest` when `uri` is `http(s)://...` and `sql` otherwise. Without a `target.catalog`, a
//!   `target.connection.nessie.uri` means Nessie's Iceberg REST endpoint: its base (the URI
//!   without `/api/v1` or `/api/v2`) followed by `/iceberg`.
//! - Namespace: `target.catalog.namespace` (levels separated by `.`), else the asset's
//!   `domain`, else `default`; table: `target.catalog.table`, else the asset's name (lower
//!   case, characters other than letters, digits and `_` as `_`). As the platform does.
//! - `write_mode` (`target.engine.options`): append unless `overwrite` is written.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{lake, Ctx};
use crate::csv::{CsvOptions, OnError};
use crate::iceberg::catalog::rest::RestConfig;
use crate::iceberg::catalog::sql::sqlite_path;
use crate::iceberg::catalog::TableIdent;
use crate::iceberg::io::{file_uri, split_s3};
use crate::iceberg::metadata::MAIN;
use crate::iceberg::{CatalogConfig, IcebergTarget};
use crate::job::config::{self, Scalar};
use crate::job::DEFAULT_REJECTS_FILE;
use crate::schema::Asset;
use crate::store::StoreConfig;
use crate::Result;

/// Whether `target.type` is `iceberg`.
pub(super) fn is_iceberg(kind: &str) -> bool {
    kind.eq_ignore_ascii_case("iceberg")
}

/// `target.catalog` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogSection {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    /// SQL catalog: the `catalog_name` of its rows (pyiceberg: the catalog's name).
    #[serde(default)]
    name: Option<Scalar>,
    #[serde(default)]
    warehouse: Option<String>,
    #[serde(default)]
    namespace: Option<Scalar>,
    #[serde(default)]
    table: Option<Scalar>,
    /// OAuth2 client credentials, `id:secret`.
    #[serde(default)]
    credential: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    branch: Option<Scalar>,
}

/// An Iceberg target read from the job, waiting for the asset (the default table name).
pub(super) struct Pending {
    catalog: CatalogSection,
    warehouse: Option<String>,
    branch: Option<String>,
    nessie: Option<String>,
    s3: Option<StoreConfig>,
    append: bool,
}

/// The Iceberg target of the job, when its type is `iceberg` (a writer plugin takes the
/// target's keys as its config instead).
pub(super) fn pending(ctx: &Ctx, kind: &str, writer_plugin: bool) -> Result<Option<Pending>> {
    if writer_plugin || !is_iceberg(kind) {
        return Ok(None);
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Side {
        #[serde(default)]
        catalog: Option<CatalogSection>,
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Top {
        target: Side,
    }
    let catalog = ctx
        .doc
        .section::<CatalogSection>(&["target", "catalog"], |text, label| config::from_yaml::<Top>(text, label).err())?
        .unwrap_or_default();
    let text = |path: &[&str]| -> Result<Option<String>> {
        Ok(ctx.doc.section::<Scalar>(path, |_, _| None)?.map(|s| s.0).filter(|s| !s.trim().is_empty()))
    };
    let warehouse = text(&["target", "warehouse"])?;
    let branch = text(&["target", "branch"])?;
    let (s3, nessie) = lake::iceberg_connection(ctx)?;
    let mode =
        [&["target", "engine", "options", "write_mode"][..], &["target", "engine", "options", "native", "write_mode"]]
            .iter()
            .find_map(|p| text(p).transpose())
            .transpose()?;
    let append = !mode.is_some_and(|m| m.trim().eq_ignore_ascii_case("overwrite"));
    Ok(Some(Pending { catalog, warehouse, branch, nessie, s3, append }))
}

/// A table name from an asset name: lower case, other characters than letters, digits and
/// `_` replaced by `_`.
fn table_name(name: &str) -> String {
    name.trim().chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// A warehouse as a URI: `s3://...` as written; a local path, relative to `base` (the job's
/// folder) when relative, as `file:///abs/path`.
fn warehouse_uri(base: &dyn Fn(&str) -> PathBuf, raw: &str) -> String {
    let raw = raw.trim().trim_end_matches('/');
    if split_s3(raw).is_some() || raw.starts_with("file://") {
        return raw.to_string();
    }
    let path = base(raw);
    let absolute =
        if path.is_absolute() { path } else { std::env::current_dir().map(|d| d.join(&path)).unwrap_or(path) };
    file_uri(&absolute)
}

/// Nessie's Iceberg REST endpoint for the platform's `connection.nessie.uri`.
fn nessie_rest_uri(uri: &str) -> String {
    let base = uri.trim().trim_end_matches('/');
    let base = base.strip_suffix("/api/v1").or_else(|| base.strip_suffix("/api/v2")).unwrap_or(base);
    match base.ends_with("/iceberg") {
        true => base.to_string(),
        false => format!("{base}/iceberg"),
    }
}

/// Where an Iceberg catalog section was written, for its messages and relative paths.
pub(in crate::job) struct Place<'a> {
    /// The section's name in messages (`target.catalog`, `catalog`).
    pub at: &'a str,
    /// What gives the S3 connection of the files, in messages.
    pub connection: &'a str,
    /// A relative path as written, resolved.
    pub base: &'a dyn Fn(&str) -> PathBuf,
}

/// The catalog of section `c` and the warehouse (as a URI; `warehouse` is the section's
/// fallback); `nessie` is the platform's Nessie URI, `s3` the files' connection. Takes the
/// section's catalog keys (namespace, table and branch stay). Errors are messages.
fn catalog_of(
    c: &mut CatalogSection,
    warehouse: Option<String>,
    nessie: Option<&str>,
    s3: Option<&StoreConfig>,
    place: &Place,
) -> std::result::Result<(CatalogConfig, Option<String>), String> {
    let at = place.at;
    let kind = match (c.kind.take().map(|k| k.trim().to_ascii_lowercase()), &c.uri, nessie) {
        (Some(k), _, _) => k,
        (None, Some(uri), _) if uri.starts_with("http://") || uri.starts_with("https://") => "rest".into(),
        (None, Some(_), _) => "sql".into(),
        (None, None, Some(_)) => "rest".into(),
        (None, None, None) => {
            let (what, nessie) = match at {
                "target.catalog" => ("target.type iceberg", ", or the platform's target.connection.nessie.uri"),
                _ => ("an Iceberg table", ""),
            };
            return Err(format!(
                "{what} needs a catalog: {at} with type sql (uri: a SQLite file, warehouse: a folder or \
                 s3://bucket/prefix) or type rest (uri: http://host:port){nessie}"
            ));
        }
    };
    let warehouse = c.warehouse.take().or(warehouse).map(|w| warehouse_uri(place.base, &w));
    let catalog = match kind.as_str() {
        "sql" => {
            let uri =
                c.uri.take().filter(|u| !u.trim().is_empty()).ok_or_else(|| {
                    format!("{at}.uri is required for a sql catalog: the SQLite file (e.g. catalog.db)")
                })?;
            let path = sqlite_path(uri.trim());
            let path = if path.is_absolute() { path } else { (place.base)(&path.display().to_string()) };
            let name = c.name.take().map(|n| n.0).unwrap_or_else(|| "default".into());
            CatalogConfig::Sql { path, name }
        }
        "rest" => {
            let uri = match (c.uri.take(), nessie) {
                (Some(u), _) if !u.trim().is_empty() => u.trim().to_string(),
                (_, Some(n)) => nessie_rest_uri(n),
                _ => return Err(format!("{at}.uri is required for a rest catalog: http(s)://host:port")),
            };
            if !(uri.starts_with("http://") || uri.starts_with("https://")) {
                return Err(format!("{at}.uri '{uri}' is not an http(s):// URL"));
            }
            if c.credential.as_ref().is_some_and(|cred| !cred.contains(':')) {
                return Err(format!("{at}.credential must be client_id:client_secret"));
            }
            CatalogConfig::Rest(RestConfig {
                uri,
                warehouse: warehouse.clone(),
                credential: c.credential.take().filter(|s| !s.is_empty()),
                token: c.token.take().filter(|s| !s.is_empty()),
                scope: c.scope.take().unwrap_or_else(|| "catalog".into()),
            })
        }
        other => return Err(format!("{at}.type '{other}' is not supported: use sql or rest")),
    };
    let warehouse = match (&catalog, warehouse) {
        (CatalogConfig::Sql { .. }, None) => match s3 {
            Some(s3) if !s3.bucket.is_empty() => Some(s3.url()),
            _ => {
                return Err(format!(
                    "{at}.warehouse is required for a sql catalog: the folder or s3://bucket/prefix new tables go to"
                ))
            }
        },
        (_, w) => w,
    };
    if warehouse.as_deref().is_some_and(|w| split_s3(w).is_some()) && s3.is_none() {
        if let CatalogConfig::Sql { .. } = catalog {
            return Err(format!("{at}.warehouse is on S3: give {} for its files", place.connection));
        }
    }
    Ok((catalog, warehouse))
}

/// The scheme of an Iceberg table as a writer's place: `iceberg:<namespace>.<table>`.
pub(in crate::job) const SCHEME: &str = "iceberg:";

/// The table of a place `iceberg:<namespace>.<table>` (namespace levels separated by `.`;
/// `iceberg:<table>` is in namespace `default`), None for another place.
pub(in crate::job) fn table_of_place(place: &str) -> std::result::Result<Option<TableIdent>, String> {
    let Some(name) = place.strip_prefix(SCHEME) else { return Ok(None) };
    let mut levels: Vec<String> = name.split('.').map(|s| s.trim().to_string()).collect();
    if levels.iter().any(String::is_empty) {
        return Err(format!("'{place}' is not an Iceberg table: expected iceberg:<namespace>.<table>"));
    }
    let table = levels.pop().unwrap_or_default();
    if levels.is_empty() {
        levels.push("default".into());
    }
    Ok(Some(TableIdent { namespace: levels, name: table }))
}

/// The Iceberg target of a writer's options (the C API's, and every binding's): `catalog` as a
/// job's `target.catalog` without `namespace`, `table` and `branch` (the place names the
/// table), `branch`, and the files' S3 connection. Paths are relative to the current folder.
pub(in crate::job) fn target_of_options(
    table: TableIdent,
    catalog: Option<serde_yaml_ng::Value>,
    branch: Option<String>,
    s3: Option<StoreConfig>,
    append: bool,
) -> std::result::Result<IcebergTarget, String> {
    let Some(catalog) = catalog else {
        return Err(format!(
            "the Iceberg table {table} needs `catalog`: {{type: sql, uri: catalog.db, warehouse: \
             folder or s3://bucket/prefix}} or {{type: rest, uri: http://host:port}}"
        ));
    };
    let mut c: CatalogSection = serde_yaml_ng::from_value(catalog).map_err(|e| format!("catalog: {e}"))?;
    if let Some(key) =
        [("namespace", c.namespace.is_some()), ("table", c.table.is_some()), ("branch", c.branch.is_some())]
            .iter()
            .find_map(|(k, set)| set.then_some(*k))
    {
        return Err(format!(
            "catalog.{key}: the place iceberg:<namespace>.<table> names the table{}",
            if key == "branch" { ", and `branch` is an option of its own" } else { "" }
        ));
    }
    let place = Place {
        at: "catalog",
        connection: "the connection keys (endpoint, access_key_id, secret_access_key, region)",
        base: &|p| PathBuf::from(p),
    };
    let (catalog, warehouse) = catalog_of(&mut c, None, None, s3.as_ref(), &place)?;
    Ok(IcebergTarget {
        catalog,
        warehouse,
        table,
        branch: branch.map_or_else(|| MAIN.to_string(), |b| b.trim().to_string()),
        s3,
        append,
    })
}

/// The resolved target, and the name the job's messages give it. Refuses what an Iceberg
/// target cannot do yet: incremental state, and a rejects file without a local `rejects_path`.
pub(super) fn finish(
    ctx: &Ctx,
    pending: Pending,
    asset: Option<&Asset>,
    asset_name: Option<&str>,
    csv: &CsvOptions,
    incremental: bool,
) -> Result<(PathBuf, IcebergTarget)> {
    let mut c = pending.catalog;
    let place = Place {
        at: "target.catalog",
        connection: "target.connection.s3 (endpoint, access_key_id, secret_access_key, region)",
        base: &|p| ctx.path(p),
    };
    let (catalog, warehouse) =
        catalog_of(&mut c, pending.warehouse, pending.nessie.as_deref(), pending.s3.as_ref(), &place)
            .map_err(|m| ctx.error(m))?;
    let namespace = match c.namespace.map(|n| n.0) {
        Some(n) if !n.trim().is_empty() => n,
        _ => asset.and_then(|a| a.domain.clone()).filter(|d| !d.trim().is_empty()).unwrap_or_else(|| "default".into()),
    };
    let namespace: Vec<String> = namespace.split('.').map(|s| s.trim().to_string()).collect();
    if namespace.iter().any(String::is_empty) {
        return Err(ctx.error(format!("target.catalog.namespace '{}' has an empty level", namespace.join("."))));
    }
    let table = match c.table.map(|t| t.0).filter(|t| !t.trim().is_empty()) {
        Some(t) => t.trim().to_string(),
        None => match asset.map(|a| a.name.as_str()).or(asset_name) {
            Some(name) => table_name(name),
            None => return Err(ctx.error("target.catalog.table is required without an asset (it names the table)")),
        },
    };
    let branch = c.branch.map(|b| b.0).or(pending.branch).filter(|b| !b.trim().is_empty());
    if incremental {
        return Err(ctx.error(
            "source.incremental is not supported with an Iceberg target yet: run the job without it (each run \
             commits one snapshot)",
        ));
    }
    let default_rejects = Path::new(lake::PLACEHOLDER).join(DEFAULT_REJECTS_FILE);
    if csv.on_error == OnError::Reject && csv.rejects_path.as_deref().is_none_or(|p| p == default_rejects) {
        return Err(ctx.error(
            "source.engine.options.rejects_path is required with on_error: reject and an Iceberg target: the \
             rejects file is written to a local path",
        ));
    }
    let target = IcebergTarget {
        catalog,
        warehouse,
        table: TableIdent { namespace, name: table },
        branch: branch.map_or_else(|| MAIN.to_string(), |b| b.trim().to_string()),
        s3: pending.s3,
        append: pending.append,
    };
    Ok((PathBuf::from(target.describe()), target))
}

#[cfg(test)]
mod tests {
    use super::nessie_rest_uri;
    use crate::iceberg::CatalogConfig;
    use crate::job::Job;

    /// The job `target` with the object-store tests' input and asset, no variables set.
    fn load(target: &str) -> crate::Result<Job> {
        super::super::lake::tests::load(target, &[])
    }

    #[test]
    fn dativo_and_platform_keys_resolve_to_a_catalog_and_a_table() {
        let job = load("  type: iceberg\n  catalog: {type: sql, uri: cat.db, warehouse: wh}\n").unwrap();
        let t = job.iceberg_target.unwrap();
        assert_eq!(t.table.to_string(), "marketing.web_events");
        assert!(
            matches!(&t.catalog, CatalogConfig::Sql { path, name } if path.ends_with("cat.db") && name == "default")
        );
        assert!(t.warehouse.unwrap().starts_with("file:///") && t.append && t.branch == "main");

        let job = load(
            "  type: iceberg\n  branch: dev\n  warehouse: s3://lake/acme/\n  engine: {options: {write_mode: overwrite}}\n  connection:\n    nessie:\n      uri: http://nessie:19120/api/v1\n    s3:\n      endpoint: http://127.0.0.1:9\n      bucket: b\n",
        )
        .unwrap();
        let t = job.iceberg_target.unwrap();
        assert!(matches!(&t.catalog, CatalogConfig::Rest(r) if r.uri == "http://nessie:19120/iceberg"));
        assert_eq!((t.branch.as_str(), t.append), ("dev", false));
        assert_eq!(t.warehouse.as_deref(), Some("s3://lake/acme"));
        assert_eq!(nessie_rest_uri("http://n:1/api/v2/"), "http://n:1/iceberg");
    }

    #[test]
    fn iceberg_targets_refuse_what_they_cannot_do() {
        let err = |t: &str| load(t).unwrap_err().to_string();
        assert!(err("  type: iceberg\n").contains("needs a catalog"));
        assert!(err("  type: iceberg\n  catalog: {type: sql, uri: c.db}\n").contains("warehouse is required"));
        assert!(err("  type: iceberg\n  catalog: {type: hive, uri: x}\n").contains("'hive' is not supported"));
        assert!(err("  type: iceberg\n  catalog: {type: rest, uri: http://x, credentail: a}\n")
            .contains("target.catalog.credentail"));
    }
}
