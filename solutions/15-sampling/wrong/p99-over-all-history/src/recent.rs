//! What is slow for one endpoint: the p99 of every root duration it has
//! had, in an HDR histogram, whose size is fixed however many it counts.
//!
//! Reading a p99 walks the histogram's buckets, which costs far more than
//! recording a duration: it is read anew every [`READ_EVERY`] durations,
//! and kept in between, since ten durations move it little.

use std::time::Duration;

use hdrhistogram::Histogram;

/// The longest duration told apart, in µs: a minute. Longer ones count as
/// a minute, above any p99 a request's root has.
const HIGHEST_US: u64 = 60_000_000;
/// Two significant figures: the p99 within 1 %.
const SIGNIFICANT_FIGURES: u8 = 2;
/// Durations recorded between two readings of the p99.
const READ_EVERY: u32 = 10;

/// One endpoint's root durations, all of them.
#[derive(Debug)]
pub struct RecentLatency {
    /// Every duration recorded since the policy began.
    every_duration: Histogram<u32>,
    /// Their p99 when last read.
    p99: Option<Duration>,
    /// Durations recorded since.
    unread: u32,
}

impl Default for RecentLatency {
    fn default() -> Self {
        Self {
            every_duration: Histogram::new_with_bounds(1, HIGHEST_US, SIGNIFICANT_FIGURES)
                .expect("a microsecond to a minute, in two figures, are valid bounds"),
            p99: None,
            unread: 0,
        }
    }
}

impl RecentLatency {
    /// The p99 of the durations recorded, as last read. `None` before the
    /// first.
    pub fn p99(&self) -> Option<Duration> {
        self.p99
    }

    /// Remembers `duration`, and reads the p99 anew every [`READ_EVERY`]
    /// durations.
    pub fn record(&mut self, duration: Duration) {
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.every_duration.saturating_record(micros);
        self.unread += 1;
        if self.p99.is_none() || self.unread == READ_EVERY {
            let micros = self.every_duration.value_at_quantile(0.99);
            self.p99 = Some(Duration::from_micros(micros));
            self.unread = 0;
        }
    }
}
