//! The head sampler: the decision a service takes as a span starts, before
//! anything has happened in it. A trace recorded here is sent whole; a
//! trace dropped here is never seen again.

use opentelemetry_sdk::trace::Sampler;

use crate::budget::Budget;

/// The sampler every service is built with, for `budget`.
#[expect(unused_variables, reason = "step 1 uses the budget")]
pub fn head_sampler(budget: &Budget) -> Sampler {
    // TODO(step 1): `AlwaysOn` records every span, far more than the
    // budget affords. Which share of the traces that start here does it
    // afford, and whose decision does a span follow when its request came
    // with a trace of its caller's (README step 1)?
    Sampler::AlwaysOn
}
