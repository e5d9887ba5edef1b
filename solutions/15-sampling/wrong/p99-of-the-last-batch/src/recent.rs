//! What is slow for one endpoint: the p99 of its last full batch of
//! [`WINDOW`] root durations. Durations gather in the batch being filled;
//! once it holds [`WINDOW`], it is sorted, its p99 read, and it starts
//! again empty. Memory is one batch, whatever the endpoint's traffic.

use std::time::Duration;

use reference::recent::WINDOW;

/// One endpoint's batch of root durations, and the p99 of the last one
/// filled.
#[derive(Debug, Default)]
pub struct RecentLatency {
    /// The durations since the last batch was filled.
    filling: Vec<Duration>,
    /// The p99 of the last full batch, nearest rank.
    p99: Option<Duration>,
}

impl RecentLatency {
    /// The p99 of the last full batch: the duration that 99 % of it do not
    /// exceed. `None` until a batch is full.
    pub fn p99(&self) -> Option<Duration> {
        self.p99
    }

    /// Remembers `duration`, and once the batch is full, reads its p99 and
    /// starts the next.
    pub fn record(&mut self, duration: Duration) {
        self.filling.push(duration);
        if self.filling.len() == WINDOW {
            self.filling.sort_unstable();
            self.p99 = Some(self.filling[(WINDOW * 99).div_ceil(100) - 1]);
            self.filling.clear();
        }
    }
}
