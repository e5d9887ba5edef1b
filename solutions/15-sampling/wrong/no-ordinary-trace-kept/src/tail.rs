//! The tail policy: the decision taken once a trace is complete, when its
//! errors and its latency are known. Kept: every trace in which any span
//! failed, and every trace slower than its endpoint's recent p99; those are
//! few enough to fit any budget, and the rest is dropped.

use std::collections::HashMap;

use reference::tail::failed;

use crate::budget::Budget;
use crate::completed::{CompletedTrace, Endpoint};
use crate::keep::Keep;
use crate::recent::RecentLatency;

/// What the policy remembers from one trace to the next: each endpoint's
/// recent latencies.
#[derive(Debug)]
pub struct TailPolicy {
    recent: HashMap<Endpoint, RecentLatency>,
}

impl TailPolicy {
    /// A policy for `budget`, which has seen no trace yet; what it keeps is
    /// believed to fit any budget.
    pub fn new(_budget: &Budget) -> Self {
        Self {
            recent: HashMap::new(),
        }
    }

    /// Whether `trace`, complete, is stored.
    pub fn decide(&mut self, trace: &CompletedTrace) -> Keep {
        let slow = self.is_slow(trace);
        if slow || failed(trace) {
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
