//! The tail policy: the decision taken once a trace is complete, when its
//! errors and its latency are known. Kept, whatever the budget says: every
//! trace in which any span failed, and every trace slower than the recent
//! p99 of all the traffic. Of the rest, what the budget leaves.

use reference::tail::failed;

use crate::allowance::Allowance;
use crate::budget::Budget;
use crate::completed::CompletedTrace;
use crate::keep::Keep;
use crate::recent::RecentLatency;

/// What the policy remembers from one trace to the next: the traffic's
/// recent latencies, and the count of spans behind the budget.
#[derive(Debug)]
pub struct TailPolicy {
    recent: RecentLatency,
    allowance: Allowance,
}

impl TailPolicy {
    /// A policy for `budget`, which has seen no trace yet.
    pub fn new(budget: &Budget) -> Self {
        Self {
            recent: RecentLatency::default(),
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

    /// Whether the trace's root took longer than the recent p99 of every
    /// endpoint's traces together; its duration is then one of them.
    fn is_slow(&mut self, trace: &CompletedTrace) -> bool {
        let slow = self
            .recent
            .p99()
            .is_some_and(|p99| trace.root_duration > p99);
        self.recent.record(trace.root_duration);
        slow
    }
}
