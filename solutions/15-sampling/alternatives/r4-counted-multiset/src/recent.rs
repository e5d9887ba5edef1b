//! What is slow for one endpoint: the p99 of its last [`WINDOW`] root
//! durations, kept in the order they came (to know which one leaves when a
//! new one comes) and counted in a `BTreeMap` of each duration to how many
//! times it is among them: a multiset in order, whose p99 is found by
//! walking down from the slowest past the 1 % above it, a dozen entries at
//! most, rather than by keeping a sorted `Vec` and shifting it at every
//! duration.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use reference::recent::WINDOW;

/// One endpoint's last [`WINDOW`] root durations.
#[derive(Debug, Default)]
pub struct RecentLatency {
    in_arrival_order: VecDeque<Duration>,
    /// Each duration remembered, with how many times it is.
    counts: BTreeMap<Duration, usize>,
}

impl RecentLatency {
    /// The p99 of the durations remembered, nearest rank: the duration that
    /// 99 % of them do not exceed. `None` before the first.
    pub fn p99(&self) -> Option<Duration> {
        let len = self.in_arrival_order.len();
        let rank = (len * 99).div_ceil(100);
        // The durations above the one at `rank`, counted from the slowest.
        let mut above = len - rank;
        for (&duration, &count) in self.counts.iter().rev() {
            if count > above {
                return Some(duration);
            }
            above -= count;
        }
        None
    }

    /// Remembers `duration`, forgetting the oldest once there are
    /// [`WINDOW`].
    pub fn record(&mut self, duration: Duration) {
        if self.in_arrival_order.len() == WINDOW
            && let Some(oldest) = self.in_arrival_order.pop_front()
            && let Entry::Occupied(mut entry) = self.counts.entry(oldest)
        {
            *entry.get_mut() -= 1;
            if *entry.get() == 0 {
                entry.remove();
            }
        }
        *self.counts.entry(duration).or_default() += 1;
        self.in_arrival_order.push_back(duration);
    }
}
