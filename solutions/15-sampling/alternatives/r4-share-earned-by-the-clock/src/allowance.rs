//! What the budget leaves for the ordinary traces, as a share of them
//! chosen by trace id, worked out again at every trace from what has been
//! counted so far: the spans the budget has earned by the traces' own
//! clock (from the first ordinary trace's end to this one's, headroom
//! left), less those kept whatever the budget said (the failed and the
//! slow), over the ordinary spans that came.
//!
//! By trace id, so that two collectors that each see part of a trace's
//! spans keep or drop it alike; by the clock rather than by the expected
//! traffic, so that twice the traffic expected earns no more room.

use std::time::SystemTime;

use opentelemetry::trace::TraceId;
use reference::allowance::PLANNED;

use crate::budget::Budget;
use crate::completed::CompletedTrace;

/// The count of spans behind the share of ordinary traces kept.
#[derive(Debug)]
pub struct Allowance {
    /// The budget's spans per second, headroom left.
    spans_per_second: f64,
    /// When the first ordinary trace ended: the budget counts from then.
    since: Option<SystemTime>,
    /// The spans of every trace kept whatever the budget said.
    kept_anyway_spans: f64,
    /// The spans of every ordinary trace that came, kept or not.
    ordinary_spans: f64,
}

impl Allowance {
    /// An allowance for `budget`, which has counted nothing yet.
    pub fn new(budget: &Budget) -> Self {
        Self {
            spans_per_second: PLANNED * budget.stored_spans_per_second,
            since: None,
            kept_anyway_spans: 0.0,
            ordinary_spans: 0.0,
        }
    }

    /// Counts a trace kept whatever the budget says.
    pub fn kept_anyway(&mut self, trace: &CompletedTrace) {
        self.kept_anyway_spans += trace.span_count() as f64;
    }

    /// Whether an ordinary trace is kept: its trace id falls within the
    /// share of the ordinary spans that the budget earned so far, less what
    /// was kept anyway, leaves.
    pub fn admits(&mut self, trace: &CompletedTrace) -> bool {
        self.ordinary_spans += trace.span_count() as f64;
        let since = *self.since.get_or_insert(trace.ended);
        let elapsed = trace.ended.duration_since(since).unwrap_or_default();
        let left = elapsed.as_secs_f64() * self.spans_per_second - self.kept_anyway_spans;
        position(trace.trace_id) < left / self.ordinary_spans
    }
}

/// Where a trace id falls between 0 and 1: its low 64 bits, random in
/// every id a W3C Trace Context service draws.
fn position(trace_id: TraceId) -> f64 {
    let low = u128::from_be_bytes(trace_id.to_bytes()) as u64;
    low as f64 / u64::MAX as f64
}
