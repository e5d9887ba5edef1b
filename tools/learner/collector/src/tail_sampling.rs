//! Tail sampling: a trace kept or dropped once it is complete, by what
//! happened in it.
//!
//! Head sampling (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`) decides
//! at a trace's root, before anything has happened: at 10 %, nine errors in
//! ten are never seen. A tail sampler decides once the trace is over, so it
//! can keep what matters, as the OpenTelemetry Collector's
//! `tailsamplingprocessor` does. Here, with `collector --tail-sampling`:
//!
//! 1. Spans wait, by trace, in a bounded buffer (`pending.rs`), until no
//!    span of their trace has arrived for the decision wait
//!    ([`Settings::decision_wait`]): the services export a batch every
//!    second, so a trace's spans arrive over a second or so after its root
//!    ends, and a quiet pause of two says it is complete.
//! 2. The trace is then decided, once and whole, by the first of these
//!    rules that keeps it ([`Rule`]): `error`, a span failed (its status
//!    is ERROR, or it recorded an exception); `warming_up`, its endpoint
//!    (the root's service and operation) has too few recent durations to
//!    judge; `slow`, its root took longer than the endpoint's recent p99
//!    (`latency.rs`); `share`, its trace id falls in the share kept of the
//!    rest, a rule of the id alone, so that two collectors agree. Otherwise
//!    it is dropped.
//! 3. A trace kept goes into the store as an export's spans do
//!    ([`Store::insert`]): the same limits, the same API.
//! 4. A span that arrives after its trace was decided follows the decision
//!    (`decisions.rs`): stored with a kept trace, dropped with the rest.
//!
//! The cost is memory: every trace is held for the decision wait, kept or
//! not, so the buffer holds the last seconds of everything sent. It is
//! bounded in spans and in estimated bytes ([`Settings::max_pending_spans`],
//! [`Settings::max_pending_bytes`]): past either, the oldest traces are
//! decided at once, early, perhaps before their last spans came. Every
//! decision, early decision and late span is counted ([`Counts`], on the
//! collector's `GET /metrics`).

mod counts;
mod decisions;
mod latency;
mod pending;
mod rules;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use trace_analysis::model::Span;

use crate::store::{BatchBytes, Inserted, Store};

pub use counts::Counts;
pub use decisions::REMEMBERED_DECISIONS;
pub use latency::{MAX_ENDPOINTS, WARM_UP_DURATIONS, WINDOW_DURATIONS};
pub use rules::{EXCEPTION_EVENT, Rule, in_share};

use decisions::Decisions;
use latency::{Latencies, Latency};
use pending::Pending;

/// The share of the traces no other rule keeps that is kept: enough to see
/// what a usual request looks like, a twentieth of the memory and disk.
pub const KEEP_SHARE: f64 = 0.05;
/// How long a trace waits after its last span arrived before it is
/// decided, in milliseconds. The services' span processor exports a batch
/// every second (`OTEL_BSP_SCHEDULE_DELAY`), so the spans of one request
/// reach the collector within about a second of each other once it is
/// over; two seconds leave room for one more batch. Longer would hold
/// more of every trace in memory and show each in the UI later; the
/// OpenTelemetry Collector waits 30 s by default, for traces whose
/// services export less often.
pub const DECISION_WAIT_MS: u64 = 2_000;
/// Spans that wait at most, all traces together: a few minutes of the
/// demo's busiest run (about 1,100 spans a second), and some 220 MB at the
/// demo's 1.1 KB a span.
pub const MAX_PENDING_SPANS: usize = 200_000;
/// The estimated bytes that wait at most: above what [`MAX_PENDING_SPANS`]
/// of the demo's spans take, so that the count binds first for them, and
/// a bound for spans that carry far more.
pub const MAX_PENDING_BYTES: usize = 256 * 1024 * 1024;

/// How the sampler decides.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// The share of the other traces kept, from 0 to 1 ([`in_share`]).
    pub keep_share: f64,
    /// How long a trace waits after its last span arrived.
    pub decision_wait: Duration,
    /// Spans that wait at most; past them, the oldest traces are decided
    /// early.
    pub max_pending_spans: usize,
    /// Estimated bytes that wait at most, as the store estimates them;
    /// past them, the oldest traces are decided early.
    pub max_pending_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            keep_share: KEEP_SHARE,
            decision_wait: Duration::from_millis(DECISION_WAIT_MS),
            max_pending_spans: MAX_PENDING_SPANS,
            max_pending_bytes: MAX_PENDING_BYTES,
        }
    }
}

/// The tail sampler in front of a store: spans go in through
/// [`TailSampler::offer`], the traces kept come out into the store.
pub struct TailSampler {
    store: Arc<Store>,
    settings: Settings,
    state: Mutex<State>,
    /// Told when a trace starts waiting while none did, for the task that
    /// decides traces as they fall due, which then has no time to wait for.
    first_pending: Notify,
}

/// What the sampler holds, behind one lock.
struct State {
    pending: Pending,
    decisions: Decisions,
    latencies: Latencies,
    counts: Counts,
}

impl TailSampler {
    /// A sampler in front of `store`, with its task that decides each trace
    /// when its wait is over, spawned on the current tokio runtime.
    pub fn start(store: Arc<Store>, settings: Settings) -> Arc<Self> {
        // A buffer that holds nothing would decide every trace at its
        // first span: at least one.
        let settings = Settings {
            max_pending_spans: settings.max_pending_spans.max(1),
            max_pending_bytes: settings.max_pending_bytes.max(1),
            ..settings
        };
        let sampler = Arc::new(Self {
            store,
            settings,
            state: Mutex::new(State {
                pending: Pending::default(),
                decisions: Decisions::new(),
                latencies: Latencies::new(),
                counts: Counts::default(),
            }),
            first_pending: Notify::new(),
        });
        tokio::spawn(Arc::clone(&sampler).decide_when_due());
        sampler
    }

    /// The store the traces kept go to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The counters, and what waits now.
    pub fn counts(&self) -> Counts {
        let state = self.lock();
        Counts {
            pending_spans: state.pending.spans() as u64,
            pending_traces: state.pending.traces() as u64,
            pending_bytes: state.pending.bytes() as u64,
            max_pending_spans: self.settings.max_pending_spans as u64,
            max_pending_bytes: self.settings.max_pending_bytes as u64,
            ..state.counts
        }
    }

    /// Takes an export's spans: each waits with its trace, or follows its
    /// trace's decision when that was taken already (a late span). Past
    /// the buffer's bounds, the oldest traces are decided now. What this
    /// stores now is the late spans of kept traces, and the traces kept
    /// early; the answer is what became of the late spans, the export's
    /// own spans stored now (the others are decided later, past the
    /// export's answer).
    pub fn offer(&self, batch: Vec<Span>) -> std::io::Result<Inserted> {
        if batch.is_empty() {
            return Ok(Inserted::default());
        }
        let (late, kept_early, first_pending) = {
            let mut state = self.lock();
            // Read under the lock, so that the line of waiting traces, in
            // the order they arrived, is in the order they fall due too.
            let due = Instant::now() + self.settings.decision_wait;
            let was_idle = state.pending.is_empty();
            let late = state.admit(batch, due);
            let kept_early = state.decide_early(&self.settings);
            (late, kept_early, was_idle && !state.pending.is_empty())
        };
        if first_pending {
            self.first_pending.notify_one();
        }
        let inserted = self.store.insert(late)?;
        self.store.insert(kept_early)?;
        Ok(inserted)
    }

    /// Decides each trace when its wait is over, for as long as the
    /// runtime runs: asleep until the front trace falls due, or, when
    /// none waits, until one does.
    async fn decide_when_due(self: Arc<Self>) {
        loop {
            let next = self.lock().pending.next_due();
            match next {
                Some(due) => tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await,
                None => self.first_pending.notified().await,
            }
            let kept = self
                .lock()
                .decide_due(Instant::now(), self.settings.keep_share);
            if let Err(err) = self.store.insert(kept) {
                tracing::warn!(%err, "cannot store the traces tail sampling kept");
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Puts each span of `batch` with its waiting trace, due at `due`, or,
    /// when its trace was decided already, after that decision: the late
    /// spans of kept traces, to store.
    fn admit(&mut self, batch: Vec<Span>, due: Instant) -> Vec<Span> {
        let mut late_kept = Vec::new();
        // What the spans held here weigh, counted as the store counts them.
        let mut batch_bytes = BatchBytes::default();
        for span in batch {
            match self.decisions.of(&span.trace_id) {
                Some(true) => {
                    self.counts.late_spans_kept += 1;
                    self.counts.spans_kept += 1;
                    late_kept.push(span);
                }
                Some(false) => {
                    self.counts.late_spans_dropped += 1;
                    self.counts.spans_dropped += 1;
                }
                None => {
                    let bytes = batch_bytes.of(&span);
                    self.pending.add(span, bytes, due);
                }
            }
        }
        late_kept
    }

    /// Decides the oldest traces, their wait over or not, while the buffer
    /// is past a bound; the spans of those kept.
    fn decide_early(&mut self, settings: &Settings) -> Vec<Span> {
        let mut kept = Vec::new();
        while self
            .pending
            .is_over(settings.max_pending_spans, settings.max_pending_bytes)
        {
            let Some((trace_id, spans)) = self.pending.take_oldest() else {
                break;
            };
            self.counts.traces_decided_early += 1;
            if let Some(spans) = self.decide(&trace_id, spans, settings.keep_share) {
                kept.extend(spans);
            }
        }
        kept
    }

    /// Decides every trace whose wait is over at `now`; the spans of those
    /// kept.
    fn decide_due(&mut self, now: Instant, keep_share: f64) -> Vec<Span> {
        let mut kept = Vec::new();
        while let Some((trace_id, spans)) = self.pending.take_due(now) {
            if let Some(spans) = self.decide(&trace_id, spans, keep_share) {
                kept.extend(spans);
            }
        }
        kept
    }

    /// Decides one trace by the first rule that keeps it, remembers and
    /// counts the decision; its spans if it is kept. Every trace's root
    /// duration joins its endpoint's window, whatever the decision: the
    /// window is of the endpoint's requests, not of those kept.
    fn decide(&mut self, trace_id: &str, spans: Vec<Span>, keep_share: f64) -> Option<Vec<Span>> {
        let latency = rules::root(&spans).map(|root| {
            self.latencies
                .judge_then_record(&root.service, &root.name, root.duration_us)
        });
        let rule = if rules::has_error(&spans) {
            Some(Rule::Error)
        } else {
            match latency {
                Some(Latency::WarmingUp) => Some(Rule::WarmingUp),
                Some(Latency::Slow) => Some(Rule::Slow),
                _ if in_share(trace_id, keep_share) => Some(Rule::Share),
                _ => None,
            }
        };
        self.decisions.remember(trace_id, rule.is_some());
        let count = spans.len() as u64;
        match rule {
            Some(rule) => {
                self.counts.traces_kept[rule as usize] += 1;
                self.counts.spans_kept += count;
                Some(spans)
            }
            None => {
                self.counts.traces_dropped += 1;
                self.counts.spans_dropped += count;
                None
            }
        }
    }
}
