//! Object storage (S3 and S3-compatible stores: MinIO, SeaweedFS, ...): where a job's Parquet
//! files go when `target.type` is `s3` or `minio`, and where `s3://` input files come from.
//!
//! - [`StoreConfig`]: bucket, prefix, endpoint, region, credentials, path style, TLS; its
//!   `Debug` never shows a secret;
//! - [`Store`]: the client (the `object_store` crate's S3 client on a small runtime of its own)
//!   with the few blocking calls the engine needs: get, put, list, delete, and
//!   [`Store::upload`], which opens a streaming multipart upload ([`ObjectUpload`]);
//! - reading `s3://` inputs (`read.rs`): [`Store::head`] and [`Store::list_objects`] with each
//!   object's [`ObjectStamp`] (size, ETag, last-modified), and [`Store::reader`], a blocking
//!   `Read` over ranged GETs ([`ObjectReader`]).
//!
//! Errors name the object (`s3://bucket/prefix/name`) and what failed; the access key and the
//! secret are scrubbed from every message, whatever the server answered. Requests that fail with
//! a 5xx answer, a timeout or a dropped connection are retried with exponential backoff
//! (`object_store`'s [`RetryConfig`]). How a job commits on a store without rename is in
//! `job/lake.rs`; the reference is docs/lake.md.

mod read;
mod upload;

pub use read::{ListedObject, ObjectReader, ObjectStamp, RANGE_SIZE};
pub use upload::ObjectUpload;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};

use crate::{Error, Result};

/// Size of one part of a multipart upload: what an upload buffers before sending it.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one upload sent at the same time; a writer waits when this many are in flight, so
/// an upload holds at most `(PARTS_IN_FLIGHT + 1) x PART_SIZE` bytes.
pub const PARTS_IN_FLIGHT: usize = 2;

/// Where and how to reach a bucket. Built from `target.connection` (see `job/resolve/lake.rs`).
#[derive(Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub bucket: String,
    /// Folder of the objects in the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// `http(s)://host:port` of an S3-compatible server; None: AWS S3 of `region`.
    pub endpoint: Option<String>,
    pub region: String,
    /// None: the AWS environment (`AWS_ACCESS_KEY_ID`, ..., instance metadata).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// `http://endpoint/bucket/key` rather than `http://bucket.endpoint/key`.
    pub path_style: bool,
    /// Plain HTTP allowed (`secure: false`, or an `http://` endpoint).
    pub allow_http: bool,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("StoreConfig")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &hidden(&self.access_key_id))
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("path_style", &self.path_style)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl StoreConfig {
    /// `s3://bucket/prefix`: how the target is named in logs, errors and the report.
    pub fn url(&self) -> String {
        match self.prefix.as_str() {
            "" => format!("s3://{}", self.bucket),
            p => format!("s3://{}/{p}", self.bucket),
        }
    }

    /// The secrets, to scrub from messages (only values long enough to be unambiguous).
    fn secrets(&self) -> Vec<String> {
        [&self.access_key_id, &self.secret_access_key, &self.session_token]
            .into_iter()
            .flatten()
            .filter(|s| s.len() >= 4)
            .cloned()
            .collect()
    }
}

/// Replaces the secrets in a message with `***`.
#[derive(Clone, Default)]
pub(crate) struct Scrubber(Arc<Vec<String>>);

impl Scrubber {
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.0.iter() {
            out = out.replace(secret.as_str(), "***");
        }
        out
    }

    /// An engine error for a failed store call: `cannot <action> <url>: <cause>`.
    pub(crate) fn error(&self, action: &str, url: &str, cause: impl fmt::Display) -> Error {
        let cause = self.scrub(&cause.to_string());
        Error::Io { context: format!("cannot {action} {url}"), source: std::io::Error::other(cause) }
    }
}

/// A connected bucket and prefix. Calls block the calling thread (which must not be one of
/// the store's own runtime threads) until the store answered.
pub struct Store {
    config: StoreConfig,
    inner: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
    scrub: Scrubber,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("config", &self.config).finish()
    }
}

impl Store {
    /// A client for `config`. Nothing is sent yet: a wrong endpoint or key shows at the first call.
    pub fn connect(config: &StoreConfig) -> Result<Store> {
        let scrub = Scrubber(Arc::new(config.secrets()));
        let mut builder = match (&config.access_key_id, &config.secret_access_key) {
            (Some(key), Some(secret)) => {
                let b = AmazonS3Builder::new().with_access_key_id(key).with_secret_access_key(secret);
                match &config.session_token {
                    Some(token) => b.with_token(token),
                    None => b,
                }
            }
            _ => AmazonS3Builder::from_env(),
        };
        // Client options first: they replace the whole set, `allow_http` included.
        builder = builder
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(120)),
            )
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_allow_http(config.allow_http)
            .with_virtual_hosted_style_request(!config.path_style)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(15),
                    base: 2.0,
                },
                max_retries: 10,
                retry_timeout: Duration::from_secs(180),
            });
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let inner = builder.build().map_err(|e| scrub.error("connect to", &config.url(), e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dativo-store")
            .enable_all()
            .build()
            .map_err(|e| Error::thread_start("the object store's threads", e))?;
        Ok(Store { config: config.clone(), inner: Arc::new(inner), runtime, scrub })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        self.config.url()
    }

    /// `s3://bucket/prefix/name`.
    pub fn object_url(&self, name: &str) -> String {
        format!("{}/{name}", self.url())
    }

    /// The key of `name` (which may hold `/`-separated folders) under the prefix. The name is
    /// taken as written (a partition folder's `%2F` stays `%2F`); the prefix as before.
    fn path(&self, name: &str) -> ObjectPath {
        let full = match self.config.prefix.as_str() {
            "" => name.to_string(),
            p => format!("{}/{name}", ObjectPath::from(p)),
        };
        ObjectPath::parse(&full).unwrap_or_else(|_| ObjectPath::from(full))
    }

    /// The object `name` under the prefix, or None when there is none.
    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(name);
        let result = self.runtime.block_on(async {
            match self.inner.get(&path).await {
                Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        result.map_err(|e| self.scrub.error("read", &self.object_url(name), e))
    }

    /// Writes the object `name` in one request: it is replaced whole or not at all.
    pub fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.path(name);
        self.runtime
            .block_on(self.inner.put(&path, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(|e| self.scrub.error("write", &self.object_url(name), e))
    }

    /// Deletes the object `name`; one that is already gone is fine.
    pub fn delete(&self, name: &str) -> Result<()> {
        let path = self.path(name);
        match self.runtime.block_on(self.inner.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.scrub.error("delete", &self.object_url(name), e)),
        }
    }

    /// Names of the objects directly under the prefix (not in sub-folders), sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let (prefix, items) = self.list_under_prefix()?;
        let depth = prefix.as_ref().map_or(0, |p| p.parts().count());
        let mut names: Vec<String> = items
            .into_iter()
            .filter(|m| m.location.parts().count() == depth + 1)
            .filter_map(|m| m.location.filename().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Names of every object under the prefix, sub-folders included, relative to the prefix
    /// (`country=FR/part-....parquet`), sorted.
    pub fn list_all(&self) -> Result<Vec<String>> {
        let (prefix, items) = self.list_under_prefix()?;
        let start = prefix.as_ref().map_or(String::new(), |p| format!("{p}/"));
        let mut names: Vec<String> = items
            .into_iter()
            .filter_map(|m| m.location.as_ref().strip_prefix(start.as_str()).map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The prefix's path (None for the bucket's root) and every object under it.
    fn list_under_prefix(&self) -> Result<(Option<ObjectPath>, Vec<ObjectMeta>)> {
        let prefix = match self.config.prefix.as_str() {
            "" => None,
            p => Some(ObjectPath::from(p)),
        };
        let listed = self.runtime.block_on(async {
            let items: Vec<_> = self.inner.list(prefix.as_ref()).try_collect().await?;
            Ok::<_, object_store::Error>(items)
        });
        let items = listed.map_err(|e| self.scrub.error("list", &self.url(), e))?;
        Ok((prefix, items))
    }

    /// Starts a multipart upload of `name`: nothing is visible under the name until
    /// [`ObjectUpload::complete`], and an upload dropped before it is aborted.
    pub fn upload(&self, name: &str) -> Result<ObjectUpload> {
        let path = self.path(name);
        let url = self.object_url(name);
        let upload = self
            .runtime
            .block_on(self.inner.put_multipart(&path))
            .map_err(|e| self.scrub.error("start the upload of", &url, e))?;
        let writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        Ok(ObjectUpload::new(writer, self.runtime.handle().clone(), url, self.scrub.clone()))
    }
}
