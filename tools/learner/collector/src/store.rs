//! Where traces live: in memory, bounded, optionally backed by a file.
//!
//! Two bounds hold the memory: a count of spans, and a budget of bytes, an
//! estimate of what the spans hold (`Span::estimated_bytes`), since one span
//! can weigh as much as a thousand others. When a new batch takes the store over
//! either, whole traces are evicted, oldest first (by when their first span
//! arrived), so a trace on screen is never half-deleted. Before a batch is
//! stored, its spans are trimmed to the [`Limits`] (long strings cut,
//! attributes, events and links past a count dropped), and a trace already
//! holding its most spans takes no more: those are dropped. Every cut, drop
//! and eviction is counted ([`Store::stats`]) and logged, at most once a
//! kind every ten seconds (see [`crate::limits`]).
//!
//! CPU samples linked to spans (OTLP profiles) are kept beside the spans,
//! within bounds of their own, the oldest evicted first
//! ([`crate::samples`]); their function names are cut to the same length
//! as any string. They are kept in memory only: the data file holds spans.
//!
//! With a data file, every batch is appended to it before it is stored, in
//! the form it is stored in (trimmed, without the dropped spans); the file
//! is replayed through the same limits when the collector starts: traces
//! survive a restart.
//!
//! The data file is one batch a line, as JSON. Its last line may be torn:
//! a write cut short by a crash or a full disk, possibly in the middle of a
//! multi-byte character. That line is skipped with a warning, and the next
//! batch starts on a line of its own. A bad line in the middle (the torn end
//! of an earlier run, or damage) is skipped and counted the same way: one
//! bad line never costs the others.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::exposition::family;
use crate::limits::{self, Changes, Limits, Trimmed, Warning, Warnings};
use crate::otlp_profiles::CpuSamples;
use crate::samples::{BySpan, Folded, SampleStore, SpanKey};
use trace_analysis::model::{Span, Value};

/// Bad lines of a data file warned of one by one, besides its last line:
/// past this, only their number, so that a damaged file cannot flood the log.
const BAD_LINES_WARNED: usize = 10;

/// What a stored trace costs beyond its spans, estimated: its id twice (the
/// map's key and its place in the arrival order, each a `String` and its
/// block), the map's entry and the list of spans' header.
const TRACE_OVERHEAD_BYTES: usize = 256;

/// The media type of [`Stats::write_openmetrics`], for a `GET /metrics`
/// answer.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub struct Store {
    limits: Limits,
    inner: Mutex<Inner>,
    /// The data file, if any. Held for the whole of an insertion, file or
    /// not: the spans a batch may add to its traces are decided before it
    /// is written, and must still be the ones allowed when it is stored.
    writer: Mutex<Option<BufWriter<File>>>,
    warnings: Mutex<Warnings>,
    path: Option<PathBuf>,
    lines_skipped: usize,
    /// CPU samples, behind a lock of their own: an export of samples never
    /// waits for one of spans, nor a query of samples for either.
    samples: Mutex<SampleStore>,
}

#[derive(Default)]
struct Inner {
    traces: HashMap<String, StoredTrace>,
    /// Trace ids by arrival of their first span, oldest first.
    arrival: VecDeque<String>,
    spans: usize,
    /// The stored traces' estimated bytes, [`TRACE_OVERHEAD_BYTES`]
    /// included.
    bytes: usize,
    /// Each service's stored spans: a service is listed while it has some.
    services: BTreeMap<String, usize>,
    /// The counters; its gauges are filled in when read.
    counted: Stats,
    /// How many traces have arrived, for [`StoredTrace::arrived`].
    arrivals: u64,
}

/// A trace's spans behind an `Arc`: a query takes a handle to each trace it
/// reads under the store's lock (a count, not a copy) and reads them after
/// letting go of it, so that ingestion never waits for a query's reading.
/// A span arriving for a trace a query still holds copies that one trace
/// (`Arc::make_mut`), at most [`Limits::max_spans_per_trace`] spans.
struct StoredTrace {
    spans: Arc<Vec<Span>>,
    /// Its place in the arrival order: traces listed newest first are
    /// sorted by it once out of the lock.
    arrived: u64,
    /// Its estimated bytes, as added to [`Inner::bytes`], taken off again
    /// when it is evicted.
    bytes: usize,
}

/// What one insertion did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inserted {
    /// Spans stored (trimmed to the limits, if need be).
    pub stored: usize,
    /// Spans dropped: their trace already held its most spans.
    pub dropped: usize,
}

/// What storing an export's CPU samples did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SamplesInserted {
    /// Samples stored, each with its span.
    pub stored: usize,
    /// Samples dropped: linked to no span.
    pub unlinked: u64,
}

/// What the store holds and what its bounds cost, for `GET /metrics`: the
/// counters count from the start (spans replayed from the data file
/// included), the rest is now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Spans that arrived, before any limit.
    pub spans_received: u64,
    /// Spans held now.
    pub spans_stored: u64,
    /// Traces held now.
    pub traces_stored: u64,
    /// The estimated bytes held now, within [`Stats::max_bytes`].
    pub bytes_stored: u64,
    pub max_spans: u64,
    pub max_bytes: u64,
    /// Spans and traces evicted to stay within the bounds.
    pub spans_evicted: u64,
    pub traces_evicted: u64,
    /// Spans dropped because their trace already held its most spans.
    pub spans_dropped_trace_full: u64,
    /// Strings (attribute values, keys, span and event names) cut to the
    /// length limit.
    pub strings_truncated: u64,
    /// Attributes dropped from spans, events and resources, past their
    /// count.
    pub attributes_dropped: u64,
    pub events_dropped: u64,
    pub links_dropped: u64,
    /// CPU samples that arrived, each a `Sample` of an OTLP profile
    /// whatever its weight, before any limit.
    pub samples_received: u64,
    /// Samples held now.
    pub samples_stored: u64,
    /// Samples dropped as they arrived: linked to no span.
    pub samples_dropped_no_span: u64,
    /// Samples evicted, oldest first, to stay within their bounds.
    pub samples_evicted: u64,
    /// Stacks cut to [`limits::MAX_STACK_FRAMES`].
    pub stacks_cut: u64,
    /// The samples' estimated bytes held now, within
    /// [`Stats::max_sample_bytes`].
    pub sample_bytes_stored: u64,
    pub max_samples: u64,
    pub max_sample_bytes: u64,
}

/// Which traces to list: as Jaeger's search, those with at least one span
/// that matches every condition given.
#[derive(Clone, Debug, Default)]
pub struct TraceQuery {
    pub service: Option<String>,
    pub operation: Option<String>,
    /// The span starts at or after this time (Unix µs).
    pub start_us: Option<u64>,
    /// The span starts at or before this time (Unix µs).
    pub end_us: Option<u64>,
    pub min_duration_us: Option<u64>,
    pub max_duration_us: Option<u64>,
    /// Attributes the span has, each as text (`error=true` matches a span
    /// whose status is error, as Jaeger's `error` tag does).
    pub tags: Vec<(String, String)>,
    /// At most this many traces; 0 for no bound.
    pub limit: usize,
}

impl TraceQuery {
    pub fn matches(&self, span: &Span) -> bool {
        self.service.as_ref().is_none_or(|svc| &span.service == svc)
            && self.operation.as_ref().is_none_or(|op| &span.name == op)
            && self.start_us.is_none_or(|t| span.start_us >= t)
            && self.end_us.is_none_or(|t| span.start_us <= t)
            && self.min_duration_us.is_none_or(|d| span.duration_us >= d)
            && self.max_duration_us.is_none_or(|d| span.duration_us <= d)
            && self
                .tags
                .iter()
                .all(|(key, value)| has_tag(span, key, value))
    }
}

/// A line of the data file that is not a batch of spans.
struct BadLine {
    /// From 1, as an editor counts them.
    number: usize,
    /// Its length, without the newline.
    bytes: usize,
    reason: String,
}

impl BadLine {
    /// Warns of it, unless it is neither the last line nor among the first
    /// few bad ones (`skipped` so far).
    fn warn(&self, path: &Path, last: bool, skipped: usize) {
        let (line, bytes, reason) = (self.number, self.bytes, &self.reason);
        if last {
            tracing::warn!(
                line, bytes, %reason, path = %path.display(),
                "skipped the last line of the data file: a write cut short (by a crash or a full disk)"
            );
        } else if skipped <= BAD_LINES_WARNED {
            tracing::warn!(
                line, bytes, %reason, path = %path.display(),
                "skipped a line of the data file that is not a batch of spans (a write cut short before an earlier restart, or damage)"
            );
        }
    }
}

/// One line of the data file, without its newline, as a batch of spans; or
/// why it is not one. A blank line holds no batch, and loses none.
fn parse_batch(line: &[u8]) -> Result<Vec<Span>, String> {
    if line.trim_ascii().is_empty() {
        return Ok(Vec::new());
    }
    let text = std::str::from_utf8(line).map_err(|err| format!("not UTF-8: {err}"))?;
    let spans: Vec<Span> =
        serde_json::from_str(text).map_err(|err| format!("not a batch of spans in JSON: {err}"))?;
    // Ingestion never stores such a span, but a damaged file can hold one,
    // and every view computes the span's end.
    if spans
        .iter()
        .any(|span| span.start_us.checked_add(span.duration_us).is_none())
    {
        return Err("a span ends past the largest time there is".to_owned());
    }
    Ok(spans)
}

fn has_tag(span: &Span, key: &str, value: &str) -> bool {
    if key == "error" {
        return span.is_error().to_string() == value;
    }
    if key == "span.kind" {
        return span.kind.as_str() == value;
    }
    span.attribute(key).is_some_and(|v| v.to_string() == value)
        || span
            .resource
            .iter()
            .any(|(k, v)| k == key && v.to_string() == value)
}

impl Store {
    /// An in-memory store of at most `max_spans` spans, within the other
    /// default limits.
    pub fn in_memory(max_spans: usize) -> Self {
        Self::new(Limits {
            max_spans,
            ..Limits::default()
        })
    }

    /// An in-memory store within `limits`.
    pub fn new(limits: Limits) -> Self {
        // A store that keeps no span, or a trace that takes none, is no
        // store: at least one.
        let limits = Limits {
            max_spans: limits.max_spans.max(1),
            max_spans_per_trace: limits.max_spans_per_trace.max(1),
            ..limits
        };
        Self {
            limits,
            inner: Mutex::default(),
            writer: Mutex::new(None),
            warnings: Mutex::default(),
            path: None,
            lines_skipped: 0,
            samples: Mutex::default(),
        }
    }

    /// A store backed by the append-only file at `path`, of at most
    /// `max_spans` spans within the other default limits: see
    /// [`Store::open`].
    pub fn with_file(path: &Path, max_spans: usize) -> std::io::Result<Self> {
        Self::open(
            path,
            Limits {
                max_spans,
                ..Limits::default()
            },
        )
    }

    /// A store within `limits`, backed by the append-only file at `path`:
    /// what it holds is loaded now, through the same limits (its bad lines
    /// skipped, as the module's documentation says), and every batch from
    /// now on is appended to it.
    pub fn open(path: &Path, limits: Limits) -> std::io::Result<Self> {
        let mut store = Self::new(limits);
        let ends_in_newline = match File::open(path) {
            Ok(file) => store.load(BufReader::new(file), path)?,
            Err(err) if err.kind() == ErrorKind::NotFound => true,
            Err(err) => return Err(err),
        };
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        // A torn last line has no newline: without one, the next batch
        // would be glued to the torn bytes and lost with them.
        if !ends_in_newline {
            file.write_all(b"\n")?;
        }
        *store.writer.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(BufWriter::new(file));
        store.path = Some(path.to_path_buf());
        Ok(store)
    }

    /// Replays the data file's batches, read as bytes (a torn line need not
    /// be UTF-8); whether it ends with a newline (an empty file does).
    fn load(&mut self, mut reader: impl BufRead, path: &Path) -> std::io::Result<bool> {
        let mut line = Vec::new();
        let mut number = 0;
        let mut ends_in_newline = true;
        // Whether a bad line is the last is known only once the next read
        // finds nothing, so it is warned of one line late.
        let mut bad: Option<BadLine> = None;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            number += 1;
            if let Some(earlier) = bad.take() {
                earlier.warn(path, false, self.lines_skipped);
            }
            ends_in_newline = line.ends_with(b"\n");
            let content = line.strip_suffix(b"\n").unwrap_or(line.as_slice());
            match parse_batch(content) {
                // No file is open yet: nothing is written back.
                Ok(spans) => {
                    self.insert(spans)?;
                }
                Err(reason) => {
                    self.lines_skipped += 1;
                    bad = Some(BadLine {
                        number,
                        bytes: content.len(),
                        reason,
                    });
                }
            }
        }
        if let Some(last) = bad {
            last.warn(path, true, self.lines_skipped);
        }
        // One bad line was warned of already; more may not all have been.
        if self.lines_skipped > 1 {
            tracing::warn!(
                skipped = self.lines_skipped,
                path = %path.display(),
                "skipped lines of the data file that are not batches of spans"
            );
        }
        Ok(ends_in_newline)
    }

    /// Lines of the data file skipped when it was loaded, as not batches of
    /// spans.
    pub fn lines_skipped(&self) -> usize {
        self.lines_skipped
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The limits the store keeps to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a batch: trimmed to the limits, without the spans of traces
    /// already full, and with a data file only once it is written there (as
    /// it is stored). Oldest traces are evicted while the store is over its
    /// bounds.
    pub fn insert(&self, mut batch: Vec<Span>) -> std::io::Result<Inserted> {
        if batch.is_empty() {
            return Ok(Inserted::default());
        }
        let received = batch.len();
        // Trimming needs no lock: concurrent exports trim side by side.
        let trimmed = self.limits.trim(&mut batch);
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let dropped = self
            .lock()
            .admit(&mut batch, self.limits.max_spans_per_trace);
        if let Some(file) = writer.as_mut()
            && !batch.is_empty()
        {
            let line = serde_json::to_string(&batch)?;
            writeln!(file, "{line}")?;
            file.flush()?;
        }
        let stored = batch.len();
        let (traces_evicted, spans_evicted) = {
            let mut inner = self.lock();
            let counted = &mut inner.counted;
            counted.spans_received += received as u64;
            counted.spans_dropped_trace_full += dropped as u64;
            counted.strings_truncated += trimmed.strings_truncated;
            counted.attributes_dropped += trimmed.attributes_dropped;
            counted.events_dropped += trimmed.events_dropped;
            counted.links_dropped += trimmed.links_dropped;
            inner.store(batch, &self.limits)
        };
        drop(writer);
        let changes = Changes {
            trimmed,
            spans_dropped: dropped as u64,
            traces_evicted,
            spans_evicted,
            ..Changes::default()
        };
        self.record(&changes);
        Ok(Inserted { stored, dropped })
    }

    /// Stores an export's CPU samples: their function names cut to the
    /// length limit, those linked to no span dropped. The oldest samples
    /// are evicted while the samples are over their bounds.
    pub fn insert_samples(&self, mut batch: CpuSamples) -> SamplesInserted {
        // Cutting needs no lock: concurrent exports cut side by side.
        let mut strings_truncated = 0;
        for name in &mut batch.strings {
            if limits::truncate(name, self.limits.max_value_bytes) {
                strings_truncated += 1;
            }
        }
        let samples_evicted = self
            .samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(&batch, &self.limits);
        if strings_truncated > 0 {
            self.lock().counted.strings_truncated += strings_truncated;
        }
        self.record(&Changes {
            trimmed: Trimmed {
                strings_truncated,
                ..Trimmed::default()
            },
            samples_evicted,
            ..Changes::default()
        });
        SamplesInserted {
            stored: batch.linked(),
            unlinked: batch.unlinked(),
        }
    }

    /// The CPU samples taken in `spans`, added up by stack: at most
    /// `max_stacks` stacks, heaviest first, in about `max_bytes` of names
    /// at most, the rest summed (see [`SampleStore::fold`]). Holds the
    /// samples' lock while it reads them: a sum over the spans asked
    /// about, not a copy of the samples.
    pub fn folded_samples(&self, spans: &[SpanKey], max_stacks: usize, max_bytes: usize) -> Folded {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fold(spans, max_stacks, max_bytes)
    }

    /// The CPU samples taken in `spans` as [`Store::folded_samples`] adds
    /// them up, and each span's samples on each stack (see
    /// [`SampleStore::by_span`]). Holds the samples' lock while it reads
    /// them, as [`Store::folded_samples`] does.
    pub fn samples_by_span(
        &self,
        spans: &[SpanKey],
        max_stacks: usize,
        max_bytes: usize,
    ) -> BySpan {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_span(spans, max_stacks, max_bytes)
    }

    /// Counts an insertion's changes, and logs the lines due.
    fn record(&self, changes: &Changes) {
        let due = self
            .warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(changes, Instant::now());
        self.log(&due);
    }

    /// Logs the warnings held back that are due: called every few seconds,
    /// so that the end of a burst of cuts or evictions is told even when
    /// nothing follows it.
    pub fn log_pending_warnings(&self) {
        let due = self
            .warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .due(Instant::now());
        self.log(&due);
    }

    fn log(&self, warnings: &[Warning]) {
        for warning in warnings {
            warning.log(&self.limits);
        }
    }

    /// The counters and what is held now.
    pub fn stats(&self) -> Stats {
        let spans = {
            let inner = self.lock();
            Stats {
                spans_stored: inner.spans as u64,
                traces_stored: inner.traces.len() as u64,
                bytes_stored: inner.bytes as u64,
                max_spans: self.limits.max_spans as u64,
                max_bytes: self.limits.max_bytes as u64,
                ..inner.counted
            }
        };
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let counts = samples.counts();
        Stats {
            samples_received: counts.received,
            samples_stored: samples.len() as u64,
            samples_dropped_no_span: counts.dropped_no_span,
            samples_evicted: counts.evicted,
            stacks_cut: counts.stacks_cut,
            sample_bytes_stored: samples.bytes() as u64,
            max_samples: self.limits.max_samples as u64,
            max_sample_bytes: self.limits.max_sample_bytes as u64,
            ..spans
        }
    }

    pub fn span_count(&self) -> usize {
        self.lock().spans
    }

    pub fn trace_count(&self) -> usize {
        self.lock().traces.len()
    }

    pub fn services(&self) -> Vec<String> {
        self.lock().services.keys().cloned().collect()
    }

    /// The spans of one trace, by its hex id (any case).
    pub fn trace(&self, trace_id: &str) -> Option<Vec<Span>> {
        let spans = self
            .lock()
            .traces
            .get(&trace_id.to_ascii_lowercase())
            .map(|trace| Arc::clone(&trace.spans));
        spans.map(|spans| spans.to_vec())
    }

    /// A handle to every stored trace, with its place in the arrival order,
    /// taken under the lock (a count per trace, no copy) for reading out of
    /// it. Those the store evicts meanwhile live on until the reader is
    /// done with them: at most an analysis's deadline.
    fn snapshot(&self) -> Vec<(u64, Arc<Vec<Span>>)> {
        self.lock()
            .traces
            .values()
            .map(|trace| (trace.arrived, Arc::clone(&trace.spans)))
            .collect()
    }

    /// Traces that have a span of the service (and operation), newest first.
    pub fn traces(&self, query: &TraceQuery) -> Vec<Vec<Span>> {
        let mut traces = self.snapshot();
        traces.sort_unstable_by_key(|(arrived, _)| std::cmp::Reverse(*arrived));
        traces
            .iter()
            .map(|(_, spans)| spans)
            .filter(|spans| spans.iter().any(|s| query.matches(s)))
            .take(if query.limit == 0 {
                usize::MAX
            } else {
                query.limit
            })
            .map(|spans| spans.to_vec())
            .collect()
    }

    /// Calls `visit` with every trace stored when it is called, in no
    /// particular order, without holding the store's lock: ingestion goes
    /// on meanwhile, however long `visit` takes.
    pub fn for_each_trace(&self, mut visit: impl FnMut(&[Span])) {
        for (_, spans) in self.snapshot() {
            visit(&spans);
        }
    }

    /// Every stored span that `keep` accepts, in no particular order.
    pub fn spans_where(&self, keep: impl Fn(&Span) -> bool) -> Vec<Span> {
        self.snapshot()
            .iter()
            .flat_map(|(_, spans)| spans.iter())
            .filter(|span| keep(span))
            .cloned()
            .collect()
    }

    /// Operation names of a service, sorted.
    pub fn operations(&self, service: &str) -> Vec<String> {
        let traces = self.snapshot();
        let names: BTreeSet<&str> = traces
            .iter()
            .flat_map(|(_, spans)| spans.iter())
            .filter(|s| s.service == service)
            .map(|s| s.name.as_str())
            .collect();
        names.into_iter().map(str::to_owned).collect()
    }
}

impl Inner {
    /// Keeps the spans of a batch that their traces still have room for,
    /// in order; how many it dropped.
    fn admit(&self, batch: &mut Vec<Span>, max_spans_per_trace: usize) -> usize {
        let keep: Vec<bool> = {
            // Each trace's spans: those held, and those of the batch so far.
            let mut counts: HashMap<&str, usize> = HashMap::new();
            batch
                .iter()
                .map(|span| {
                    let count = counts.entry(span.trace_id.as_str()).or_insert_with(|| {
                        self.traces
                            .get(span.trace_id.as_str())
                            .map_or(0, |trace| trace.spans.len())
                    });
                    let room = *count < max_spans_per_trace;
                    if room {
                        *count += 1;
                    }
                    room
                })
                .collect()
        };
        let before = batch.len();
        let mut keep = keep.into_iter();
        batch.retain(|_| keep.next().unwrap_or(false));
        before - batch.len()
    }

    /// Adds a batch, then evicts the oldest traces while over a bound; the
    /// traces and spans evicted.
    fn store(&mut self, batch: Vec<Span>, limits: &Limits) -> (u64, u64) {
        let mut batch_bytes = BatchBytes::default();
        for span in batch {
            let mut bytes = batch_bytes.of(&span);
            match self.services.get_mut(&span.service) {
                Some(spans) => *spans += 1,
                None => {
                    self.services.insert(span.service.clone(), 1);
                }
            }
            self.spans += 1;
            match self.traces.get_mut(&span.trace_id) {
                Some(trace) => {
                    trace.bytes += bytes;
                    Arc::make_mut(&mut trace.spans).push(span);
                }
                None => {
                    bytes += TRACE_OVERHEAD_BYTES;
                    self.arrival.push_back(span.trace_id.clone());
                    self.arrivals += 1;
                    self.traces.insert(
                        span.trace_id.clone(),
                        StoredTrace {
                            spans: Arc::new(vec![span]),
                            arrived: self.arrivals,
                            bytes,
                        },
                    );
                }
            }
            self.bytes += bytes;
        }
        let (mut traces_evicted, mut spans_evicted) = (0, 0);
        while self.spans > limits.max_spans || self.bytes > limits.max_bytes {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            if let Some(evicted) = self.traces.remove(&oldest) {
                self.spans -= evicted.spans.len();
                self.bytes -= evicted.bytes;
                traces_evicted += 1;
                spans_evicted += evicted.spans.len() as u64;
                for span in evicted.spans.iter() {
                    if let Some(spans) = self.services.get_mut(&span.service) {
                        *spans -= 1;
                        if *spans == 0 {
                            self.services.remove(&span.service);
                        }
                    }
                }
            }
        }
        self.counted.traces_evicted += traces_evicted;
        self.counted.spans_evicted += spans_evicted;
        (traces_evicted, spans_evicted)
    }
}

impl Stats {
    /// Its metric families, as OpenMetrics text, for a `GET /metrics`
    /// answered with [`OPENMETRICS_CONTENT_TYPE`]; without the exposition's
    /// end, since the answer may add others (the tail sampler's, see
    /// `crate::tail_sampling::Counts`) before it ends.
    pub fn write_openmetrics(&self, text: &mut String) {
        let mut counter = |name: &str, help: &str, labels: &str, value: u64| {
            family(text, name, "counter", help, &[(labels, value)]);
        };
        counter(
            "collector_spans_received",
            "Spans received, before any limit.",
            "",
            self.spans_received,
        );
        counter(
            "collector_spans_evicted",
            "Spans evicted, with their whole traces, to stay within the store's bounds.",
            "",
            self.spans_evicted,
        );
        counter(
            "collector_traces_evicted",
            "Traces evicted, oldest first, to stay within the store's bounds.",
            "",
            self.traces_evicted,
        );
        counter(
            "collector_spans_dropped",
            "Spans dropped as they arrived.",
            "{reason=\"trace_full\"}",
            self.spans_dropped_trace_full,
        );
        counter(
            "collector_strings_truncated",
            "Attribute values, keys, span, event and function names cut to the length limit.",
            "",
            self.strings_truncated,
        );
        counter(
            "collector_attributes_dropped",
            "Attributes of spans, events and resources dropped past their count.",
            "",
            self.attributes_dropped,
        );
        counter(
            "collector_events_dropped",
            "Span events dropped past their count.",
            "",
            self.events_dropped,
        );
        counter(
            "collector_links_dropped",
            "Span links dropped past their count.",
            "",
            self.links_dropped,
        );
        counter(
            "collector_profile_samples_received",
            "CPU samples received in OTLP profiles, each a sample whatever its weight, before any limit.",
            "",
            self.samples_received,
        );
        counter(
            "collector_profile_samples_dropped",
            "CPU samples dropped as they arrived.",
            "{reason=\"no_span\"}",
            self.samples_dropped_no_span,
        );
        counter(
            "collector_profile_samples_evicted",
            "CPU samples evicted, oldest first, to stay within their bounds.",
            "",
            self.samples_evicted,
        );
        counter(
            "collector_profile_stacks_cut",
            "Stacks of CPU samples deeper than the limit, cut around their middle.",
            "",
            self.stacks_cut,
        );
        let mut gauge = |name: &str, help: &str, value: u64| {
            family(text, name, "gauge", help, &[("", value)]);
        };
        gauge(
            "collector_spans_stored",
            "Spans held now.",
            self.spans_stored,
        );
        gauge(
            "collector_traces_stored",
            "Traces held now.",
            self.traces_stored,
        );
        gauge(
            "collector_store_size_bytes",
            "The estimated bytes of the spans held now.",
            self.bytes_stored,
        );
        gauge(
            "collector_store_limit_bytes",
            "The estimated bytes the store keeps within.",
            self.max_bytes,
        );
        gauge(
            "collector_store_limit_spans",
            "The spans the store keeps within.",
            self.max_spans,
        );
        gauge(
            "collector_profile_samples_stored",
            "CPU samples held now.",
            self.samples_stored,
        );
        gauge(
            "collector_profile_store_size_bytes",
            "The estimated bytes of the CPU samples held now, their stacks and names once.",
            self.sample_bytes_stored,
        );
        gauge(
            "collector_profile_store_limit_bytes",
            "The estimated bytes the CPU samples are kept within.",
            self.max_sample_bytes,
        );
        gauge(
            "collector_profile_store_limit_samples",
            "The CPU samples the store keeps within.",
            self.max_samples,
        );
    }
}

/// A batch's spans' bytes as the store counts them: each span's own, and
/// its export's resource, which the batch's spans share, once, with the
/// first span that carries it. The tail sampler counts what it holds the
/// same way.
#[derive(Default)]
pub(crate) struct BatchBytes {
    counted_resource: Option<Arc<Vec<(String, Value)>>>,
}

impl BatchBytes {
    /// `span`'s bytes, its resource's included if no span before it in the
    /// batch carried that resource.
    pub(crate) fn of(&mut self, span: &Span) -> usize {
        let mut bytes = span.estimated_bytes();
        if !self
            .counted_resource
            .as_ref()
            .is_some_and(|resource| Arc::ptr_eq(resource, &span.resource))
        {
            bytes += span.resource_estimated_bytes();
            self.counted_resource = Some(Arc::clone(&span.resource));
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_analysis::model::Kind;

    pub(crate) fn span(trace: u32, id: u32, parent: Option<u32>, start: u64, end: u64) -> Span {
        Span {
            trace_id: format!("{trace:032x}"),
            span_id: format!("{id:016x}"),
            parent_span_id: parent.map(|p| format!("{p:016x}")),
            service: "svc".to_owned(),
            name: format!("op{id}"),
            kind: Kind::Internal,
            start_us: start,
            duration_us: end - start,
            ..Span::default()
        }
    }

    #[test]
    fn a_flood_stays_within_the_bound_and_evicts_whole_oldest_traces() {
        let store = Store::in_memory(1_000);
        // 10 times the bound, in traces of 10 spans.
        for trace in 0..1_000 {
            let batch = (0..10).map(|i| span(trace, i, None, 0, 1)).collect();
            store.insert(batch).unwrap();
            assert!(store.span_count() <= 1_000);
        }
        assert_eq!(store.span_count(), 1_000);
        assert_eq!(store.trace_count(), 100);
        assert!(
            store.trace(&format!("{:032x}", 0)).is_none(),
            "the oldest are gone"
        );
        let newest = store
            .trace(&format!("{:032x}", 999))
            .expect("the newest stays");
        assert_eq!(newest.len(), 10, "and stays whole");
    }

    #[test]
    fn traces_are_listed_newest_first_and_filtered() {
        let store = Store::in_memory(100);
        store.insert(vec![span(1, 1, None, 0, 5)]).unwrap();
        let mut other = span(2, 2, None, 0, 5);
        other.service = "other".to_owned();
        store.insert(vec![other]).unwrap();
        store.insert(vec![span(3, 3, None, 0, 5)]).unwrap();
        let query = TraceQuery {
            service: Some("svc".to_owned()),
            limit: 10,
            ..TraceQuery::default()
        };
        let ids: Vec<String> = store
            .traces(&query)
            .iter()
            .map(|t| t[0].trace_id.clone())
            .collect();
        assert_eq!(ids, [format!("{:032x}", 3), format!("{:032x}", 1)]);
        assert_eq!(store.services(), ["other", "svc"]);
        assert_eq!(store.operations("svc"), ["op1", "op3"]);
    }

    #[test]
    fn the_byte_total_is_the_stored_traces_and_falls_by_what_is_evicted() {
        let with_attribute = |trace: u32, bytes: usize| {
            let mut one = span(trace, 1, None, 0, 1);
            one.attributes = vec![("payload".to_owned(), Value::Str("x".repeat(bytes)))];
            vec![one]
        };
        let roomy = Store::new(Limits::default());
        roomy.insert(with_attribute(1, 1_000)).unwrap();
        let first = roomy.stats().bytes_stored;
        roomy.insert(with_attribute(2, 2_000)).unwrap();
        let both = roomy.stats().bytes_stored;
        let second = both - first;
        assert!(
            first > 1_000 && second > 2_000,
            "each trace counts at least its strings: {first}, {second}"
        );

        // Room for the second alone: the first is evicted, whole.
        let tight = Store::new(Limits {
            max_bytes: usize::try_from(both).unwrap() - 1,
            ..Limits::default()
        });
        tight.insert(with_attribute(1, 1_000)).unwrap();
        tight.insert(with_attribute(2, 2_000)).unwrap();
        let stats = tight.stats();
        assert_eq!(
            (
                stats.bytes_stored,
                stats.traces_stored,
                stats.traces_evicted
            ),
            (second, 1, 1),
            "the first trace's bytes are taken off: {stats:?}"
        );
        assert!(tight.trace(&format!("{:032x}", 1)).is_none());

        // A trace larger than the whole budget is evicted too: the bound
        // holds whatever arrives.
        tight.insert(with_attribute(3, 1_000_000)).unwrap();
        let stats = tight.stats();
        assert_eq!(
            (stats.bytes_stored, stats.traces_stored),
            (0, 0),
            "a trace of 4 KiB does not fit in {} bytes: {stats:?}",
            stats.max_bytes
        );
    }

    #[test]
    fn a_service_is_listed_while_it_has_spans() {
        let store = Store::in_memory(2);
        let mut first = span(1, 1, None, 0, 1);
        first.service = "gone".to_owned();
        store.insert(vec![first]).unwrap();
        store.insert(vec![span(2, 1, None, 0, 1)]).unwrap();
        assert_eq!(store.services(), ["gone", "svc"]);
        store.insert(vec![span(3, 1, None, 0, 1)]).unwrap();
        assert_eq!(
            store.services(),
            ["svc"],
            "the service of the evicted trace"
        );
    }

    #[test]
    fn the_stats_read_back_as_openmetrics() {
        let store = Store::in_memory(10);
        store
            .insert((0..12).map(|i| span(i, 1, None, 0, 1)).collect())
            .unwrap();
        let stats = store.stats();
        assert_eq!(
            (
                stats.spans_received,
                stats.spans_stored,
                stats.spans_evicted
            ),
            (12, 10, 2),
            "{stats:?}"
        );
        let mut text = String::new();
        stats.write_openmetrics(&mut text);
        crate::exposition::end(&mut text);
        let exposition = openmetrics::parse(&text)
            .unwrap_or_else(|err| panic!("not OpenMetrics: {err}\n{text}"));
        let value = |name: &str| {
            exposition
                .samples
                .iter()
                .find(|sample| sample.name == name)
                .map(|sample| sample.value)
        };
        assert_eq!(
            value("collector_spans_received_total"),
            Some(12.0),
            "{text}"
        );
        assert_eq!(value("collector_spans_evicted_total"), Some(2.0), "{text}");
        assert_eq!(value("collector_spans_stored"), Some(10.0), "{text}");
        assert_eq!(
            value("collector_store_size_bytes"),
            Some(stats.bytes_stored as f64),
            "{text}"
        );
        assert_eq!(
            exposition
                .types
                .get("collector_traces_evicted")
                .map(String::as_str),
            Some("counter"),
            "{text}"
        );
        assert_eq!(
            exposition
                .units
                .get("collector_store_limit_bytes")
                .map(String::as_str),
            Some("bytes"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn traces_survive_a_restart_through_the_data_file() {
        let path =
            std::env::temp_dir().join(format!("collector-store-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        {
            let store = Store::with_file(&path, 100).unwrap();
            store
                .insert(vec![span(7, 1, None, 0, 5), span(7, 2, Some(1), 1, 2)])
                .unwrap();
        }
        // A crash mid-write leaves a partial line: it is skipped.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"[{\"trace_")
            .unwrap();
        let reopened = Store::with_file(&path, 100).unwrap();
        assert_eq!(
            reopened.trace(&format!("{:032x}", 7)).map(|t| t.len()),
            Some(2)
        );
        reopened.insert(vec![span(8, 1, None, 0, 5)]).unwrap();
        drop(reopened);
        let again = Store::with_file(&path, 100).unwrap();
        assert_eq!(
            again.trace_count(),
            2,
            "a batch after the partial line is kept"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
