//! Where traces live: in memory, bounded, optionally backed by a file.
//!
//! The bound is on spans, the thing that costs memory. When a new batch
//! takes the store over it, whole traces are evicted, oldest first (by when
//! their first span arrived), so a trace on screen is never half-deleted.
//! With a data file, every batch is appended to it before it is stored, and
//! the file is replayed (within the same bound) when the collector starts:
//! traces survive a restart.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::model::Span;

pub struct Store {
    max_spans: usize,
    inner: Mutex<Inner>,
    file: Option<Mutex<BufWriter<File>>>,
    path: Option<PathBuf>,
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
        }
    }

    /// A store backed by the append-only file at `path`: what it holds is
    /// loaded now, and every batch from now on is appended to it.
    pub fn with_file(path: &Path, max_spans: usize) -> std::io::Result<Self> {
        let mut store = Self::in_memory(max_spans);
        let mut skipped = 0;
        if let Ok(file) = File::open(path) {
            for line in BufReader::new(file).lines() {
                match serde_json::from_str::<Vec<Span>>(&line?) {
                    Ok(batch) => store.insert_in_memory(batch),
                    // A line cut short by a crash: the rest is still good.
                    Err(_) => skipped += 1,
                }
            }
        }
        if skipped > 0 {
            tracing::warn!(skipped, path = %path.display(), "skipped unreadable lines of the data file");
        }
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        // After a crash mid-write the file may end in a partial line: start
        // the next batch on a line of its own.
        if std::fs::read(path).is_ok_and(|bytes| bytes.last().is_some_and(|b| *b != b'\n')) {
            file.write_all(b"\n")?;
        }
        store.file = Some(Mutex::new(BufWriter::new(file)));
        store.path = Some(path.to_path_buf());
        Ok(store)
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
