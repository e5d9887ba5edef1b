//! What the budget leaves for the ordinary traces, as a bucket of spans:
//! it fills at the planned part of the budget's rate as the traces' own
//! clock advances (when each ended), and holds one second of it at most,
//! so that a quiet spell saves up for no larger burst. A failed or slow
//! trace takes its spans from it even below empty; an ordinary trace is
//! kept when the bucket holds all of its spans, and the ordinary wait
//! while the failed and the slow are paid back.
//!
//! Unlike a share worked out from the expected traffic, a bucket keeps
//! within the budget whatever the traffic: twice the traffic fills it no
//! faster. Unlike a share by trace id, two collectors that each see part of
//! a trace's spans would not keep the same traces.

use std::time::SystemTime;

use reference::allowance::PLANNED;

use crate::budget::Budget;
use crate::completed::CompletedTrace;

/// The most the bucket holds, in seconds of the planned rate.
const BURST_SECONDS: f64 = 1.0;

/// The bucket of spans behind the ordinary traces kept.
#[derive(Debug)]
pub struct Allowance {
    spans_per_second: f64,
    /// Spans in the bucket: below zero while the failed and the slow are
    /// paid back.
    spans: f64,
    /// The latest end of a trace seen: a trace that ended before it adds
    /// no time.
    now: Option<SystemTime>,
}

impl Allowance {
    /// An empty bucket for `budget`.
    pub fn new(budget: &Budget) -> Self {
        Self {
            spans_per_second: PLANNED * budget.stored_spans_per_second,
            spans: 0.0,
            now: None,
        }
    }

    /// Takes the spans of a trace kept whatever the budget says.
    pub fn kept_anyway(&mut self, trace: &CompletedTrace) {
        self.fill_until(trace.ended);
        self.spans -= trace.span_count() as f64;
    }

    /// Whether an ordinary trace is kept: the bucket holds all its spans,
    /// which it then takes.
    pub fn admits(&mut self, trace: &CompletedTrace) -> bool {
        self.fill_until(trace.ended);
        let spans = trace.span_count() as f64;
        let fits = self.spans >= spans;
        if fits {
            self.spans -= spans;
        }
        fits
    }

    /// Adds the spans the time since the latest end seen earns.
    fn fill_until(&mut self, ended: SystemTime) {
        let elapsed = self
            .now
            .and_then(|now| ended.duration_since(now).ok())
            .unwrap_or_default();
        let most = self.spans_per_second * BURST_SECONDS;
        self.spans = (self.spans + elapsed.as_secs_f64() * self.spans_per_second).min(most);
        self.now = Some(self.now.map_or(ended, |now| now.max(ended)));
    }
}
