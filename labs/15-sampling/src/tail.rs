//! The tail policy: the decision taken once a trace is complete, when its
//! errors and its latency are known.

use crate::budget::Budget;
use crate::completed::CompletedTrace;
use crate::keep::Keep;

/// What the policy remembers from one trace to the next.
pub struct TailPolicy {
    // TODO(step 3): what the policy must remember to tell a slow trace from
    // a usual one, endpoint by endpoint, in memory that stays bounded
    // however long it runs (README step 3).
    // TODO(step 4): what it counts to keep the rest within the budget
    // (README step 4).
}

impl TailPolicy {
    /// A policy for `budget`, which has seen no trace yet.
    #[expect(unused_variables, reason = "step 4 uses the budget")]
    pub fn new(budget: &Budget) -> Self {
        Self {}
    }

    /// Whether `trace`, complete, is stored.
    #[expect(unused_variables, reason = "steps 2 to 4 read the trace")]
    pub fn decide(&mut self, trace: &CompletedTrace) -> Keep {
        // TODO(step 2): a trace in which anything failed is what someone
        // will come looking for. Where in the trace can a failure be
        // recorded (README step 2)?
        Keep::No
    }
}
