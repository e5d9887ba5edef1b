//! What is slow for one endpoint: the p99 of its last [`WINDOW`] root
//! durations, kept twice over, in the order they came (to know which one
//! leaves when a new one comes) and sorted (to read the p99 at once).
//!
//! Public, with [`WINDOW`], so that other designs of the tail policy can
//! take either as it is.

use std::collections::VecDeque;
use std::time::Duration;

/// How many of an endpoint's latest root durations its p99 is taken over:
/// enough for ten above it, few enough to follow a change within minutes.
pub const WINDOW: usize = 1_000;

/// One endpoint's last [`WINDOW`] root durations.
#[derive(Debug, Default)]
pub struct RecentLatency {
    in_arrival_order: VecDeque<Duration>,
    sorted: Vec<Duration>,
}

impl RecentLatency {
    /// The p99 of the durations remembered, nearest rank: the duration that
    /// 99 % of them do not exceed. `None` before the first.
    pub fn p99(&self) -> Option<Duration> {
        let rank = (self.sorted.len() * 99).div_ceil(100);
        rank.checked_sub(1).map(|index| self.sorted[index])
    }

    /// Remembers `duration`, forgetting the oldest once there are
    /// [`WINDOW`].
    pub fn record(&mut self, duration: Duration) {
        if self.in_arrival_order.len() == WINDOW
            && let Some(oldest) = self.in_arrival_order.pop_front()
            && let Ok(at) = self.sorted.binary_search(&oldest)
        {
            self.sorted.remove(at);
        }
        let at = self.sorted.partition_point(|&known| known < duration);
        self.sorted.insert(at, duration);
        self.in_arrival_order.push_back(duration);
    }
}
