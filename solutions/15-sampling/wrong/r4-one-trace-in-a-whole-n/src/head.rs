//! The head sampler: the decision a service takes as a span starts, before
//! anything has happened in it. A span whose request came with its
//! caller's trace follows the caller's decision; a root keeps one trace in
//! every N, by its trace id.

use opentelemetry_sdk::trace::Sampler;

use crate::budget::Budget;

/// The sampler every service is built with, for `budget`: one trace in
/// every N that start here, N how many times the traffic's spans hold the
/// store's.
pub fn head_sampler(budget: &Budget) -> Sampler {
    let offered = budget.expected_traces_per_second * budget.expected_spans_per_trace;
    // One trace in every `one_in`: a whole number of traces, at least one.
    let one_in = ((offered / budget.stored_spans_per_second) as u64).max(1);
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(1.0 / one_in as f64)))
}
