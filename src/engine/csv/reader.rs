//! The CSV reader: opens the inputs, has `schema_head` fix the schema, then runs the stages
//! on threads and hands out the batches in input order.
//!
//! ```text
//!  splitter thread ──chunks──▶ parse workers (one per core) ──batches──▶ next() (in order)
//!        ▲                                                                  │
//!        └──────────────────────── tokens (bound the chunks in flight) ◀────┘
//! ```
//! The token loop keeps memory flat: at most `in_flight` chunks exist at any time, however
//! large the input, and a slow consumer simply pauses the splitter.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema, SchemaRef};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use super::bad_rows::{null_warning, BadRow, ColumnInfo, RejectsWriter};
use super::columns::{parse_chunk, ColumnSpec, NullWarning, ParsedChunk};
use super::decode::Decoder;
use super::fields::{Dialect, Tokenized};
use super::input::{Input, OpenInput};
use super::options::{CsvOptions, OnError};
use super::records::{BufferPool, Chunk, SplitConfig, Splitter};
use super::schema_head::{
    check_same_columns, column_names, column_specs, dialect as field_dialect, read_head, read_sample,
};
use super::sniff::{self, DetectedDialect};
use super::ReadStats;
use crate::schema::type_name;
use crate::{Error, Result};

/// Where the bytes of one input come from.
pub(crate) enum Source {
    Path(PathBuf),
    /// Re-openable, like a file (an object in a bucket).
    Open(Arc<dyn OpenInput>),
    Reader(String, Box<dyn Read + Send>),
}

impl From<Input> for Source {
    fn from(input: Input) -> Source {
        match input {
            Input::File(p) => Source::Path(p),
            Input::Open(o) => Source::Open(o),
        }
    }
}

impl Source {
    pub(crate) fn name(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Open(o) => o.name(),
            Source::Reader(n, _) => n.clone(),
        }
    }
    fn size(&self) -> u64 {
        match self {
            Source::Path(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Source::Open(o) => o.size(),
            Source::Reader(..) => 0,
        }
    }

    /// The same input again, when it can be opened again.
    fn reopenable(self) -> Option<Input> {
        match self {
            Source::Path(p) => Some(Input::File(p)),
            Source::Open(o) => Some(Input::Open(o)),
            Source::Reader(..) => None,
        }
    }
    /// Open the input and detect what the options leave of its dialect unset (from a sample
    /// that the splitter then splits first, so nothing is read twice).
    pub(crate) fn open(self, options: &CsvOptions, pool: &Arc<BufferPool>) -> Result<Opened> {
        let name = self.name();
        let input: Box<dyn Read + Send> = match self {
            Source::Path(p) => Box::new(std::fs::File::open(&p).map_err(|e| Error::io("cannot open", &p, e))?),
            Source::Open(o) => o.open().map_err(|e| Error::io("cannot open", Path::new(&name), e))?,
            Source::Reader(_, r) => r,
        };
        let mut decoder = Decoder::new(input, options.encoding).map_err(|m| Error::Data(format!("{name}: {m}")))?;
        let (sample, dialect) = if options.sniffs() {
            let (sample, at_eof) =
                sniff::read_sample(&mut decoder).map_err(|e| Error::io("cannot read", Path::new(&name), e))?;
            let dialect = sniff::detect(&sample, at_eof, options, &decoder);
            (sample, dialect)
        } else {
            (Vec::new(), DetectedDialect::given(options, &decoder))
        };
        let options = dialect.apply(options);
        let splitter = Splitter::new(decoder, split_config(&options), pool.clone(), &sample);
        Ok(Opened { splitter, options, dialect })
    }
}

/// An input opened for reading, with its dialect resolved.
pub(crate) struct Opened {
    pub(crate) splitter: Splitter,
    /// The reader's options with the detected dialect filled in.
    pub(crate) options: CsvOptions,
    pub(crate) dialect: DetectedDialect,
}

fn split_config(o: &CsvOptions) -> SplitConfig {
    SplitConfig {
        delimiter: o.delimiter().to_vec(),
        terminator: o.terminator().map(<[u8]>::to_vec),
        quote: o.quote(),
        escape: o.escape(),
        comment: o.comment,
        max_line_bytes: o.max_line_bytes,
        skip_rows: o.skip_rows,
    }
}

/// Everything the threads share, read-only.
struct Plan {
    options: CsvOptions,
    columns: Vec<ColumnSpec>,
    schema: SchemaRef,
    dialect: Dialect,
    names: Vec<String>,
    files: Vec<String>,
    pool: Arc<BufferPool>,
}

struct Work {
    seq: u64,
    file: usize,
    encoding: &'static str,
    chunk: Chunk,
}

struct Output {
    file: usize,
    parsed: ParsedChunk,
}

/// Reads one or several CSV inputs as a stream of record batches sharing one schema.
pub struct CsvReader {
    plan: Arc<Plan>,
    stats: Arc<ReadStats>,
    results: Receiver<(u64, Result<Output>)>,
    pending: BTreeMap<u64, Result<Output>>,
    next_seq: u64,
    tokens: Option<Sender<()>>,
    rejects: Option<RejectsWriter>,
    rejected: u64,
    /// Null warnings logged one by one so far (the rest are only counted).
    warned: u64,
    done: bool,
    cancel: Arc<AtomicBool>,
    /// The splitter thread, joined on drop when it reads regular files dativo opened itself:
    /// it holds them open, and whoever drops a reader (or releases its C stream) may delete or
    /// move them next. A pipe or a caller's own `Read` is not waited for: its read may block
    /// without end, or need a lock the dropping thread holds (a Python file object and the GIL).
    split_thread: Option<std::thread::JoinHandle<()>>,
    dialect: DetectedDialect,
}

impl CsvReader {
    /// Open files (all must have the same columns); the schema comes from the options or is
    /// inferred from the first file.
    pub fn open(paths: &[PathBuf], options: CsvOptions) -> Result<Self> {
        if paths.is_empty() {
            return Err(Error::Config("no input files given".into()));
        }
        Self::start(paths.iter().map(|p| Source::Path(p.clone())).collect(), options)
    }

    /// Like [`open`](Self::open), for files and re-openable sources (objects in a bucket).
    pub fn open_inputs(inputs: &[Input], options: CsvOptions) -> Result<Self> {
        if inputs.is_empty() {
            return Err(Error::Config("no input files given".into()));
        }
        Self::start(inputs.iter().cloned().map(Source::from).collect(), options)
    }

    /// Read from any byte source; `name` stands for the file in messages.
    pub fn from_reader(name: &str, input: Box<dyn Read + Send>, options: CsvOptions) -> Result<Self> {
        Self::start(vec![Source::Reader(name.to_string(), input)], options)
    }

    pub fn schema(&self) -> SchemaRef {
        self.plan.schema.clone()
    }

    pub fn stats(&self) -> Arc<ReadStats> {
        self.stats.clone()
    }

    /// The dialect the first input is read with (the other inputs agree with it), what of it
    /// was detected, and the warnings about it.
    pub fn dialect(&self) -> &DetectedDialect {
        &self.dialect
    }

    fn start(sources: Vec<Source>, given: CsvOptions) -> Result<Self> {
        given.validate()?;
        let options = &given;
        let stats = Arc::new(ReadStats::default());
        stats.total_bytes.store(sources.iter().map(Source::size).sum(), Ordering::Relaxed);
        let files: Vec<String> = match &options.file_labels {
            Some(labels) if labels.len() == sources.len() => labels.clone(),
            _ => sources.iter().map(Source::name).collect(),
        };
        // Regular files only: a FIFO (`<(zcat ...)`, /dev/stdin) may block a read without end.
        let own_files = sources.iter().all(|s| matches!(s, Source::Path(p) if p.metadata().is_ok_and(|m| m.is_file())));
        let mut sources = sources.into_iter();
        let first = sources.next().expect("at least one source");
        let pool = Arc::new(BufferPool::default());
        let Opened { mut splitter, options, mut dialect } = first.open(options, &pool)?;
        let head = read_head(&mut splitter, &files[0], &options)?;
        dialect.warnings.extend(sniff::warnings(&files[0], &dialect, &head.names, &options));
        if !dialect.detected.is_empty() {
            log::info!("{}: {}", files[0], dialect.describe());
        }
        for w in &dialect.warnings {
            log::warn!("{w}");
        }

        // Sample for inference; the sampled chunks are parsed first, not read twice.
        let sample = read_sample(&mut splitter, &files[0], &options, head.first_data.into_iter().collect())?;
        let columns = column_specs(&head.names, &sample, &files[0], &options)?;

        // Every other input must have the same columns; check now, before any work.
        let rest: Vec<Source> = sources.collect();
        let mut rest_inputs = Vec::new();
        for (i, src) in rest.into_iter().enumerate() {
            let name = files[i + 1].clone();
            match src.reopenable() {
                Some(input) => {
                    let (names, other) = column_names(input.clone().into(), &given)?;
                    if !dialect.agrees_with(&other) {
                        return Err(Error::Data(format!(
                            "{name}: its dialect differs from {}'s, and all files of a job are read with one: \
                             {}: {}; {name}: {}; set the options that differ in the job (or read the files \
                             in separate jobs)",
                            files[0],
                            files[0],
                            dialect.describe(),
                            other.describe()
                        )));
                    }
                    check_same_columns(&head.names, &names, &files[0], &name)?;
                    rest_inputs.push(input);
                }
                None => return Err(Error::Internal("only the first input can be a stream".into())),
            }
        }

        let schema = Arc::new(Schema::new(
            columns.iter().map(|c| Field::new(&c.name, c.data_type.clone(), c.nullable)).collect::<Vec<_>>(),
        ));
        let rejects = match (options.on_error, &options.rejects_path) {
            (OnError::Reject, Some(p)) => Some(RejectsWriter::create(p)?),
            _ => None,
        };
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let plan = Arc::new(Plan {
            dialect: field_dialect(&options),
            options,
            columns,
            schema,
            names: head.names,
            files,
            pool,
        });
        drop(given);

        let in_flight = threads * 2 + 1;
        let (token_tx, token_rx) = bounded::<()>(in_flight);
        for _ in 0..in_flight {
            token_tx.send(()).expect("token channel has room");
        }
        let (work_tx, work_rx) = unbounded::<Work>();
        let (result_tx, result_rx) = unbounded::<(u64, Result<Output>)>();
        let cancel = Arc::new(AtomicBool::new(false));

        for _ in 0..threads {
            let (work_rx, result_tx, plan) = (work_rx.clone(), result_tx.clone(), plan.clone());
            std::thread::Builder::new()
                .name("dativo-csv-parse".into())
                .spawn(move || parse_worker(work_rx, result_tx, plan))
                .map_err(|e| Error::thread_start("a CSV parse thread", e))?;
        }
        let split_thread = {
            let (plan, stats, cancel) = (plan.clone(), stats.clone(), cancel.clone());
            std::thread::Builder::new()
                .name("dativo-csv-split".into())
                .spawn(move || {
                    let mut feed = Feed {
                        plan: &plan,
                        stats: &stats,
                        cancel: &cancel,
                        tokens: token_rx,
                        work: work_tx,
                        seq: 0,
                        done_bytes: 0,
                    };
                    if let Err(e) = feed.run(splitter, sample, rest_inputs) {
                        let _ = result_tx.send((feed.seq, Err(e)));
                    }
                })
                .map_err(|e| Error::thread_start("the CSV split thread", e))?
        };
        Ok(CsvReader {
            plan,
            stats,
            results: result_rx,
            pending: BTreeMap::new(),
            next_seq: 0,
            tokens: Some(token_tx),
            rejects,
            rejected: 0,
            warned: 0,
            done: false,
            cancel,
            split_thread: own_files.then_some(split_thread),
            dialect,
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.done = true;
        let total = self.stats.warnings.load(Ordering::Relaxed);
        if total > self.warned {
            log::warn!(
                "{} row(s) in all had nulls in columns that should have none ({} described above); they were kept",
                total,
                self.warned
            );
        }
        self.tokens = None;
        if let Some(r) = self.rejects.take() {
            r.finish()?;
        }
        Ok(())
    }

    fn fail(&mut self, e: Error) -> Option<Result<RecordBatch>> {
        self.done = true;
        self.tokens = None;
        self.cancel.store(true, Ordering::Relaxed);
        // Keep what was rejected so far: the user needs it to fix the input.
        if let Some(r) = self.rejects.take() {
            let _ = r.finish();
        }
        Some(Err(e))
    }

    /// Apply `on_error` to the bad rows of one chunk.
    fn handle_bad_rows(&mut self, file: usize, bad: Vec<BadRow>) -> Result<()> {
        let plan = self.plan.clone();
        let o = &plan.options;
        let name = &plan.files[file];
        for b in bad {
            let col = b.column.map(|c| {
                let spec = &plan.columns[c];
                ColumnInfo { name: &spec.name, type_name: type_name(&spec.data_type), pinned: spec.pinned }
            });
            match o.on_error {
                OnError::Fail => return Err(Error::Data(b.message(name, col.as_ref(), o.infer_sample_rows))),
                OnError::Skip => {}
                OnError::Reject => {
                    if let Some(w) = self.rejects.as_mut() {
                        w.write(name, &b, col.as_ref())?;
                    }
                }
            }
            self.rejected += 1;
            self.stats.rows_rejected.fetch_add(1, Ordering::Relaxed);
            if let Some(max) = o.max_rejects {
                if self.rejected > max {
                    return Err(Error::Data(format!(
                        "more than max_rejects ({max}) bad rows; the last one: {}",
                        b.message(name, col.as_ref(), o.infer_sample_rows)
                    )));
                }
            }
        }
        Ok(())
    }
}

impl CsvReader {
    /// Count rows kept with nulls in `warn_null` columns; log the first ones with their place.
    fn report_null_warnings(&mut self, file: usize, warnings: &[NullWarning]) {
        const DESCRIBED: u64 = 10;
        self.stats.warnings.fetch_add(warnings.len() as u64, Ordering::Relaxed);
        for w in warnings {
            if self.warned >= DESCRIBED {
                break;
            }
            self.warned += 1;
            let names: Vec<&str> = w.columns.iter().map(|&c| self.plan.columns[c].name.as_str()).collect();
            log::warn!("{}", null_warning(&self.plan.files[file], w.line, &names));
        }
    }
}

impl Iterator for CsvReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let item = match self.pending.remove(&self.next_seq) {
                Some(item) => item,
                None => match self.results.recv() {
                    Ok((seq, item)) => {
                        self.pending.insert(seq, item);
                        continue;
                    }
                    Err(_) if self.pending.is_empty() => {
                        return match self.finish() {
                            Ok(()) => None,
                            Err(e) => self.fail(e),
                        };
                    }
                    Err(_) => return self.fail(Error::Internal("a parse thread stopped without a result".into())),
                },
            };
            self.next_seq += 1;
            if let Some(t) = &self.tokens {
                let _ = t.send(());
            }
            let out = match item {
                Ok(out) => out,
                Err(e) => return self.fail(e),
            };
            if !out.parsed.bad.is_empty() {
                if let Err(e) = self.handle_bad_rows(out.file, out.parsed.bad) {
                    return self.fail(e);
                }
            }
            self.report_null_warnings(out.file, &out.parsed.null_warnings);
            let batch = out.parsed.batch;
            if batch.num_rows() == 0 {
                continue;
            }
            self.stats.rows_read.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            return Some(Ok(batch));
        }
    }
}

/// A [`CsvReader`] as an Arrow [`RecordBatchReader`](arrow_array::RecordBatchReader), the
/// stream type the rest of the Arrow ecosystem (and dativo's C API) speaks. Errors travel as
/// `ArrowError::ExternalError` holding the original [`Error`]; `Error::from_arrow` gets it back.
pub struct CsvBatchReader(CsvReader);

impl CsvReader {
    pub fn into_record_batch_reader(self) -> CsvBatchReader {
        CsvBatchReader(self)
    }
}

impl Iterator for CsvBatchReader {
    type Item = std::result::Result<RecordBatch, arrow_schema::ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|r| r.map_err(arrow_schema::ArrowError::from))
    }
}

impl arrow_array::RecordBatchReader for CsvBatchReader {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }
}

impl Drop for CsvReader {
    fn drop(&mut self) {
        // The flag and the closed token channel stop the splitter at its next chunk (it may be
        // waiting for a token); the parse workers stop when its work channel closes.
        self.cancel.store(true, Ordering::Relaxed);
        self.tokens = None;
        if let Some(thread) = self.split_thread.take() {
            // At most one chunk's read away; its input file is closed when this returns.
            let _ = thread.join();
        }
    }
}

/// The splitter thread: turns inputs into chunks, one token per chunk.
struct Feed<'a> {
    plan: &'a Plan,
    stats: &'a ReadStats,
    cancel: &'a AtomicBool,
    tokens: Receiver<()>,
    work: Sender<Work>,
    seq: u64,
    /// Raw bytes of the inputs already finished.
    done_bytes: u64,
}

impl Feed<'_> {
    /// Hand one chunk to the workers; false when the reader is gone.
    fn send(&mut self, file: usize, encoding: &'static str, chunk: Chunk) -> bool {
        if self.cancel.load(Ordering::Relaxed) || self.tokens.recv().is_err() {
            return false;
        }
        let ok = self.work.send(Work { seq: self.seq, file, encoding, chunk }).is_ok();
        self.seq += 1;
        ok
    }

    fn run(&mut self, first: Splitter, sample: Vec<Chunk>, rest: Vec<Input>) -> Result<()> {
        let encoding = first.encoding_name();
        for chunk in sample {
            if !self.send(0, encoding, chunk) {
                return Ok(());
            }
        }
        if !self.drain(0, first)? {
            return Ok(());
        }
        for (i, input) in rest.into_iter().enumerate() {
            let file = i + 1;
            let o = &self.plan.options;
            // The options are resolved: nothing is detected again.
            let mut s = Source::from(input).open(o, &self.plan.pool)?.splitter;
            let head = read_head(&mut s, &self.plan.files[file], o)?;
            check_same_columns(&self.plan.names, &head.names, &self.plan.files[0], &self.plan.files[file])?;
            let encoding = s.encoding_name();
            if let Some(chunk) = head.first_data {
                if !self.send(file, encoding, chunk) {
                    return Ok(());
                }
            }
            if !self.drain(file, s)? {
                return Ok(());
            }
        }
        Ok(())
    }

    fn drain(&mut self, file: usize, mut s: Splitter) -> Result<bool> {
        let name = &self.plan.files[file];
        let encoding = s.encoding_name();
        loop {
            let chunk =
                s.next_chunk(self.plan.options.batch_size).map_err(|e| Error::io("cannot read", Path::new(name), e))?;
            self.stats.bytes_read.store(self.done_bytes + s.raw_consumed(), Ordering::Relaxed);
            match chunk {
                Some(c) => {
                    if !self.send(file, encoding, c) {
                        return Ok(false);
                    }
                }
                None => {
                    self.done_bytes += s.raw_consumed();
                    return Ok(true);
                }
            }
        }
    }
}

fn parse_worker(work: Receiver<Work>, results: Sender<(u64, Result<Output>)>, plan: Arc<Plan>) {
    // Reused across chunks, so steady state allocates only the output arrays.
    let mut tokens = Tokenized::default();
    for w in work {
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            parse_chunk(
                &w.chunk,
                &plan.dialect,
                &plan.columns,
                &plan.schema,
                w.encoding,
                plan.options.max_line_bytes,
                &mut tokens,
            )
        }))
        .unwrap_or_else(|panic| {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::Internal(format!(
                "CSV parser panicked on {} near line {}: {msg}",
                plan.files[w.file],
                w.chunk.records.first().map_or(0, |r| r.line)
            )))
        });
        plan.pool.put(w.chunk.data);
        if results.send((w.seq, parsed.map(|parsed| Output { file: w.file, parsed }))).is_err() {
            return;
        }
    }
}
