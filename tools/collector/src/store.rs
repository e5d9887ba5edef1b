//! Where traces live: in memory, bounded, optionally backed by a file.
//!
//! The bound is on spans, the thing that costs memory. When a new batch
//! takes the store over it, whole traces are evicted, oldest first (by when
//! their first span arrived), so a trace on screen is never half-deleted.
//! With a data file, every batch is appended to it before it is stored, and
//! the file is replayed (within the same bound) when the collector starts:
//! traces survive a restart.
//!
//! The data file is one batch a line, as JSON. Its last line may be torn:
//! a write cut short by a crash or a full disk, possibly in the middle of a
//! multi-byte character. That line is skipped with a warning, and the next
//! batch starts on a line of its own. A bad line in the middle (the torn end
//! of an earlier run, or damage) is skipped and counted the same way: one
//! bad line never costs the others.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::model::Span;

/// Bad lines of a data file warned of one by one, besides its last line:
/// past this, only their number, so that a damaged file cannot flood the log.
const BAD_LINES_WARNED: usize = 10;

pub struct Store {
    max_spans: usize,
    inner: Mutex<Inner>,
    file: Option<Mutex<BufWriter<File>>>,
    path: Option<PathBuf>,
    lines_skipped: usize,
}

#[derive(Default)]
struct Inner {
    traces: HashMap<String, Vec<Span>>,
    /// Trace ids by arrival of their first span, oldest first.
    arrival: VecDeque<String>,
    spans: usize,
    services: BTreeSet<String>,
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
    /// An in-memory store of at most `max_spans` spans.
    pub fn in_memory(max_spans: usize) -> Self {
        Self {
            max_spans: max_spans.max(1),
            inner: Mutex::default(),
            file: None,
            path: None,
            lines_skipped: 0,
        }
    }

    /// A store backed by the append-only file at `path`: what it holds is
    /// loaded now (its bad lines skipped, as the module's documentation
    /// says), and every batch from now on is appended to it.
    pub fn with_file(path: &Path, max_spans: usize) -> std::io::Result<Self> {
        let mut store = Self::in_memory(max_spans);
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
        store.file = Some(Mutex::new(BufWriter::new(file)));
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
                Ok(spans) => self.insert_in_memory(spans),
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

    /// Stores a batch; with a data file, only once it is written there.
    pub fn insert(&self, batch: Vec<Span>) -> std::io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(file) = &self.file {
            let line = serde_json::to_string(&batch)?;
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            writeln!(file, "{line}")?;
            file.flush()?;
        }
        self.insert_in_memory(batch);
        Ok(())
    }

    fn insert_in_memory(&self, batch: Vec<Span>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for span in batch {
            if !inner.services.contains(&span.service) {
                inner.services.insert(span.service.clone());
            }
            inner.spans += 1;
            match inner.traces.get_mut(&span.trace_id) {
                Some(spans) => spans.push(span),
                None => {
                    inner.arrival.push_back(span.trace_id.clone());
                    inner.traces.insert(span.trace_id.clone(), vec![span]);
                }
            }
        }
        while inner.spans > self.max_spans {
            let Some(oldest) = inner.arrival.pop_front() else {
                break;
            };
            if let Some(evicted) = inner.traces.remove(&oldest) {
                inner.spans -= evicted.len();
            }
        }
    }

    pub fn span_count(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).spans
    }

    pub fn trace_count(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .traces
            .len()
    }

    pub fn services(&self) -> Vec<String> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .services
            .iter()
            .cloned()
            .collect()
    }

    /// The spans of one trace, by its hex id (any case).
    pub fn trace(&self, trace_id: &str) -> Option<Vec<Span>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.traces.get(&trace_id.to_ascii_lowercase()).cloned()
    }

    /// Traces that have a span of the service (and operation), newest first.
    pub fn traces(&self, query: &TraceQuery) -> Vec<Vec<Span>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let matches = |spans: &Vec<Span>| spans.iter().any(|s| query.matches(s));
        inner
            .arrival
            .iter()
            .rev()
            .filter_map(|id| inner.traces.get(id))
            .filter(|spans| matches(spans))
            .take(if query.limit == 0 {
                usize::MAX
            } else {
                query.limit
            })
            .cloned()
            .collect()
    }

    /// Calls `visit` with every stored trace, in no particular order, under
    /// the store's lock: for analyses that read thousands of traces and
    /// keep a little of each, without copying them. Ingestion waits
    /// meanwhile, so `visit` must be quick.
    pub fn for_each_trace(&self, mut visit: impl FnMut(&[Span])) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for spans in inner.traces.values() {
            visit(spans);
        }
    }

    /// Every stored span that `keep` accepts, in no particular order.
    pub fn spans_where(&self, keep: impl Fn(&Span) -> bool) -> Vec<Span> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .traces
            .values()
            .flatten()
            .filter(|span| keep(span))
            .cloned()
            .collect()
    }

    /// Operation names of a service, sorted.
    pub fn operations(&self, service: &str) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let names: BTreeSet<&str> = inner
            .traces
            .values()
            .flatten()
            .filter(|s| s.service == service)
            .map(|s| s.name.as_str())
            .collect();
        names.into_iter().map(str::to_owned).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

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
