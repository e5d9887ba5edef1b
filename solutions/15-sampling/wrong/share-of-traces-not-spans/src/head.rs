//! The head sampler: a span whose request came with its caller's trace
//! follows the caller's decision, so that a trace is recorded in every
//! service or in none; a root decides by its trace id, keeping the share of
//! traces the budget is believed to afford.

use opentelemetry_sdk::trace::Sampler;

use crate::budget::Budget;

/// The sampler every service is built with, for `budget`: as many traces
/// per second as the store takes spans per second.
pub fn head_sampler(budget: &Budget) -> Sampler {
    let share = budget.stored_spans_per_second / budget.expected_traces_per_second;
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(share)))
}
