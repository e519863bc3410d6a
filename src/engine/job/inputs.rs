//! A job's inputs as the CSV reader reads them: local files by path, `s3://` objects through
//! one store client per connection (an [`OpenInput`] over [`Store::reader`]).

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use super::options::reader_options_from_text;
use super::{output, InputFile, Job};
use crate::csv::{CsvReader, Input, OpenInput};
use crate::store::{ObjectStamp, Store, StoreConfig};
use crate::{Error, Result};

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

/// Opens a CSV reader over `paths` with one options text (the C API's
/// `dativo_csv_reader_open`, and every binding over it): the keys of a job's
/// `source.engine.options` and, for `s3://bucket/key` paths, the connection keys of
/// `target.connection.s3` (`endpoint`, `region`, `access_key_id`, ...). Each object's stamp is
/// taken now (a missing object is an error naming it); reading fails if it changes later.
/// Connection keys without an `s3://` path are an error (they would be ignored).
pub fn open_csv_reader(paths: &[PathBuf], text: &str, label: &str) -> Result<CsvReader> {
    // Without connection keys the text is parsed as given, so messages point into it.
    let (reader_text, connection) = match output::split_connection(text, label)? {
        Some((rest, Some(connection))) => (output::mapping_text(&rest, label)?, Some(connection)),
        _ => (text.to_string(), None),
    };
    let mut options = reader_options_from_text(&reader_text, label)?;
    let mut clients = Clients::default();
    let mut inputs = Vec::with_capacity(paths.len());
    let mut labels = Vec::with_capacity(paths.len());
    for path in paths {
        let text = path.to_str().unwrap_or("");
        match output::bucket_config(text, &connection, label)? {
            None => {
                inputs.push(Input::File(path.clone()));
                labels.push(path.display().to_string());
            }
            Some((config, key)) => {
                let store = clients.get(&config)?;
                let stamp = store
                    .head(&key)?
                    .ok_or_else(|| Error::Config(format!("{text}: no such object (checked with HEAD)")))?;
                inputs.push(Input::Open(Arc::new(StoreObject { store, key, stamp, url: text.to_string() })));
                labels.push(text.to_string());
            }
        }
    }
    if connection.is_some() && clients.0.is_empty() {
        return Err(Error::Config(format!(
            "{label}: the connection keys only apply to s3://bucket/key paths, and none is given"
        )));
    }
    options.file_labels = Some(labels);
    CsvReader::open_inputs(&inputs, options)
}

impl InputFile {
    /// A local input file.
    pub fn local(path: PathBuf) -> InputFile {
        let platform_key = path.display().to_string();
        InputFile { path, id: None, platform_key, object: None }
    }
}
