//! The tail policy, the reference's, written out again because it holds
//! this design's `Allowance`: every failed trace kept, every trace slower
//! than its endpoint's recent p99, and of the rest a share by trace id of
//! what the traces' clock has earned.

use std::collections::HashMap;

use reference::tail::failed;

use crate::allowance::Allowance;
use crate::budget::Budget;
use crate::completed::{CompletedTrace, Endpoint};
use crate::keep::Keep;
use crate::recent::RecentLatency;

/// What the policy remembers from one trace to the next: each endpoint's
/// recent latencies, and the count of spans behind the budget.
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

    /// Whether `trace`, complete, is stored.
    pub fn decide(&mut self, trace: &CompletedTrace) -> Keep {
        let slow = self.is_slow(trace);
        if slow || failed(trace) {
            self.allowance.kept_anyway(trace);
            Keep::Yes
        } else if self.allowance.admits(trace) {
            Keep::Yes
        } else {
            Keep::No
        }
    }

    /// Whether the trace's root took longer than its endpoint's recent
    /// p99; its duration is then one of them.
    fn is_slow(&mut self, trace: &CompletedTrace) -> bool {
        let recent = self.recent.entry(trace.endpoint.clone()).or_default();
        let slow = recent.p99().is_some_and(|p99| trace.root_duration > p99);
        recent.record(trace.root_duration);
        slow
    }
}
