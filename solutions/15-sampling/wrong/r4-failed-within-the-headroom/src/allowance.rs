//! What the budget allows, counted in spans by the traces' own clock (when
//! each ended), from the first trace on, in two parts: the part planned,
//! for the ordinary traces, and the tenth left, the room of the failed and
//! the slow. A trace is kept when what its part has allowed so far, less
//! the spans that part has kept, holds all of its spans.

use std::time::SystemTime;

use reference::allowance::PLANNED;

use crate::budget::Budget;
use crate::completed::CompletedTrace;

/// The count of spans behind the traces kept, part by part.
#[derive(Debug)]
pub struct Allowance {
    /// The budget's spans per second, all of it.
    spans_per_second: f64,
    /// When the first trace ended: the budget counts from then.
    since: Option<SystemTime>,
    /// The spans of every ordinary trace kept so far.
    kept_ordinary: f64,
    /// The spans of every failed or slow trace kept so far.
    kept_first: f64,
}

impl Allowance {
    /// An allowance for `budget`, which has counted nothing yet.
    pub fn new(budget: &Budget) -> Self {
        Self {
            spans_per_second: budget.stored_spans_per_second,
            since: None,
            kept_ordinary: 0.0,
            kept_first: 0.0,
        }
    }

    /// Whether a failed or slow trace is kept: the tenth of the budget left
    /// unplanned, less what the failed and the slow kept, holds its spans.
    /// It is then counted.
    pub fn admits_first(&mut self, trace: &CompletedTrace) -> bool {
        let spans = trace.span_count() as f64;
        let fits = spans <= self.allowed_by(trace.ended) * (1.0 - PLANNED) - self.kept_first;
        if fits {
            self.kept_first += spans;
        }
        fits
    }

    /// Whether an ordinary trace is kept: the part of the budget planned,
    /// less what the ordinary traces kept, holds its spans. It is then
    /// counted.
    pub fn admits(&mut self, trace: &CompletedTrace) -> bool {
        let spans = trace.span_count() as f64;
        let fits = spans <= self.allowed_by(trace.ended) * PLANNED - self.kept_ordinary;
        if fits {
            self.kept_ordinary += spans;
        }
        fits
    }

    /// The spans the whole budget allows from the first trace's end to
    /// `ended`.
    fn allowed_by(&mut self, ended: SystemTime) -> f64 {
        let since = *self.since.get_or_insert(ended);
        let elapsed = ended.duration_since(since).unwrap_or_default();
        elapsed.as_secs_f64() * self.spans_per_second
    }
}
