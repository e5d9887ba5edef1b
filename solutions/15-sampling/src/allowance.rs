//! What the budget leaves for the ordinary traces, counted in spans by the
//! traces' own clock (when each ended): from the first ordinary trace on,
//! the budget allows so many spans a second; every trace kept takes its
//! spans from that, the failed and the slow first, whatever is left; and
//! an ordinary trace is kept when what is left holds all of its spans.
//!
//! The spans kept never run ahead of the budget, whatever the traffic:
//! twice the traffic expected earns no more room. Public, with
//! [`PLANNED`], so that other designs of the tail policy can take either as
//! it is.

use std::time::SystemTime;

use crate::budget::Budget;
use crate::completed::CompletedTrace;

/// The part of the budget planned to be spent. The rest is headroom: the
/// failed and the slow may come faster than the room they leave is earned.
pub const PLANNED: f64 = 0.9;

/// The count of spans behind the ordinary traces kept.
#[derive(Debug)]
pub struct Allowance {
    /// The budget's spans per second, headroom left.
    spans_per_second: f64,
    /// When the first ordinary trace ended: the budget counts from then.
    since: Option<SystemTime>,
    /// The spans of every trace kept so far.
    kept_spans: f64,
}

impl Allowance {
    /// An allowance for `budget`, which has counted nothing yet.
    pub fn new(budget: &Budget) -> Self {
        Self {
            spans_per_second: PLANNED * budget.stored_spans_per_second,
            since: None,
            kept_spans: 0.0,
        }
    }

    /// Counts a trace kept whatever the budget says.
    pub fn kept_anyway(&mut self, trace: &CompletedTrace) {
        self.kept_spans += trace.span_count() as f64;
    }

    /// Whether an ordinary trace is kept: what the budget has allowed so
    /// far, less every span kept, holds all of its spans. It is then
    /// counted.
    pub fn admits(&mut self, trace: &CompletedTrace) -> bool {
        let spans = trace.span_count() as f64;
        let fits = spans <= self.allowed_by(trace.ended) - self.kept_spans;
        if fits {
            self.kept_spans += spans;
        }
        fits
    }

    /// The spans the budget allows from the first ordinary trace's end to
    /// `ended`.
    fn allowed_by(&mut self, ended: SystemTime) -> f64 {
        let since = *self.since.get_or_insert(ended);
        let elapsed = ended.duration_since(since).unwrap_or_default();
        elapsed.as_secs_f64() * self.spans_per_second
    }
}
