//! The tail policy: the decision taken once a trace is complete, when its
//! errors and its latency are known. Kept, whatever the budget says: every
//! trace in which any span failed, and every trace slower than the p99 of
//! its endpoint's recent ordinary traces. Of the rest, what the budget
//! leaves; and only those are remembered among the endpoint's latencies.

use std::collections::HashMap;

use reference::tail::failed;

use crate::allowance::Allowance;
use crate::budget::Budget;
use crate::completed::{CompletedTrace, Endpoint};
use crate::keep::Keep;
use crate::recent::RecentLatency;

/// What the policy remembers from one trace to the next: each endpoint's
/// recent latencies, of its ordinary traces alone, and the count of spans
/// behind the budget.
#[derive(Debug)]
pub struct TailPolicy {
    recent: HashMap<Endpoint, RecentLatency>,
    allowance: Allowance,
}

impl TailPolicy {
    /// A policy for `budget`, which has seen no trace yet.
    pub fn new(budget: &Budget) -> Self {
        Self {
            recent: HashMap::new(),
            allowance: Allowance::new(budget),
        }
    }

    /// Whether `trace`, complete, is stored. A slow or failed trace is kept
    /// and left out of its endpoint's latencies, so as not to drag them up;
    /// an ordinary one is remembered there.
    pub fn decide(&mut self, trace: &CompletedTrace) -> Keep {
        let recent = self.recent.entry(trace.endpoint.clone()).or_default();
        let slow = recent.p99().is_some_and(|p99| trace.root_duration > p99);
        if slow || failed(trace) {
            self.allowance.kept_anyway(trace);
            return Keep::Yes;
        }
        recent.record(trace.root_duration);
        if self.allowance.admits(trace) {
            Keep::Yes
        } else {
            Keep::No
        }
    }
}
