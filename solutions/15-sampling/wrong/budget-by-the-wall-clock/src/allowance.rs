//! What the budget leaves for the ordinary traces, counted in spans by the
//! clock: from the first ordinary trace on, the budget allows so many spans
//! for every second that passes; every trace kept takes its spans from
//! that, the failed and the slow first, whatever is left; and an ordinary
//! trace is kept when what is left holds all of its spans.

use std::time::Instant;

use reference::allowance::PLANNED;

use crate::budget::Budget;
use crate::completed::CompletedTrace;

/// The count of spans behind the ordinary traces kept.
#[derive(Debug)]
pub struct Allowance {
    /// The budget's spans per second, headroom left.
    spans_per_second: f64,
    /// When the first ordinary trace was decided: the budget counts from
    /// then.
    since: Option<Instant>,
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
        let fits = spans <= self.allowed_by_now() - self.kept_spans;
        if fits {
            self.kept_spans += spans;
        }
        fits
    }

    /// The spans the budget allows from the first ordinary trace's
    /// decision to now.
    fn allowed_by_now(&mut self) -> f64 {
        let since = *self.since.get_or_insert_with(Instant::now);
        since.elapsed().as_secs_f64() * self.spans_per_second
    }
}
