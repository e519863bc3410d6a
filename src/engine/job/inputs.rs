//! A job's inputs as the CSV reader reads them: local files by path, `s3://` objects through
//! one store client per connection (an [`OpenInput`] over [`Store::reader`]).

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use super::{InputFile, Job};
use crate::csv::{Input, OpenInput};
use crate::store::{ObjectStamp, Store, StoreConfig};
use crate::Result;

/// An `s3://bucket/key` input: the bucket's connection (prefix empty), the key, and the
/// object's stamp when the job was loaded. Reading fails if the object changes after that.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInput {
    pub store: StoreConfig,
    pub key: String,
    pub stamp: ObjectStamp,
}

impl ObjectInput {
    /// `s3://bucket/key`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.store.bucket, self.key)
    }
}

/// One object, opened through a shared client.
struct StoreObject {
    store: Arc<Store>,
    key: String,
    stamp: ObjectStamp,
    url: String,
}

impl OpenInput for StoreObject {
    fn name(&self) -> String {
        self.url.clone()
    }

    fn size(&self) -> u64 {
        self.stamp.size
    }

    fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(self.store.reader(&self.key, &self.stamp)))
    }
}

/// Store clients by connection, so that the objects of one bucket share one client (and its
/// threads).
#[derive(Default)]
struct Clients(Vec<(StoreConfig, Arc<Store>)>);

impl Clients {
    fn get(&mut self, config: &StoreConfig) -> Result<Arc<Store>> {
        if let Some((_, store)) = self.0.iter().find(|(c, _)| c == config) {
            return Ok(store.clone());
        }
        let store = Arc::new(Store::connect(config)?);
        self.0.push((config.clone(), store.clone()));
        Ok(store)
    }

    fn input(&mut self, input: &InputFile) -> Result<Input> {
        Ok(match &input.object {
            None => Input::File(input.path.clone()),
            Some(o) => Input::Open(Arc::new(StoreObject {
                store: self.get(&o.store)?,
                key: o.key.clone(),
                stamp: o.stamp.clone(),
                url: o.url(),
            })),
        })
    }
}

impl Job {
    /// `inputs` (a unit's), for [`crate::csv::CsvReader::open_inputs`].
    pub(super) fn csv_inputs(&self, inputs: &[&InputFile]) -> Result<Vec<Input>> {
        let mut clients = Clients::default();
        inputs.iter().map(|i| clients.input(i)).collect()
    }

    /// One input, for reading its header.
    pub(super) fn csv_input(input: &InputFile) -> Result<Input> {
        Clients::default().input(input)
    }
}

impl InputFile {
    /// A local input file.
    pub fn local(path: PathBuf) -> InputFile {
        let platform_key = path.display().to_string();
        InputFile { path, id: None, platform_key, object: None }
    }
}
