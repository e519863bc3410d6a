//! Reading and writing a table's files by URI: `file:///...` (or a plain absolute path) on
//! the local disk, `s3://bucket/key` through the object store client of `store/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::parquet::commit;
use crate::store::{Store, StoreConfig};
use crate::{Error, Result};

/// Where a table's files are.
pub enum FileIo {
    Local,
    /// One bucket, keys from its root.
    S3 {
        store: Arc<Store>,
        bucket: String,
    },
}

/// `s3://bucket/key` (or `s3a://`) split into bucket and key.
pub fn split_s3(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("s3://").or_else(|| uri.strip_prefix("s3a://"))?;
    Some(rest.split_once('/').unwrap_or((rest, "")))
}

/// The local path of a `file:` URI or an absolute path.
pub fn local_path(uri: &str) -> Option<PathBuf> {
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    let path = path.strip_prefix("file:").unwrap_or(path);
    Path::new(path).is_absolute().then(|| PathBuf::from(path))
}

/// The `file://` URI of an absolute local path.
pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

impl FileIo {
    /// The file IO for a table at `location`: S3 locations need `s3` (endpoint and keys; its
    /// bucket and prefix are replaced by the location's bucket and the root).
    pub fn for_location(location: &str, s3: Option<&StoreConfig>) -> Result<FileIo> {
        if let Some((bucket, _)) = split_s3(location) {
            let Some(base) = s3 else {
                return Err(Error::Config(format!(
                    "the Iceberg table's location {location} is on S3: give target.connection.s3 (endpoint, \
                     access_key_id, secret_access_key, region) for its files"
                )));
            };
            let config = StoreConfig { bucket: bucket.to_string(), prefix: String::new(), ..base.clone() };
            return Ok(FileIo::S3 { store: Arc::new(Store::connect(&config)?), bucket: bucket.to_string() });
        }
        if local_path(location).is_some() {
            return Ok(FileIo::Local);
        }
        Err(Error::Config(format!(
            "the Iceberg table's location {location} is neither s3://bucket/path nor a local absolute path \
             (file:///...): dativo cannot write there"
        )))
    }

    fn key<'a>(&self, uri: &'a str, bucket: &str) -> Result<&'a str> {
        match split_s3(uri) {
            Some((b, key)) if b == bucket => Ok(key),
            _ => Err(Error::Config(format!("{uri} is not in the table's bucket s3://{bucket}"))),
        }
    }

    /// Writes the file `uri` whole (a new name each time: table files are never rewritten).
    pub fn write(&self, uri: &str, bytes: &[u8]) -> Result<()> {
        match self {
            FileIo::Local => {
                let path = local_path(uri).ok_or_else(|| Error::Config(format!("{uri} is not a local path")))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
                }
                commit::write_atomically(&path, bytes)
            }
            FileIo::S3 { store, bucket } => store.put(self.key(uri, bucket)?, bytes.to_vec()),
        }
    }

    pub fn read(&self, uri: &str) -> Result<Vec<u8>> {
        match self {
            FileIo::Local => {
                let path = local_path(uri).ok_or_else(|| Error::Config(format!("{uri} is not a local path")))?;
                std::fs::read(&path).map_err(|e| Error::io("cannot read the Iceberg file", &path, e))
            }
            FileIo::S3 { store, bucket } => store
                .get(self.key(uri, bucket)?)?
                .ok_or_else(|| Error::Data(format!("{uri} is named by the table's metadata but does not exist"))),
        }
    }

    /// Deletes `uri`, best effort (a file no metadata names).
    pub fn remove(&self, uri: &str) {
        match self {
            FileIo::Local => {
                if let Some(path) = local_path(uri) {
                    commit::remove_quietly(&path);
                }
            }
            FileIo::S3 { store, bucket } => {
                if let Ok(key) = self.key(uri, bucket) {
                    let _ = store.delete(key);
                }
            }
        }
    }
}
