//! The head sampler: the decision a service takes as a span starts, before
//! anything has happened in it.
//!
//! A span whose request came with its caller's trace follows the caller's
//! decision, so that a trace is recorded in every service or in none: a
//! trace with one service's spans and not its caller's is a broken one.
//! Only a root decides, by its trace id, so that every service that were
//! to decide on the same trace would decide alike.

use opentelemetry_sdk::trace::Sampler;

use crate::budget::Budget;

/// The sampler every service is built with, for `budget`: of the traces
/// that start here, the share whose spans the store can take.
pub fn head_sampler(budget: &Budget) -> Sampler {
    let offered = budget.expected_traces_per_second * budget.expected_spans_per_trace;
    let share = budget.stored_spans_per_second / offered;
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(share)))
}
