//! Log lines written off the request's thread.
//!
//! A line written where it is made, on the request's own thread and under
//! the lock of standard output, makes the request wait for the stream: a
//! slow terminal or a full pipe slows every request down with it. So each
//! standard stream a log format writes to has a worker thread of its own
//! (tracing-appender's non-blocking writer): making a line only queues it,
//! and the worker writes the lines out, in order.
//!
//! The choice is to be **lossy**: a request never waits for a log line.
//! When a worker's queue holds [`BUFFERED_LINES`] lines already, the next
//! line is dropped and counted, and `GET /metrics` serves the count as
//! `log_lines_dropped_total` ([`crate::metrics`]). `LOG_LOSSLESS=1`
//! chooses back-pressure instead, for those who would rather wait than
//! lose a line: a line waits for room in the queue, and so does the
//! request that makes it.
//!
//! [`LogWriters`] keeps the workers. [`crate::Guard`] drops them once the
//! spans are flushed, before it writes its report (the last line a service
//! writes): each worker then writes out the lines it still holds
//! (tracing-appender waits up to a second for it) and stops.

use std::fmt;
use std::io::{BufWriter, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::OptionalWriter;

use crate::LogFormat;

/// How many lines a worker's queue holds before the next is dropped (or,
/// lossless, waits): tracing-appender's default. Lines queue up only while
/// the stream is behind. Under the throughput benchmark's load the busiest
/// service (the inventory) makes about 4,000 lines a second, so a terminal
/// or a log shipper that stalls for half a minute costs no line; the price
/// is memory while the stall lasts, at most some 40 MB of console lines
/// (about 300 bytes each) or 95 MB of JSON ones (about 750), besides the
/// queue's own 4 MB a stream.
pub const BUFFERED_LINES: usize = 128_000;

/// The counter of dropped lines on `GET /metrics`, served as
/// `log_lines_dropped_total`.
pub const DROPPED_METRIC: &str = "log_lines_dropped";

/// The workers of the standard streams a log format writes to, each with
/// the writer that queues lines for it: what [`crate::subscriber`] writes
/// through. Keep them as long as the subscriber is in use: dropping them
/// has each worker write out the lines it still holds, and stop.
#[must_use = "dropping the log writers stops them: keep them as long as the subscriber"]
pub struct LogWriters {
    /// Log lines, and the console format's action records.
    stdout: Option<Worker>,
    /// The JSON format's action records.
    stderr: Option<Worker>,
}

impl LogWriters {
    /// A worker for each stream `format` writes to: standard output for
    /// console lines; standard output and standard error for JSON (one
    /// schema a stream); none when the logs are off.
    pub(crate) fn start(format: LogFormat, lossless: bool) -> Self {
        let stdout = || Worker::start("log-stdout", std::io::stdout(), lossless);
        let stderr = || Worker::start("log-stderr", std::io::stderr(), lossless);
        let (stdout, stderr) = match format {
            LogFormat::Console => (Some(stdout()), None),
            LogFormat::Json => (Some(stdout()), Some(stderr())),
            LogFormat::Off => (None, None),
        };
        Self { stdout, stderr }
    }

    /// What the subscriber writes standard output's lines to.
    pub(crate) fn stdout(&self) -> StreamWriter {
        StreamWriter::of(self.stdout.as_ref())
    }

    /// What the subscriber writes standard error's lines to.
    pub(crate) fn stderr(&self) -> StreamWriter {
        StreamWriter::of(self.stderr.as_ref())
    }
}

/// One stream's worker thread, and the writer that queues lines for it.
struct Worker {
    writer: NonBlocking,
    /// Dropping it stops the worker, once it has written out what it holds.
    _guard: WorkerGuard,
}

impl Worker {
    fn start<S: Write + Send + 'static>(thread: &str, stream: S, lossless: bool) -> Self {
        let (writer, guard) = NonBlockingBuilder::default()
            .buffered_lines_limit(BUFFERED_LINES)
            .lossy(!lossless)
            .thread_name(thread)
            // The worker writes the lines it finds queued together, in one
            // system call, rather than one call a line.
            .finish(BufWriter::new(stream));
        lock_drop_counters().push(writer.error_counter());
        Self {
            writer,
            _guard: guard,
        }
    }
}

/// Where the subscriber writes one stream's lines: its worker's queue, or
/// nowhere when the format writes nothing to that stream.
#[derive(Clone)]
pub(crate) struct StreamWriter(Option<NonBlocking>);

impl StreamWriter {
    fn of(worker: Option<&Worker>) -> Self {
        Self(worker.map(|worker| worker.writer.clone()))
    }
}

impl<'a> MakeWriter<'a> for StreamWriter {
    type Writer = OptionalWriter<NonBlocking>;

    fn make_writer(&'a self) -> Self::Writer {
        self.0.clone().into()
    }
}

/// Every worker's count of the lines it dropped, for the process's whole
/// life: a stopped worker's drops still count.
static DROP_COUNTERS: Mutex<Vec<ErrorCounter>> = Mutex::new(Vec::new());

fn lock_drop_counters() -> MutexGuard<'static, Vec<ErrorCounter>> {
    DROP_COUNTERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The log lines this process dropped, every worker's added up.
fn dropped_lines() -> u64 {
    lock_drop_counters()
        .iter()
        .map(|counter| counter.dropped_lines() as u64)
        .sum()
}

/// `log_lines_dropped_total`: the workers' own counters, added up as the
/// metrics are scraped.
#[derive(Debug)]
struct DroppedLines;

impl EncodeMetric for DroppedLines {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&dropped_lines(), None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Serves the count of dropped lines in `registry`, the one `GET /metrics`
/// serves.
pub(crate) fn register(registry: &mut Registry) {
    registry.register(
        DROPPED_METRIC,
        "Log lines dropped because their stream's writer already held as many as it buffers (lossy, the default; LOG_LOSSLESS=1 makes a line wait instead)",
        DroppedLines,
    );
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};
    use std::sync::mpsc;

    use tracing_appender::non_blocking::NonBlockingBuilder;

    use super::{DROPPED_METRIC, dropped_lines, lock_drop_counters};

    /// A stream that takes nothing until told to: a stalled reader.
    struct Stalled(mpsc::Receiver<()>);

    impl Write for Stalled {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let _ = self.0.recv();
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_lossy_worker_on_a_stalled_stream_drops_past_its_queue_and_the_metric_counts_it() {
        let (release, stalled) = mpsc::channel();
        let (writer, guard) = NonBlockingBuilder::default()
            .buffered_lines_limit(4)
            .finish(Stalled(stalled));
        lock_drop_counters().push(writer.error_counter());
        let before = dropped_lines();
        let mut line = writer.clone();
        // The worker takes the first line and waits on the stream with it;
        // four more fill the queue; every later one finds it full.
        for _ in 0..20 {
            line.write_all(b"a line\n")
                .expect("a lossy write never fails");
        }
        let dropped = writer.error_counter().dropped_lines() as u64;
        assert!((15..=16).contains(&dropped), "{dropped} dropped");
        assert_eq!(dropped_lines() - before, dropped);
        let text = crate::metrics::encode();
        assert!(
            text.contains(&format!("# TYPE {DROPPED_METRIC} counter")),
            "{text}"
        );
        assert!(text.contains(&format!("{DROPPED_METRIC}_total ")), "{text}");
        drop(release);
        drop(guard);
    }
}
