//! What is slow for one endpoint, in HDR histograms: every root duration
//! goes into the window and into its newer half; once the newer half holds
//! [`HALF`] durations, the window becomes that half alone and a new half
//! begins. The window so holds the last 1,000 to 2,000 durations, once
//! there have been 1,000. Each histogram has a fixed size, whatever it
//! counts.
//!
//! Reading a p99 walks the histogram's buckets, which costs far more than
//! recording a duration: it is read anew every [`READ_EVERY`] durations,
//! and kept in between, since ten durations move it little.

use std::time::Duration;

use hdrhistogram::Histogram;
use reference::recent::WINDOW;

/// Durations in each half of the window: the whole 1,000 that recent
/// asks for, so that the window never holds fewer.
const HALF: usize = WINDOW;
/// The longest duration told apart, in µs: a minute. Longer ones count as
/// a minute, above any p99 a request's root has.
const HIGHEST_US: u64 = 60_000_000;
/// Two significant figures: the p99 within 1 %.
const SIGNIFICANT_FIGURES: u8 = 2;
/// Durations recorded between two readings of the p99.
const READ_EVERY: u32 = 10;

/// One endpoint's recent root durations.
#[derive(Debug)]
pub struct RecentLatency {
    /// The last [`HALF`] to twice [`HALF`] durations.
    window: Histogram<u32>,
    /// Those since the window last turned: the next window's first half.
    newer_half: Histogram<u32>,
    /// The window's p99 when last read.
    p99: Option<Duration>,
    /// Durations recorded since.
    unread: u32,
}

impl Default for RecentLatency {
    fn default() -> Self {
        let empty = Histogram::new_with_bounds(1, HIGHEST_US, SIGNIFICANT_FIGURES)
            .expect("a microsecond to a minute, in two figures, are valid bounds");
        Self {
            window: empty.clone(),
            newer_half: empty,
            p99: None,
            unread: 0,
        }
    }
}

impl RecentLatency {
    /// The p99 of the recent durations as last read. `None` before the
    /// first.
    pub fn p99(&self) -> Option<Duration> {
        self.p99
    }

    /// Remembers `duration`, turns the window once its newer half is full,
    /// and reads the p99 anew every [`READ_EVERY`] durations.
    pub fn record(&mut self, duration: Duration) {
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.window.saturating_record(micros);
        self.newer_half.saturating_record(micros);
        if self.newer_half.len() == HALF as u64 {
            let fresh = Histogram::new_from(&self.newer_half);
            self.window = std::mem::replace(&mut self.newer_half, fresh);
        }
        self.unread += 1;
        if self.p99.is_none() || self.unread == READ_EVERY {
            let micros = self.window.value_at_quantile(0.99);
            self.p99 = Some(Duration::from_micros(micros));
            self.unread = 0;
        }
    }
}
