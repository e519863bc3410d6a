//! The reader and the writer on two threads, joined by a bounded channel.
//!
//! A producer thread pulls items from the source (for a job: the CSV reader), turns each into
//! a record batch with a per-batch transform (the asset projection and checks) and sends it;
//! the calling thread writes the batches into the sink and reports progress. The channel
//! holds a few batches, so memory stays flat however large the input is.
//!
//! Failure on either side stops the other promptly: a writer error sets a stop flag and drops
//! the receiver (a producer blocked on a full channel wakes up); a source error is sent as the
//! last item. The sink is then aborted, so no output file appears, and the first real error is
//! returned — never a secondary "channel closed". A panic in the producer thread becomes
//! [`Error::Internal`]; it never propagates as a panic.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;

use crate::parquet::{CommittedFile, ParquetSink};
use crate::{Error, Result};

/// Batches in flight between the threads.
pub const CHANNEL_CAPACITY: usize = 2;

/// Minimum time between two progress callbacks.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Where batches go.
pub trait Sink {
    /// What a successful `finish` returns.
    type Output;
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    /// Commits everything written.
    fn finish(self) -> Result<Self::Output>;
    /// Discards everything written; nothing becomes visible.
    fn abort(self);
}

impl Sink for ParquetSink {
    type Output = Vec<CommittedFile>;
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        ParquetSink::write(self, batch)
    }
    fn finish(self) -> Result<Vec<CommittedFile>> {
        ParquetSink::finish(self)
    }
    fn abort(self) {
        ParquetSink::abort(self)
    }
}

/// What a successful run returns.
#[derive(Debug)]
pub struct Outcome<T> {
    /// The sink's `finish` result.
    pub output: T,
    /// Rows written into the sink.
    pub rows: u64,
    /// Batches written into the sink (empty batches are skipped).
    pub batches: u64,
}

/// Run `source` through `transform` (on a producer thread) into `sink` (on this thread).
///
/// `progress` is called with the number of rows written so far, at most every
/// [`PROGRESS_INTERVAL`], and once more when all rows are written (before `finish`).
pub fn run<T, I, F, S>(
    source: I,
    mut transform: F,
    mut sink: S,
    progress: &mut dyn FnMut(u64),
) -> Result<Outcome<S::Output>>
where
    T: Send,
    I: Iterator<Item = Result<T>> + Send,
    F: FnMut(T) -> Result<RecordBatch> + Send,
    S: Sink,
{
    let stop = AtomicBool::new(false);
    let (tx, rx) = crossbeam_channel::bounded::<Result<RecordBatch>>(CHANNEL_CAPACITY);

    let (written, producer) = std::thread::scope(|scope| {
        let stop = &stop;
        let producer = std::thread::Builder::new().name("dativo-reader".into()).spawn_scoped(scope, move || {
            for item in source {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let batch = item.and_then(&mut transform);
                let failed = batch.is_err();
                // A send error means the writer stopped; its error is the one reported.
                if tx.send(batch).is_err() || failed {
                    return;
                }
            }
        });
        let producer = match producer {
            Ok(handle) => handle,
            Err(e) => return (Err(Error::thread_start("the reader thread", e)), Ok(())),
        };

        let mut rows = 0u64;
        let mut batches = 0u64;
        let mut last_progress = Instant::now();
        let written: Result<(u64, u64)> = loop {
            match rx.recv() {
                Ok(Ok(batch)) => {
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    if let Err(e) = sink.write(&batch) {
                        break Err(e);
                    }
                    rows += batch.num_rows() as u64;
                    batches += 1;
                    if last_progress.elapsed() >= PROGRESS_INTERVAL {
                        progress(rows);
                        last_progress = Instant::now();
                    }
                }
                Ok(Err(e)) => break Err(e),
                // The producer is gone: the source is exhausted, or it panicked (see join).
                Err(_) => break Ok((rows, batches)),
            }
        };
        if written.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        drop(rx);
        let joined = producer.join().map_err(|payload| {
            Error::Internal(format!("the reader thread panicked: {}", panic_message(payload.as_ref())))
        });
        (written, joined)
    });

    let (rows, batches) = match (written, producer) {
        // A source error is sent by the producer, so it is the first error in either case.
        (Err(e), _) => {
            sink.abort();
            return Err(e);
        }
        (Ok(_), Err(panic)) => {
            sink.abort();
            return Err(panic);
        }
        (Ok(counts), Ok(())) => counts,
    };
    progress(rows);
    let output = sink.finish()?;
    Ok(Outcome { output, rows, batches })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet::ParquetOptions;
    use arrow_array::Int64Array;
    use arrow_schema::{DataType, Field, Schema, SchemaRef};
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Mutex};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
    }

    fn batch(start: i64, len: i64) -> RecordBatch {
        RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from_iter_values(start..start + len))]).unwrap()
    }

    fn batches(n: usize) -> impl Iterator<Item = Result<RecordBatch>> + Send {
        (0..n).map(|i| Ok(batch(i as i64 * 10, 10)))
    }

    /// Records what happened to it.
    #[derive(Clone, Default)]
    struct Recorder {
        rows: Arc<Mutex<Vec<i64>>>,
        state: Arc<Mutex<&'static str>>,
        fail_at_write: Option<usize>,
        writes: Arc<AtomicUsize>,
    }

    impl Sink for Recorder {
        type Output = usize;
        fn write(&mut self, b: &RecordBatch) -> Result<()> {
            let n = self.writes.fetch_add(1, Ordering::SeqCst);
            if Some(n) == self.fail_at_write {
                return Err(Error::Data("disk said no".into()));
            }
            let col = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            self.rows.lock().unwrap().extend(col.values().iter());
            Ok(())
        }
        fn finish(self) -> Result<usize> {
            *self.state.lock().unwrap() = "finished";
            Ok(self.rows.lock().unwrap().len())
        }
        fn abort(self) {
            *self.state.lock().unwrap() = "aborted";
        }
    }

    fn parquet_files(dir: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn all_batches_in_order_with_transform() {
        let sink = Recorder::default();
        let mut calls = 0;
        let out = run(batches(50), |b: RecordBatch| Ok(b), sink.clone(), &mut |_| calls += 1).unwrap();
        assert_eq!((out.output, out.rows, out.batches), (500, 500, 50));
        assert_eq!(*sink.rows.lock().unwrap(), (0..500).collect::<Vec<i64>>());
        assert_eq!(*sink.state.lock().unwrap(), "finished");
        assert!(calls >= 1);
    }

    #[test]
    fn source_items_can_be_anything_the_transform_understands() {
        let source = (0..3).map(|i| Ok((i, 5i64)));
        let out = run(source, |(i, n): (i64, i64)| Ok(batch(i * 100, n)), Recorder::default(), &mut |_| {}).unwrap();
        assert_eq!(out.rows, 15);
    }

    #[test]
    fn source_error_mid_stream_aborts_and_is_returned() {
        let sink = Recorder::default();
        let source =
            batches(3).chain(std::iter::once(Err(Error::Data("in.csv: line 40: bad".into())))).chain(batches(100));
        let e = run(source, Ok, sink.clone(), &mut |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "in.csv: line 40: bad");
        assert_eq!(*sink.state.lock().unwrap(), "aborted");
        assert_eq!(sink.rows.lock().unwrap().len(), 30);
    }

    #[test]
    fn transform_error_is_returned() {
        let sink = Recorder::default();
        let mut n = 0;
        let e = run(
            batches(10),
            move |b| {
                n += 1;
                if n == 4 {
                    Err(Error::Schema("column x missing".into()))
                } else {
                    Ok(b)
                }
            },
            sink.clone(),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(e, Error::Schema(_)));
        assert_eq!(*sink.state.lock().unwrap(), "aborted");
    }

    #[test]
    fn sink_error_stops_the_producer() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let p = pulled.clone();
        // An endless source: only the stop signal ends it.
        let source = (0..).map(move |i| {
            p.fetch_add(1, Ordering::SeqCst);
            Ok(batch(i, 1))
        });
        let sink = Recorder { fail_at_write: Some(2), ..Default::default() };
        let e = run(source, Ok, sink.clone(), &mut |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "disk said no");
        assert_eq!(*sink.state.lock().unwrap(), "aborted");
        // Bounded channel: the producer cannot have run far ahead.
        assert!(pulled.load(Ordering::SeqCst) <= 3 + CHANNEL_CAPACITY + 2);
    }

    #[test]
    fn producer_panic_becomes_internal_error() {
        let sink = Recorder::default();
        let source = batches(2).chain((0..1).map(|_| -> Result<RecordBatch> { panic!("boom in reader") }));
        let e = run(source, Ok, sink.clone(), &mut |_| {}).unwrap_err();
        assert!(matches!(e, Error::Internal(_)), "{e:?}");
        assert!(e.to_string().contains("boom in reader"), "{e}");
        assert_eq!(*sink.state.lock().unwrap(), "aborted");
    }

    #[test]
    fn empty_source_finishes() {
        let out = run(batches(0), Ok, Recorder::default(), &mut |_| {}).unwrap();
        assert_eq!((out.rows, out.batches), (0, 0));
    }

    #[test]
    fn parquet_source_error_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("out");
        let sink = ParquetSink::create(&out_dir, schema(), ParquetOptions::default()).unwrap();
        let source = batches(5).chain(std::iter::once(Err(Error::Data("broken row".into()))));
        let e = run(source, Ok, sink, &mut |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "broken row");
        let files = if out_dir.exists() { parquet_files(&out_dir) } else { vec![] };
        assert!(files.iter().all(|f| !f.ends_with(".parquet")), "{files:?}");
        assert!(files.iter().all(|f| !f.ends_with(".tmp")), "{files:?}");
    }

    #[test]
    fn parquet_success_commits_files() {
        let dir = tempfile::tempdir().unwrap();
        let sink = ParquetSink::create(dir.path(), schema(), ParquetOptions::default()).unwrap();
        let out = run(batches(5), Ok, sink, &mut |_| {}).unwrap();
        assert_eq!(out.rows, 50);
        assert_eq!(out.output.len(), 1);
        assert_eq!(out.output[0].rows, 50);
        assert_eq!(out.output[0].bytes, out.output[0].path.metadata().unwrap().len());
    }
}
