//! [`ObjectUpload`]: a blocking [`Write`] over a streaming multipart upload, so the Parquet
//! encoder writes to an object exactly as it writes to a file.

use std::io::{self, Write};

use object_store::WriteMultipart;
use tokio::runtime::Handle;

use super::{Scrubber, PARTS_IN_FLIGHT};
use crate::{Error, Result};

/// One object being written. Bytes are gathered into parts of [`super::PART_SIZE`]; each full
/// part is sent at once, in the background, while the writer goes on, and a write waits when
/// [`PARTS_IN_FLIGHT`] parts are still on their way. So memory stays bounded whatever the size
/// of the object, and a failed part surfaces at the next write.
///
/// The object appears, whole, only at [`complete`](Self::complete) (the upload's completion
/// request: the commit point of one object). [`abort`](Self::abort), or a drop before
/// `complete`, aborts the upload and the store discards its parts; a process killed meanwhile
/// leaves an incomplete upload that no listing shows (a bucket lifecycle rule removes it).
pub struct ObjectUpload {
    writer: Option<WriteMultipart>,
    runtime: Handle,
    url: String,
    scrub: Scrubber,
    bytes: u64,
}

impl ObjectUpload {
    pub(super) fn new(writer: WriteMultipart, runtime: Handle, url: String, scrub: Scrubber) -> Self {
        ObjectUpload { writer: Some(writer), runtime, url, scrub, bytes: 0 }
    }

    /// `s3://bucket/prefix/name`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Sends the last part and completes the upload: from now on the object is visible, whole.
    pub fn complete(&mut self) -> Result<u64> {
        let writer = self.writer.take().ok_or_else(|| self.closed())?;
        match self.runtime.block_on(writer.finish()) {
            Ok(_) => Ok(self.bytes),
            // `finish` has aborted the upload.
            Err(e) => Err(self.scrub.error("upload", &self.url, e)),
        }
    }

    /// Aborts the upload: the store drops the parts sent so far. Best effort.
    pub fn abort(&mut self) {
        if let Some(writer) = self.writer.take() {
            if let Err(e) = self.runtime.block_on(writer.abort()) {
                log::debug!("{}", self.scrub.scrub(&format!("cannot abort the upload of {}: {e}", self.url)));
            }
        }
    }

    fn closed(&self) -> Error {
        Error::Internal(format!("the upload of {} is already complete or aborted", self.url))
    }
}

impl Write for ObjectUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(writer) = self.writer.as_mut() else {
            return Err(io::Error::other(format!("the upload of {} is closed", self.url)));
        };
        {
            // A full part is spawned on the store's runtime.
            let _context = self.runtime.enter();
            writer.write(buf);
        }
        if let Err(e) = self.runtime.block_on(writer.wait_for_capacity(PARTS_IN_FLIGHT)) {
            return Err(io::Error::other(self.scrub.scrub(&format!("a part of {} was not uploaded: {e}", self.url))));
        }
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    /// Parts are sent when full; the last one at `complete`.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ObjectUpload {
    fn drop(&mut self) {
        self.abort();
    }
}
