//! Reading objects: [`ObjectStamp`] (what identifies one version of an object), listing the
//! objects under a folder, and [`ObjectReader`], a blocking [`Read`] over an object that the
//! CSV reader consumes exactly like a file.
//!
//! The reader fetches the object in ranged GETs of [`RANGE_SIZE`], one range ahead of the
//! consumer, rather than one long streaming GET: each request is short (its own timeout and
//! its own retries with backoff, whatever the size of the object and however slowly the
//! consumer reads), memory is bounded by two ranges, and every request carries `If-Match` with
//! the ETag the job resolved, so an object replaced while it is being read fails the run
//! instead of mixing two versions.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt};
use tokio::task::JoinHandle;

use super::Store;
use crate::Result;

/// Bytes per ranged GET. Two ranges are held at most: the one being read and the next.
pub const RANGE_SIZE: u64 = 8 * 1024 * 1024;

/// One version of an object, as the store describes it: what incremental state keys an
/// `s3://` input by (as size and modification time key a local file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStamp {
    pub size: u64,
    /// The object's ETag (quoted, as the store sends it); None when the store gives none.
    pub e_tag: Option<String>,
    /// Last modification, in nanoseconds since the Unix epoch (0 when out of range).
    pub modified_ns: i64,
}

impl ObjectStamp {
    fn of(meta: &ObjectMeta) -> ObjectStamp {
        ObjectStamp {
            size: meta.size,
            e_tag: meta.e_tag.clone(),
            modified_ns: meta.last_modified.timestamp_nanos_opt().unwrap_or(0),
        }
    }
}

/// An object found by [`Store::list_objects`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The key, relative to the store's prefix.
    pub name: String,
    pub stamp: ObjectStamp,
}

impl Store {
    /// The stamp of the object `name` under the prefix, or None when there is none.
    pub fn head(&self, name: &str) -> Result<Option<ObjectStamp>> {
        let path = self.path(name);
        match self.runtime.block_on(self.inner.head(&path)) {
            Ok(meta) => Ok(Some(ObjectStamp::of(&meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.scrub.error("read", &self.object_url(name), e)),
        }
    }

    /// Every object under the folder `folder` of the prefix (`""`: the whole prefix), sub-folders
    /// included, sorted by name. Names are relative to the store's prefix.
    pub fn list_objects(&self, folder: &str) -> Result<Vec<ListedObject>> {
        let folder = folder.trim_matches('/');
        let under = match (self.config.prefix.as_str(), folder) {
            ("", "") => None,
            (p, "") => Some(ObjectPath::from(p)),
            _ => Some(self.path(folder)),
        };
        let start = match self.config.prefix.as_str() {
            "" => String::new(),
            p => format!("{}/", ObjectPath::from(p)),
        };
        let listed = self.runtime.block_on(async {
            use futures_util::TryStreamExt;
            let items: Vec<ObjectMeta> = self.inner.list(under.as_ref()).try_collect().await?;
            Ok::<_, object_store::Error>(items)
        });
        let url = match folder {
            "" => format!("{}/", self.url()),
            f => format!("{}/", self.object_url(f)),
        };
        let items = listed.map_err(|e| self.scrub.error("list", &url, e))?;
        let mut objects: Vec<ListedObject> = items
            .iter()
            .filter_map(|m| {
                let name = m.location.as_ref().strip_prefix(start.as_str())?.to_string();
                Some(ListedObject { name, stamp: ObjectStamp::of(m) })
            })
            .collect();
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(objects)
    }

    /// A reader of the object `name` as it was when `stamp` was taken: it fails when the
    /// object changes or disappears meanwhile. Nothing is fetched until the first read.
    pub fn reader(self: &Arc<Self>, name: &str, stamp: &ObjectStamp) -> ObjectReader {
        ObjectReader {
            store: self.clone(),
            path: self.path(name),
            url: self.object_url(name),
            stamp: stamp.clone(),
            current: Bytes::new(),
            next: None,
            requested: 0,
            started: false,
        }
    }
}

/// A blocking [`Read`] over one object: see the module's comment. Its errors name the object
/// (`s3://bucket/key`) and never a credential.
pub struct ObjectReader {
    store: Arc<Store>,
    path: ObjectPath,
    url: String,
    stamp: ObjectStamp,
    /// The range being read; what of it is left.
    current: Bytes,
    /// The next range, on its way.
    next: Option<(u64, JoinHandle<object_store::Result<Bytes>>)>,
    /// Bytes requested so far (the end of the last range asked for).
    requested: u64,
    started: bool,
}

impl ObjectReader {
    /// Ask for the range after the last one, when the object has more.
    fn prefetch(&mut self) {
        if self.requested >= self.stamp.size {
            return;
        }
        let range = self.requested..(self.requested + RANGE_SIZE).min(self.stamp.size);
        self.requested = range.end;
        let expected = range.end - range.start;
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            if_match: self.stamp.e_tag.clone(),
            ..Default::default()
        };
        let (inner, path): (Arc<dyn ObjectStore>, _) = (self.store.inner.clone(), self.path.clone());
        let task = self.store.runtime.spawn(async move { inner.get_opts(&path, options).await?.bytes().await });
        self.next = Some((expected, task));
    }

    fn error(&self, e: object_store::Error) -> io::Error {
        let scrub = &self.store.scrub;
        let message = match e {
            object_store::Error::Precondition { .. } => format!(
                "{} changed while it was being read (it no longer has the ETag {}); run the job again",
                self.url,
                self.stamp.e_tag.as_deref().unwrap_or("")
            ),
            object_store::Error::NotFound { .. } => format!("{} was deleted while it was being read", self.url),
            e => scrub.scrub(&format!("{}: {e}", self.url)),
        };
        io::Error::other(message)
    }
}

impl Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.started {
            self.started = true;
            self.prefetch();
        }
        loop {
            if !self.current.is_empty() {
                let n = out.len().min(self.current.len());
                out[..n].copy_from_slice(&self.current[..n]);
                let _ = self.current.split_to(n);
                return Ok(n);
            }
            let Some((expected, task)) = self.next.take() else { return Ok(0) };
            let bytes = match self.store.runtime.block_on(task) {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(e)) => return Err(self.error(e)),
                Err(e) => return Err(io::Error::other(format!("{}: the read was interrupted: {e}", self.url))),
            };
            if bytes.len() as u64 != expected {
                return Err(io::Error::other(format!(
                    "{}: the store sent {} bytes for a range of {expected}; the object may have changed while it \
                     was being read",
                    self.url,
                    bytes.len()
                )));
            }
            self.current = bytes;
            // The next range travels while this one is parsed.
            self.prefetch();
        }
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        if let Some((_, task)) = self.next.take() {
            task.abort();
        }
    }
}
