//! What the budget leaves for the ordinary traces, as a share of them drawn
//! at random, worked out again at every trace from what has been counted so
//! far: the spans that came, and those kept whatever the budget said (the
//! failed and the slow). The share is the part of the spans the budget
//! affords at the expected traffic, less what was kept anyway, over the
//! ordinary spans.
//!
//! At random rather than by trace id: a collector that sees each trace
//! whole needs no other to agree with it. Two collectors that each see
//! part of a trace's spans would keep different parts of it, and the same
//! traffic decided again keeps other traces. Like any share, it trusts the
//! expected traffic: twice the traffic would keep twice the spans.

use reference::allowance::PLANNED;

use crate::budget::Budget;
use crate::completed::CompletedTrace;

/// The count of spans behind the share of ordinary traces kept.
#[derive(Debug)]
pub struct Allowance {
    /// The part of all spans the store can take, headroom left.
    affordable: f64,
    seen_spans: u64,
    kept_anyway_spans: u64,
}

impl Allowance {
    /// An allowance for `budget`, which has counted nothing yet.
    pub fn new(budget: &Budget) -> Self {
        let offered = budget.expected_traces_per_second * budget.expected_spans_per_trace;
        Self {
            affordable: PLANNED * (budget.stored_spans_per_second / offered),
            seen_spans: 0,
            kept_anyway_spans: 0,
        }
    }

    /// Counts a trace kept whatever the budget says.
    pub fn kept_anyway(&mut self, trace: &CompletedTrace) {
        let spans = trace.span_count() as u64;
        self.seen_spans += spans;
        self.kept_anyway_spans += spans;
    }

    /// Whether an ordinary trace is kept: a draw falls within the share of
    /// the ordinary spans that what is affordable, less what was kept
    /// anyway, leaves.
    pub fn admits(&mut self, trace: &CompletedTrace) -> bool {
        self.seen_spans += trace.span_count() as u64;
        let left = self.affordable * self.seen_spans as f64 - self.kept_anyway_spans as f64;
        let ordinary = (self.seen_spans - self.kept_anyway_spans) as f64;
        fastrand::f64() < left / ordinary
    }
}
