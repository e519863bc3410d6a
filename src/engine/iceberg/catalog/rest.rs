//! The Iceberg REST catalog protocol, as far as a writer needs it: `GET /v1/config` (the
//! `prefix` of the other routes), namespaces (created when missing), create and load table,
//! and the commit `POST .../tables/{table}` with the requirements `assert-table-uuid` and
//! `assert-ref-snapshot-id` and the updates `add-snapshot` and `set-snapshot-ref`. A 409
//! answer is a conflict (another writer committed first), which the caller retries on the
//! new snapshot.
//!
//! Authentication: a bearer `token`, or OAuth2 client credentials (`credential: id:secret`,
//! exchanged at `POST /v1/oauth/tokens` for a token). Neither ever appears in a message: the
//! server's answers are scrubbed of both before they are quoted.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{Catalog, CommitOutcome, LoadedTable, SnapshotCommit, TableIdent};
use crate::iceberg::metadata::{PartitionSpec, TableMetadata};
use crate::iceberg::schema::TableSchema;
use crate::{Error, Result};

/// How the catalog is reached.
#[derive(Clone, PartialEq, Eq)]
pub struct RestConfig {
    /// Base URI: `http://host:port` (routes are under `<uri>/v1/`).
    pub uri: String,
    pub warehouse: Option<String>,
    /// OAuth2 client credentials `id:secret`.
    pub credential: Option<String>,
    pub token: Option<String>,
    /// OAuth2 scope sent with `credential`.
    pub scope: String,
}

impl std::fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestConfig")
            .field("uri", &self.uri)
            .field("warehouse", &self.warehouse)
            .field("credential", &self.credential.as_ref().map(|_| "***"))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("scope", &self.scope)
            .finish()
    }
}

pub struct RestCatalog {
    config: RestConfig,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    /// `<uri>/v1/<prefix>` of the table routes.
    base: String,
    token: Option<String>,
    /// Values scrubbed from every message.
    secrets: Vec<String>,
}

/// A namespace as a path segment: levels joined by the unit separator, percent-encoded.
fn namespace_segment(namespace: &[String]) -> String {
    encode(&namespace.join("\u{1f}"))
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RestCatalog {
    /// Connects: gets a token when `credential` is given, then the catalog's config.
    pub fn connect(config: &RestConfig) -> Result<RestCatalog> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::thread_start("the REST catalog client", e))?;
        // The client's connection pool and timers belong to the runtime.
        let _context = runtime.enter();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        let mut secrets: Vec<String> = Vec::new();
        if let Some(c) = &config.credential {
            secrets.push(c.clone());
            if let Some((id, secret)) = c.split_once(':') {
                secrets.extend([id.to_string(), secret.to_string()]);
            }
        }
        if let Some(t) = &config.token {
            secrets.push(t.clone());
        }
        secrets.retain(|s| s.len() >= 4);
        let uri = config.uri.trim_end_matches('/').to_string();
        let mut catalog = RestCatalog {
            config: RestConfig { uri: uri.clone(), ..config.clone() },
            client,
            runtime,
            base: format!("{uri}/v1"),
            token: config.token.clone(),
            secrets,
        };
        if let Some(credential) = config.credential.clone() {
            catalog.token = Some(catalog.oauth_token(&credential)?);
            let token = catalog.token.clone().unwrap_or_default();
            if token.len() >= 4 {
                catalog.secrets.push(token);
            }
        }
        let mut path = format!("{uri}/v1/config");
        if let Some(w) = &config.warehouse {
            path.push_str(&format!("?warehouse={}", encode(w)));
        }
        let (status, body) = catalog.send(Method::GET, &path, None)?;
        if !status.is_success() {
            return Err(catalog.failure("read the catalog configuration from", &path, status, &body));
        }
        let prefix = ["overrides", "defaults"]
            .iter()
            .find_map(|k| body.get(k).and_then(|o| o.get("prefix")).and_then(Value::as_str))
            .map(str::to_string);
        if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
            catalog.base = format!("{uri}/v1/{}", prefix.split('/').map(encode).collect::<Vec<_>>().join("/"));
        }
        Ok(catalog)
    }

    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            out = out.replace(s.as_str(), "***");
        }
        out
    }

    /// `POST /v1/oauth/tokens` with the client credentials.
    fn oauth_token(&self, credential: &str) -> Result<String> {
        let (id, secret) = credential.split_once(':').unwrap_or(("", credential));
        let url = format!("{}/v1/oauth/tokens", self.config.uri);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", self.config.scope.as_str()),
        ];
        let body = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
        let request =
            self.client.post(&url).header("Content-Type", "application/x-www-form-urlencoded").body(body).send();
        let (status, text) = self
            .runtime
            .block_on(async {
                let r = request.await?;
                let status = r.status();
                Ok::<_, reqwest::Error>((status, r.text().await.unwrap_or_default()))
            })
            .map_err(|e| self.transport_error("get an OAuth2 token from", &url, e))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            return Err(self.failure("get an OAuth2 token from", &url, status, &body));
        }
        body.get("access_token").and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
            Error::Data(format!("the REST catalog {url} answered the token request without an access_token"))
        })
    }

    fn transport_error(&self, action: &str, url: &str, e: reqwest::Error) -> Error {
        Error::Io {
            context: format!("cannot {action} the REST catalog {}", self.scrub(url)),
            source: std::io::Error::other(self.scrub(&e.to_string())),
        }
    }

    fn failure(&self, action: &str, url: &str, status: StatusCode, body: &Value) -> Error {
        let message = body
            .get("error")
            .map(|e| {
                let kind = e.get("type").and_then(Value::as_str).unwrap_or("");
                let msg = e.get("message").and_then(Value::as_str).unwrap_or("");
                format!("{kind}: {msg}")
            })
            .unwrap_or_else(|| body.to_string());
        Error::Data(format!(
            "cannot {action} the REST catalog {}: HTTP {status}: {}",
            self.scrub(url),
            self.scrub(&message)
        ))
    }

    /// One request; the answer's status and JSON body (a non-JSON body as a string).
    fn send(&self, method: Method, url: &str, body: Option<&Value>) -> Result<(StatusCode, Value)> {
        let mut request = self.client.request(method, url).header("Accept", "application/json");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_string());
        }
        let (status, text) = self
            .runtime
            .block_on(async {
                let r = request.send().await?;
                let status = r.status();
                Ok::<_, reqwest::Error>((status, r.text().await.unwrap_or_default()))
            })
            .map_err(|e| self.transport_error("reach", url, e))?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, body))
    }

    fn table_url(&self, ident: &TableIdent) -> String {
        format!("{}/namespaces/{}/tables/{}", self.base, namespace_segment(&ident.namespace), encode(&ident.name))
    }

    fn loaded(&self, body: Value, url: &str) -> Result<LoadedTable> {
        let location = body.get("metadata-location").and_then(Value::as_str).map(str::to_string);
        let metadata = body.get("metadata").cloned().unwrap_or(Value::Null);
        let metadata = TableMetadata::parse(metadata.to_string().as_bytes(), &format!("the answer of {url}"))?;
        Ok(LoadedTable { metadata, metadata_location: location })
    }

    fn ensure_namespace(&self, namespace: &[String]) -> Result<()> {
        let url = format!("{}/namespaces/{}", self.base, namespace_segment(namespace));
        let (status, body) = self.send(Method::GET, &url, None)?;
        if status.is_success() {
            return Ok(());
        }
        if status != StatusCode::NOT_FOUND {
            return Err(self.failure("look up the namespace in", &url, status, &body));
        }
        let url = format!("{}/namespaces", self.base);
        let (status, body) = self.send(Method::POST, &url, Some(&json!({"namespace": namespace, "properties": {}})))?;
        // 409: created by another writer meanwhile.
        if status.is_success() || status == StatusCode::CONFLICT {
            return Ok(());
        }
        Err(self.failure("create the namespace in", &url, status, &body))
    }
}

impl Catalog for RestCatalog {
    fn load(&mut self, ident: &TableIdent) -> Result<Option<LoadedTable>> {
        let url = self.table_url(ident);
        let (status, body) = self.send(Method::GET, &url, None)?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.failure("load the table from", &url, status, &body));
        }
        self.loaded(body, &url).map(Some)
    }

    fn create(&mut self, ident: &TableIdent, schema: &TableSchema, spec: &PartitionSpec) -> Result<LoadedTable> {
        self.ensure_namespace(&ident.namespace)?;
        let url = format!("{}/namespaces/{}/tables", self.base, namespace_segment(&ident.namespace));
        let request = json!({
            "name": ident.name,
            "schema": schema.to_json(),
            "partition-spec": spec.to_json(),
            "write-order": {"order-id": 0, "fields": []},
            "stage-create": false,
            "properties": {"write.format.default": "parquet", "format-version": "2"}
        });
        let (status, body) = self.send(Method::POST, &url, Some(&request))?;
        if status == StatusCode::CONFLICT {
            return self.load(ident)?.ok_or_else(|| {
                Error::Data(format!("the REST catalog {url}: table {ident} exists but cannot be loaded"))
            });
        }
        if !status.is_success() {
            return Err(self.failure(&format!("create the table {ident} in"), &url, status, &body));
        }
        self.loaded(body, &url)
    }

    fn commit(&mut self, ident: &TableIdent, base: &LoadedTable, commit: &SnapshotCommit) -> Result<CommitOutcome> {
        let url = self.table_url(ident);
        let snapshot_id = commit.snapshot["snapshot-id"].clone();
        let request = json!({
            "identifier": {"namespace": ident.namespace, "name": ident.name},
            "requirements": [
                {"type": "assert-table-uuid", "uuid": base.metadata.uuid()?},
                {"type": "assert-ref-snapshot-id", "ref": commit.ref_name, "snapshot-id": commit.expected}
            ],
            "updates": [
                {"action": "add-snapshot", "snapshot": commit.snapshot},
                {"action": "set-snapshot-ref", "ref-name": commit.ref_name, "type": "branch", "snapshot-id": snapshot_id}
            ]
        });
        let (status, body) = self.send(Method::POST, &url, Some(&request))?;
        if status.is_success() {
            return Ok(CommitOutcome::Committed);
        }
        if status == StatusCode::CONFLICT {
            log::info!("{}: commit conflict on {ident}: {}", self.describe(), self.scrub(&body.to_string()));
            return Ok(CommitOutcome::Conflict);
        }
        Err(self.failure(&format!("commit a snapshot of {ident} to"), &url, status, &body))
    }

    fn describe(&self) -> String {
        format!("the REST catalog {}", self.scrub(&self.config.uri))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_joined_by_the_unit_separator_and_encoded() {
        assert_eq!(namespace_segment(&["a".into(), "b c".into()]), "a%1Fb%20c");
    }

    #[test]
    fn the_debug_form_hides_credentials() {
        let c = RestConfig {
            uri: "http://127.0.0.1:1".into(),
            warehouse: None,
            credential: Some("client:very-secret".into()),
            token: Some("tok-en-value".into()),
            scope: "catalog".into(),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("very-secret") && !d.contains("tok-en-value"), "{d}");
    }
}
