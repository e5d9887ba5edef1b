//! What is slow for one endpoint: the p99 of its last [`WINDOW`] root
//! durations. Every duration is kept, in the order they came, so that the
//! one leaving the window is always [`WINDOW`] back from the newest; the
//! window alone is kept sorted, to read the p99 at once.

use std::time::Duration;

use reference::recent::WINDOW;

/// One endpoint's root durations.
#[derive(Debug, Default)]
pub struct RecentLatency {
    /// Every duration recorded, in the order they came.
    every_duration: Vec<Duration>,
    /// The last [`WINDOW`] of them, sorted.
    sorted: Vec<Duration>,
}

impl RecentLatency {
    /// The p99 of the last [`WINDOW`] durations, nearest rank: the duration
    /// that 99 % of them do not exceed. `None` before the first.
    pub fn p99(&self) -> Option<Duration> {
        let rank = (self.sorted.len() * 99).div_ceil(100);
        rank.checked_sub(1).map(|index| self.sorted[index])
    }

    /// Remembers `duration`, and takes out of the window the one that
    /// leaves it, once there are [`WINDOW`].
    pub fn record(&mut self, duration: Duration) {
        if let Some(leaving) = self.every_duration.len().checked_sub(WINDOW)
            && let Ok(at) = self.sorted.binary_search(&self.every_duration[leaving])
        {
            self.sorted.remove(at);
        }
        let at = self.sorted.partition_point(|&known| known < duration);
        self.sorted.insert(at, duration);
        self.every_duration.push(duration);
    }
}
