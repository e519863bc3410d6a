//! Plugins of the legacy Dativo JSON ABI, hosted through an adapter that makes them Arrow
//! streams like every other plugin.
//!
//! The Dativo platform's Python bridge (`rust_plugin_bridge.py`) calls, through ctypes:
//!
//! - readers: `void *create_reader(const char *config_json)`, then
//!   `char *extract_batch(void *reader)` until the end, each string handed back to
//!   `free_string(char *)`, and `free_reader(void *)`;
//! - writers: `void *create_writer(const char *config_json)`,
//!   `char *write_batch(void *writer, const char *batch_json)` with
//!   `{"records": [...], "file_counter": N}`, returning a JSON list of
//!   `{path, size_bytes, record_count}`, `free_string`, and `free_writer(void *)`.
//!
//! The adapter calls exactly these, with these signatures, and:
//!
//! - **Types.** A reader's records become typed Arrow batches. With the job's asset the
//!   batches have the asset's columns and types, every value converted from its JSON (a
//!   string is parsed as the column's type; a value that does not convert is an error naming
//!   the record, the column and the value). Without an asset the types are inferred from the
//!   first batch as the platform would see them: a column whose values are all JSON booleans
//!   is boolean, all integers int64, all numbers double, anything else (strings, mixed values)
//!   string; later batches must fit those types. Column order is the order of the keys.
//! - **End of the data.** As the bridge reads it: `extract_batch` returns NULL, or a JSON
//!   value that is empty or false (`[]`, `null`, ...).
//! - **Errors** are never the end of the data. A plugin that exports `last_error()` is asked
//!   after every call; a message there fails the job with it, whatever the call returned
//!   (so NULL with a message is an error, NULL without one the end). A plugin without
//!   `last_error` can only say it on stderr: what it writes to stderr during a call that
//!   returns NULL fails the job with that text (a NULL in silence is the end). `create_*`
//!   returning NULL, text that is not UTF-8 or not JSON, a batch that is not a list of
//!   records, and `write_batch` returning NULL for records (the bridge would have dropped
//!   them) are errors too.
//! - A writer gets the engine's validated batches as records JSON (timestamps as RFC 3339
//!   text, nulls written out), with `file_counter` counting the files reported so far, as the
//!   platform does. A legacy writer cannot take back files it has written: when the job fails
//!   after some `write_batch` calls, those files stay.

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchReader, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use dativo_engine::job::plugins::PluginKind;
use dativo_engine::parquet::CommittedFile;
use dativo_engine::{Error, Result};

/// The functions a legacy reader exports besides its create function.
pub const READER_FUNCTIONS: [&str; 3] = ["extract_batch", "free_reader", "free_string"];
/// The functions a legacy writer exports besides its create function.
pub const WRITER_FUNCTIONS: [&str; 3] = ["write_batch", "free_writer", "free_string"];
/// The optional function new hosts ask after a call returned NULL.
pub const LAST_ERROR: &str = "last_error";

type CreateFn = unsafe extern "C" fn(*const c_char) -> *mut c_void;
type ExtractFn = unsafe extern "C" fn(*mut c_void) -> *mut c_char;
type WriteFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_char;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type FreeStringFn = unsafe extern "C" fn(*mut c_char);
type LastErrorFn = unsafe extern "C" fn() -> *const c_char;

/// The functions of one legacy plugin, looked up in its (never unloaded) library.
struct Functions {
    create: CreateFn,
    extract_batch: Option<ExtractFn>,
    write_batch: Option<WriteFn>,
    free_handle: FreeFn,
    free_string: FreeStringFn,
    last_error: Option<LastErrorFn>,
}

/// A legacy plugin: a reader or a writer of the JSON ABI.
pub struct LegacyPlugin {
    kind: PluginKind,
    name: String,
    create_symbol: String,
    /// `plugin 'name' (spec)`, which starts every message.
    origin: String,
    functions: Arc<Functions>,
}

impl fmt::Debug for LegacyPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LegacyPlugin({} {})", self.kind.name(), self.origin)
    }
}

impl LegacyPlugin {
    /// Look up the functions of a legacy `kind` plugin whose create function is `create` in
    /// `library` (already checked to export them all). The library is never unloaded.
    ///
    /// # Safety
    /// The symbols must have the legacy ABI's signatures (the host checked that the library
    /// exports the whole legacy set, which is what the Dativo bridge trusts too).
    pub(crate) unsafe fn new(
        library: &libloading::Library,
        path: &Path,
        label: &str,
        kind: PluginKind,
        create: &str,
    ) -> Result<LegacyPlugin> {
        let fail = |why: String| Error::Plugin(format!("plugin {label}: {why}"));
        fn get<T: Copy>(library: &libloading::Library, name: &str) -> Option<T> {
            // SAFETY: the caller vouches for the type.
            unsafe { library.get::<T>(name.as_bytes()).ok().map(|s| *s) }
        }
        let missing = |name: &str| fail(format!("the library exports no symbol '{name}'"));
        let (extract_batch, write_batch, free_handle) = match kind {
            PluginKind::Reader => (
                Some(get::<ExtractFn>(library, "extract_batch").ok_or_else(|| missing("extract_batch"))?),
                None,
                get::<FreeFn>(library, "free_reader").ok_or_else(|| missing("free_reader"))?,
            ),
            PluginKind::Writer => (
                None,
                Some(get::<WriteFn>(library, "write_batch").ok_or_else(|| missing("write_batch"))?),
                get::<FreeFn>(library, "free_writer").ok_or_else(|| missing("free_writer"))?,
            ),
        };
        let functions = Functions {
            create: get::<CreateFn>(library, create).ok_or_else(|| missing(create))?,
            extract_batch,
            write_batch,
            free_handle,
            free_string: get::<FreeStringFn>(library, "free_string").ok_or_else(|| missing("free_string"))?,
            last_error: get::<LastErrorFn>(library, LAST_ERROR),
        };
        let name = library_name(path);
        Ok(LegacyPlugin {
            kind,
            origin: format!("plugin '{name}' ({label})"),
            name,
            create_symbol: create.to_string(),
            functions: Arc::new(functions),
        })
    }

    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    /// The library's file name without `lib` and extension (`csv_reader_plugin`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The create function the host calls (`create_reader`, `create_writer`, or the spec's).
    pub fn create_symbol(&self) -> &str {
        &self.create_symbol
    }

    /// Whether the plugin exports `last_error`.
    pub fn has_last_error(&self) -> bool {
        self.functions.last_error.is_some()
    }

    fn plugin_error(&self, message: &str) -> Error {
        Error::Plugin(format!("{}: {}", self.origin, message.trim_end()))
    }

    /// `create_*(config_json)`: the handle, or the plugin's reason for NULL.
    fn create(&self, config_json: &str) -> Result<Handle> {
        let config = CString::new(config_json)
            .map_err(|_| Error::Config("the plugin config contains a NUL character".into()))?;
        let functions = &self.functions;
        // SAFETY: the legacy ABI's create function takes a C string and returns a handle.
        let (handle, error, said) = call(functions, || unsafe { (functions.create)(config.as_ptr()) });
        if let Some(message) = error {
            if !handle.is_null() {
                // SAFETY: a handle from create, freed once.
                unsafe { (functions.free_handle)(handle) };
            }
            return Err(self.plugin_error(&message));
        }
        if handle.is_null() {
            let why = match said.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(text) => text.to_string(),
                None => "returned NULL without saying why".to_string(),
            };
            return Err(self.plugin_error(&format!("{} failed: {why}", self.create_symbol)));
        }
        Ok(Handle { functions: functions.clone(), raw: handle })
    }

    /// A reader's data for `config_json` as Arrow batches: of `expected`'s columns and types
    /// when given (the job's asset), else inferred from the first batch.
    pub fn open_reader(&self, config_json: &str, expected: Option<SchemaRef>) -> Result<LegacyStream> {
        self.expect(PluginKind::Reader)?;
        let handle = self.create(config_json)?;
        let mut stream = LegacyStream {
            handle,
            origin: self.origin.clone(),
            schema: Arc::new(Schema::empty()),
            index: HashMap::new(),
            inferred: expected.is_none(),
            pending: None,
            done: false,
            rows: 0,
        };
        match expected {
            Some(schema) => {
                // Nullable: the engine checks required columns with its own messages.
                let fields: Vec<Field> =
                    schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
                stream.set_schema(Arc::new(Schema::new(fields)));
            }
            None => match stream.fetch()? {
                Some(records) => {
                    stream.set_schema(infer_schema(&records));
                    stream.pending = Some(records);
                }
                None => stream.done = true,
            },
        }
        Ok(stream)
    }

    /// Hand `input` to a writer: one `write_batch` per batch; the files it reported.
    pub fn write(&self, config_json: &str, input: Box<dyn RecordBatchReader + Send>) -> Result<Vec<CommittedFile>> {
        self.expect(PluginKind::Writer)?;
        let handle = self.create(config_json)?;
        let write_batch = self.functions.write_batch.expect("a writer has write_batch");
        let mut files = Vec::new();
        for batch in input {
            let batch = batch.map_err(Error::from_arrow)?;
            if batch.num_rows() == 0 {
                continue;
            }
            let records =
                records_json(&batch).map_err(|e| self.plugin_error(&format!("cannot convert a batch: {e}")))?;
            let request = format!("{{\"records\": {records}, \"file_counter\": {}}}", files.len());
            let request = CString::new(request).map_err(|_| Error::Data("a value contains a NUL character".into()))?;
            let functions = &self.functions;
            // SAFETY: the legacy signature; the handle is live, the request a C string.
            let (result, error, said) = call(functions, || unsafe { write_batch(handle.raw, request.as_ptr()) });
            let text = take_string(functions, result);
            if let Some(message) = error {
                return Err(self.plugin_error(&message));
            }
            let Some(text) = text else {
                let why = said.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(
                    "it reported no file for them (the Dativo bridge would have dropped these rows silently)",
                );
                return Err(
                    self.plugin_error(&format!("write_batch returned NULL for {} records: {why}", batch.num_rows()))
                );
            };
            let reported =
                parse_files(&text).map_err(|why| self.plugin_error(&format!("write_batch returned {why}")))?;
            files.extend(reported);
        }
        Ok(files)
    }

    fn expect(&self, kind: PluginKind) -> Result<()> {
        if self.kind == kind {
            return Ok(());
        }
        Err(Error::Plugin(format!("{} is a {}, not a {}", self.origin, self.kind.name(), kind.name())))
    }
}

/// A handle from `create_*`, freed with `free_reader` / `free_writer` when dropped.
struct Handle {
    functions: Arc<Functions>,
    raw: *mut c_void,
}

// SAFETY: the legacy ABI has no thread affinity (the bridge calls from whatever thread runs
// the job); one caller at a time, as a `Handle` is only used through `&mut` or by its owner.
unsafe impl Send for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: a live handle from create, freed once.
        unsafe { (self.functions.free_handle)(self.raw) };
    }
}

/// A legacy reader's batches as a `RecordBatchReader`.
pub struct LegacyStream {
    handle: Handle,
    origin: String,
    schema: SchemaRef,
    index: HashMap<String, usize>,
    /// The schema was inferred (no asset): a column the first batch did not have is an error.
    inferred: bool,
    /// The batch read to infer the schema.
    pending: Option<Vec<Record>>,
    /// After the end or an error nothing is called again.
    done: bool,
    /// Records delivered so far, for messages.
    rows: u64,
}

impl fmt::Debug for LegacyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LegacyStream({})", self.origin)
    }
}

impl LegacyStream {
    fn set_schema(&mut self, schema: SchemaRef) {
        self.index = schema.fields().iter().enumerate().map(|(i, f)| (f.name().clone(), i)).collect();
        self.schema = schema;
    }

    fn error(&self, message: &str) -> Error {
        Error::Plugin(format!("{}: {}", self.origin, message.trim_end()))
    }

    /// One `extract_batch`: its records, None at the end.
    fn fetch(&mut self) -> Result<Option<Vec<Record>>> {
        let functions = &self.handle.functions;
        let extract = functions.extract_batch.expect("a reader has extract_batch");
        let raw = self.handle.raw;
        // SAFETY: the legacy signature; the handle is live.
        let (result, error, said) = call(functions, || unsafe { extract(raw) });
        let bytes = take_string(functions, result);
        if let Some(message) = error {
            return Err(self.error(&message));
        }
        let Some(text) = bytes else {
            return match said.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                // No last_error to ask: what it said on stderr is all there is.
                Some(text) => Err(self.error(&format!("extract_batch returned NULL after writing to stderr: {text}"))),
                None => Ok(None),
            };
        };
        let value: Batch = serde_json::from_str(&text).map_err(|e| {
            self.error(&format!(
                "extract_batch returned text that is not a JSON list of records ({e}): {}",
                snippet(&text)
            ))
        })?;
        match value {
            Batch::End => Ok(None),
            Batch::Records(records) => Ok(Some(records)),
            Batch::Other(v) => Err(self.error(&format!(
                "extract_batch returned {} where a JSON list of records was expected: {}",
                json_kind(&v),
                snippet(&text)
            ))),
        }
    }

    /// `records` as a batch of the stream's schema.
    fn convert(&self, records: &[Record]) -> Result<RecordBatch> {
        let columns = self.schema.fields().len();
        let mut values: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(records.len()); columns];
        for (n, record) in records.iter().enumerate() {
            let Record::Object(pairs) = record else {
                return Err(self.error(&format!(
                    "record {} is {}, not a JSON object",
                    self.rows + n as u64 + 1,
                    json_kind(record.value())
                )));
            };
            let mut row: Vec<Option<String>> = vec![None; columns];
            for (key, value) in pairs {
                match self.index.get(key) {
                    Some(&i) => row[i] = text_of(value),
                    None if self.inferred => {
                        return Err(self.error(&format!(
                            "record {} has a column '{key}' the first batch did not have; give the job an asset \
                             that lists every column",
                            self.rows + n as u64 + 1
                        )))
                    }
                    None => {} // not in the asset
                }
            }
            for (column, value) in values.iter_mut().zip(row) {
                column.push(value);
            }
        }
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns);
        for (field, texts) in self.schema.fields().iter().zip(values) {
            let strings = StringArray::from(texts);
            if field.data_type() == &DataType::Utf8 {
                arrays.push(Arc::new(strings));
                continue;
            }
            let typed = cast_text(&strings, field.data_type())
                .map_err(|e| self.error(&format!("column '{}': {e}", field.name())))?;
            // A safe cast turns a value that does not convert into a null: find it.
            if typed.null_count() != strings.null_count() {
                let i = (0..strings.len()).find(|&i| strings.is_valid(i) && typed.is_null(i)).unwrap_or(0);
                return Err(Error::Data(format!(
                    "{}: record {}: column '{}': '{}' is not a valid {}",
                    self.origin,
                    self.rows + i as u64 + 1,
                    field.name(),
                    strings.value(i),
                    dativo_engine::schema::asset::type_name(field.data_type())
                )));
            }
            arrays.push(typed);
        }
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(records.len()));
        Ok(RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)?)
    }
}

impl Iterator for LegacyStream {
    type Item = std::result::Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let records = match self.pending.take().map(|r| Ok(Some(r))).unwrap_or_else(|| self.fetch()) {
            Ok(Some(records)) => records,
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(ArrowError::from(e)));
            }
        };
        match self.convert(&records) {
            Ok(batch) => {
                self.rows += batch.num_rows() as u64;
                Some(Ok(batch))
            }
            Err(e) => {
                self.done = true;
                Some(Err(ArrowError::from(e)))
            }
        }
    }
}

impl RecordBatchReader for LegacyStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// Runs one legacy call: its result, the message `last_error()` has after it (when the plugin
/// exports it), and, for a plugin without `last_error`, what it wrote to stderr during the call
/// (also passed on to stderr).
fn call<T>(functions: &Functions, body: impl FnOnce() -> T) -> (T, Option<String>, Option<String>) {
    if let Some(last_error) = functions.last_error {
        let result = body();
        // SAFETY: `last_error()` returns NULL or a C string valid until the next call.
        let message = unsafe {
            let p = last_error();
            (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
        };
        return (result, message, None);
    }
    let (result, said) = stderr::capture(body);
    (result, None, said)
}

/// The text of a string the plugin returned, handed back to its `free_string`.
fn take_string(functions: &Functions, p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string from the plugin, freed once by its own free_string.
    let bytes = unsafe { CStr::from_ptr(p).to_bytes().to_vec() };
    unsafe { (functions.free_string)(p) };
    Some(match String::from_utf8(bytes) {
        Ok(text) => text,
        // Never the end of the data (the bridge stops there): JSON parsing will report it.
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// A batch as the bridge reads it: `if not batch: break`.
enum Batch {
    End,
    Records(Vec<Record>),
    Other(Value),
}

/// One record: an object with its keys in order, or anything else (an error).
enum Record {
    Object(Vec<(String, Value)>),
    Other(Value),
}

impl Record {
    fn value(&self) -> &Value {
        match self {
            Record::Object(_) => &Value::Null,
            Record::Other(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Batch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON list of records")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Batch, A::Error> {
                let mut records = Vec::new();
                while let Some(r) = seq.next_element::<Record>()? {
                    records.push(r);
                }
                Ok(if records.is_empty() { Batch::End } else { Batch::Records(records) })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Batch, A::Error> {
                let v = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(if v.as_object().is_some_and(|m| m.is_empty()) { Batch::End } else { Batch::Other(v) })
            }
            fn visit_unit<E>(self) -> std::result::Result<Batch, E> {
                Ok(Batch::End)
            }
            fn visit_none<E>(self) -> std::result::Result<Batch, E> {
                Ok(Batch::End)
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<Batch, E> {
                Ok(if v { Batch::Other(Value::Bool(v)) } else { Batch::End })
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<Batch, E> {
                Ok(if v == 0 { Batch::End } else { Batch::Other(v.into()) })
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<Batch, E> {
                Ok(if v == 0 { Batch::End } else { Batch::Other(v.into()) })
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<Batch, E> {
                Ok(if v == 0.0 { Batch::End } else { Batch::Other(v.into()) })
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Batch, E> {
                Ok(if v.is_empty() { Batch::End } else { Batch::Other(v.into()) })
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Record;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a record (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Record, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    pairs.push((k, v));
                }
                Ok(Record::Object(pairs))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Record, A::Error> {
                Ok(Record::Other(Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?))
            }
            fn visit_unit<E>(self) -> std::result::Result<Record, E> {
                Ok(Record::Other(Value::Null))
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<Record, E> {
                Ok(Record::Other(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<Record, E> {
                Ok(Record::Other(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<Record, E> {
                Ok(Record::Other(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<Record, E> {
                Ok(Record::Other(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Record, E> {
                Ok(Record::Other(v.into()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `strings` cast to `to` (a value that does not convert becomes a null). Timestamps in the
/// zone named UTC are parsed in the offset zone arrow-cast understands without chrono-tz,
/// then labelled UTC again (the instants are the same).
fn cast_text(strings: &StringArray, to: &DataType) -> std::result::Result<ArrayRef, ArrowError> {
    match to {
        DataType::Timestamp(unit, Some(zone)) if zone.eq_ignore_ascii_case("utc") => {
            let offset = DataType::Timestamp(*unit, Some("+00:00".into()));
            let typed = arrow_cast::cast(strings, &offset)?;
            Ok(arrow_array::make_array(typed.to_data().into_builder().data_type(to.clone()).build()?))
        }
        _ => arrow_cast::cast(strings, to),
    }
}

/// A value as the text the column parses: strings as they are, other values as JSON.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The schema the platform would see in the first batch: boolean, int64 or double columns
/// when every value is a JSON value of that kind, string otherwise.
fn infer_schema(records: &[Record]) -> SchemaRef {
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Unknown,
        Bool,
        Int,
        Float,
        Text,
    }
    let mut names: Vec<String> = Vec::new();
    let mut kinds: Vec<Kind> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for record in records {
        let Record::Object(pairs) = record else { continue };
        for (key, value) in pairs {
            let i = *index.entry(key.clone()).or_insert_with(|| {
                names.push(key.clone());
                kinds.push(Kind::Unknown);
                names.len() - 1
            });
            let kind = match value {
                Value::Null => continue,
                Value::Bool(_) => Kind::Bool,
                Value::Number(n) if n.is_i64() => Kind::Int,
                Value::Number(_) => Kind::Float,
                _ => Kind::Text,
            };
            kinds[i] = match (kinds[i], kind) {
                (Kind::Unknown, k) => k,
                (a, b) if a == b => a,
                (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => Kind::Float,
                _ => Kind::Text,
            };
        }
    }
    let fields: Vec<Field> = names
        .into_iter()
        .zip(kinds)
        .map(|(name, kind)| {
            let data_type = match kind {
                Kind::Bool => DataType::Boolean,
                Kind::Int => DataType::Int64,
                Kind::Float => DataType::Float64,
                Kind::Unknown | Kind::Text => DataType::Utf8,
            };
            Field::new(name, data_type, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The time zone dativo gives every timestamp column.
pub const UTC: &str = "UTC";
/// The same zone as an offset: arrow-json built without chrono-tz (as here and in the
/// example plugins, to keep them small) formats and parses only offset zones.
pub const UTC_OFFSET: &str = "+00:00";

/// `schema` with every timestamp column in zone `from` moved to zone `to` (same instants).
pub fn relabel_schema(schema: &arrow_schema::Schema, from: &str, to: &str) -> arrow_schema::SchemaRef {
    let fields: Vec<arrow_schema::Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(relabel_type(f.data_type(), from, to)))
        .collect();
    std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn relabel_type(data_type: &arrow_schema::DataType, from: &str, to: &str) -> arrow_schema::DataType {
    match data_type {
        arrow_schema::DataType::Timestamp(unit, Some(zone)) if zone.as_ref() == from => {
            arrow_schema::DataType::Timestamp(*unit, Some(to.into()))
        }
        other => other.clone(),
    }
}

/// `batch` with every timestamp column in zone `from` moved to zone `to`: only the label
/// changes, the stored instants (UTC-based in Arrow) stay as they are.
pub fn relabel_batch(
    batch: &arrow_array::RecordBatch,
    from: &str,
    to: &str,
) -> Result<arrow_array::RecordBatch, arrow_schema::ArrowError> {
    let schema = relabel_schema(&batch.schema(), from, to);
    if schema == batch.schema() {
        return Ok(batch.clone());
    }
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (column, field) in batch.columns().iter().zip(schema.fields()) {
        if column.data_type() == field.data_type() {
            columns.push(column.clone());
        } else {
            let data = column.to_data().into_builder().data_type(field.data_type().clone()).build()?;
            columns.push(arrow_array::make_array(data));
        }
    }
    arrow_array::RecordBatch::try_new(schema, columns)
}

/// The batch as a JSON list of records with every column (nulls written out); timestamps in
/// UTC as RFC 3339 text.
fn records_json(batch: &RecordBatch) -> std::result::Result<String, ArrowError> {
    // arrow-json formats zone offsets, not zone names: "UTC" becomes "+00:00" (same instants).
    let batch = relabel_batch(batch, UTC, UTC_OFFSET)?;
    let mut writer = arrow_json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow_json::writer::JsonArray>(Vec::new());
    writer.write(&batch)?;
    writer.finish()?;
    String::from_utf8(writer.into_inner()).map_err(|e| ArrowError::JsonError(e.to_string()))
}

/// The files of `write_batch`'s answer: a list of (or one) `{path, size_bytes, record_count}`.
fn parse_files(text: &str) -> std::result::Result<Vec<CommittedFile>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("text that is not JSON ({e}): {}", snippet(text)))?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(_) => vec![value],
        Value::Null => Vec::new(),
        other => return Err(format!("{} where a list of files was expected: {}", json_kind(&other), snippet(text))),
    };
    let mut files = Vec::with_capacity(items.len());
    for item in items {
        let Some(path) = item.get("path").and_then(Value::as_str) else {
            return Err(format!("a file without a \"path\": {}", snippet(&item.to_string())));
        };
        let number = |key: &str| item.get(key).and_then(Value::as_u64).unwrap_or(0);
        files.push(CommittedFile {
            path: PathBuf::from(path),
            rows: number("record_count"),
            bytes: number("size_bytes"),
        });
    }
    Ok(files)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The start of a long text, for messages.
fn snippet(text: &str) -> String {
    const MAX: usize = 300;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// `libcsv_reader_plugin.so` -> `csv_reader_plugin`.
fn library_name(path: &Path) -> String {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = file.split('.').next().unwrap_or(&file);
    let stem = stem.strip_prefix("lib").unwrap_or(stem);
    if stem.is_empty() {
        file
    } else {
        stem.to_string()
    }
}

/// What a plugin without `last_error` writes to stderr during a call: the only way it can say
/// that a NULL is an error.
mod stderr {
    /// Run `body` with file descriptor 2 pointed at a temporary file; its result and what was
    /// written (also copied to the real stderr afterwards). This process's own Rust writers to
    /// stderr wait for the call (the stderr lock is held), so their lines are not taken for
    /// the plugin's.
    #[cfg(unix)]
    pub fn capture<T>(body: impl FnOnce() -> T) -> (T, Option<String>) {
        use std::io::{Read, Seek, Write};
        use std::os::fd::AsRawFd;
        let lock = std::io::stderr().lock();
        let Ok(mut file) = tempfile_in_tmp() else { return (body(), None) };
        // SAFETY: plain descriptor calls; fd 2 is restored before anything else writes.
        let saved = unsafe { libc::dup(2) };
        if saved < 0 || unsafe { libc::dup2(file.as_raw_fd(), 2) } < 0 {
            if saved >= 0 {
                unsafe { libc::close(saved) };
            }
            return (body(), None);
        }
        let result = body();
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::dup2(saved, 2);
            libc::close(saved);
        }
        drop(lock);
        let mut text = String::new();
        let said = file.rewind().and_then(|_| file.read_to_string(&mut text)).ok().filter(|_| !text.is_empty());
        if said.is_some() {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
        (result, said.map(|_| text))
    }

    #[cfg(not(unix))]
    pub fn capture<T>(body: impl FnOnce() -> T) -> (T, Option<String>) {
        (body(), None)
    }

    /// An anonymous file: created in the temporary folder and unlinked at once.
    #[cfg(unix)]
    fn tempfile_in_tmp() -> std::io::Result<std::fs::File> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(".dativo-plugin-stderr-{}-{n}", std::process::id()));
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        let _ = std::fs::remove_file(&path);
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<Record> {
        match serde_json::from_str::<Batch>(text).unwrap() {
            Batch::Records(r) => r,
            _ => panic!("not records"),
        }
    }

    #[test]
    fn the_end_of_the_data_is_what_the_bridge_stops_at() {
        for end in ["[]", "null", "{}", "false", "0", "\"\""] {
            assert!(matches!(serde_json::from_str::<Batch>(end).unwrap(), Batch::End), "{end}");
        }
        for other in ["{\"a\": 1}", "true", "1", "\"x\""] {
            assert!(matches!(serde_json::from_str::<Batch>(other).unwrap(), Batch::Other(_)), "{other}");
        }
        assert!(serde_json::from_str::<Batch>("dativo error: boom").is_err());
    }

    #[test]
    fn inference_keeps_key_order_and_types_only_uniform_json_values() {
        let schema = infer_schema(&records(
            r#"[{"z": 1, "a": "x", "m": true, "f": 1, "n": null, "mixed": 1},
                {"z": 2, "a": "1.50", "m": false, "f": 2.5, "n": null, "mixed": "two"}]"#,
        ));
        let got: Vec<(String, DataType)> =
            schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
        assert_eq!(
            got,
            vec![
                ("z".into(), DataType::Int64),
                ("a".into(), DataType::Utf8),
                ("m".into(), DataType::Boolean),
                ("f".into(), DataType::Float64),
                ("n".into(), DataType::Utf8),
                ("mixed".into(), DataType::Utf8),
            ]
        );
    }

    #[test]
    fn library_names_drop_lib_and_extensions() {
        assert_eq!(library_name(Path::new("target/release/libcsv_reader_plugin.so")), "csv_reader_plugin");
        assert_eq!(library_name(Path::new("/lib/libc.so.6")), "c");
        assert_eq!(library_name(Path::new("plugin.so")), "plugin");
    }

    #[test]
    fn write_batch_answers_are_files() {
        let files = parse_files(r#"[{"path": "/o/part-00000.parquet", "size_bytes": 10, "record_count": 2}]"#).unwrap();
        assert_eq!(files[0].rows, 2);
        assert_eq!(files[0].bytes, 10);
        assert_eq!(parse_files(r#"{"path": "/o/x"}"#).unwrap().len(), 1);
        assert!(parse_files("dativo error: no").unwrap_err().contains("not JSON"));
        assert!(parse_files(r#"[{"size_bytes": 1}]"#).unwrap_err().contains("path"));
    }
}
