//! The head sampler: the budget's share of trace ids, for every span. Every
//! span of a trace carries the trace's id, so each is believed to take the
//! decision its root took.

use opentelemetry_sdk::trace::Sampler;

use crate::budget::Budget;

/// The sampler every service is built with, for `budget`: the share of
/// trace ids whose spans the store can take.
pub fn head_sampler(budget: &Budget) -> Sampler {
    let offered = budget.expected_traces_per_second * budget.expected_spans_per_trace;
    let share = budget.stored_spans_per_second / offered;
    Sampler::TraceIdRatioBased(share)
}
