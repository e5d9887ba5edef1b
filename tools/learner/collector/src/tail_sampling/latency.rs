//! What is slow for an endpoint: the p99 of its recent root durations.
//!
//! An endpoint is its root span's service and operation (`gateway`, `POST
//! /orders`): a search and a checkout are slow at different durations, so
//! each is judged against its own. Its recent durations are a rolling
//! window in two halves of hdrhistogram: every duration goes into the
//! window and into its recent half; once the recent half holds
//! [`WINDOW_DURATIONS`]` / 2`, the window becomes that half alone and a new
//! half begins. The window so holds the last 1,000 to 2,000 durations
//! (a few minutes of the demo's busiest endpoint): recent enough to follow
//! a change (a fix, a slower release), long enough for a p99 of 10 or more
//! durations above it. Each histogram keeps two significant figures (the
//! p99 within 1 %) up to an hour, some 13 KB; an endpoint costs two.
//!
//! Until its window holds [`WARM_UP_DURATIONS`], an endpoint cannot tell
//! slow from usual, and its traces are all kept. Endpoints are at most
//! [`MAX_ENDPOINTS`] (26 MB of histograms): a sender that names roots
//! without end (an id in an operation's name) makes the least recently
//! judged endpoint forgotten, not the memory grow.

use foldhash::HashMap;
use hdrhistogram::Histogram;

/// The most recent root durations an endpoint's p99 is taken over; it is
/// taken over at least half as many, once there have been as many.
pub const WINDOW_DURATIONS: u64 = 2_000;
/// Durations an endpoint's window needs before it judges slowness: with
/// 100, the p99 is the slowest but one.
pub const WARM_UP_DURATIONS: u64 = 100;
/// Endpoints judged at once; past this, the least recently judged is
/// forgotten (and warms up again, should it come back).
pub const MAX_ENDPOINTS: usize = 1_000;

/// The longest duration told apart, in µs: an hour. Longer ones count as
/// an hour, which is above any p99 a request's traces have.
const HIGHEST_US: u64 = 3_600_000_000;
/// Two significant figures: the p99 within 1 %.
const SIGNIFICANT_FIGURES: u8 = 2;

/// How a root's duration compares with its endpoint's recent ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Latency {
    /// Too few recent durations to tell.
    WarmingUp,
    /// Above the recent p99.
    Slow,
    /// At or below it.
    Usual,
}

/// One endpoint's recent durations.
struct Window {
    /// The last [`WINDOW_DURATIONS`]` / 2` to [`WINDOW_DURATIONS`].
    all: Histogram<u32>,
    /// Those since the window last turned: the next window's first half.
    recent: Histogram<u32>,
    /// When it was last judged by, for forgetting the least recent.
    last_judged: u64,
}

impl Window {
    fn record(&mut self, duration_us: u64) {
        self.all.saturating_record(duration_us);
        self.recent.saturating_record(duration_us);
        if self.recent.len() >= WINDOW_DURATIONS / 2 {
            // The older half leaves the window; the recent one is the
            // older from now on.
            self.all.clone_from(&self.recent);
            self.recent.reset();
        }
    }
}

/// Every endpoint's window.
pub(super) struct Latencies {
    windows: HashMap<(String, String), Window>,
    /// An empty histogram of the windows' bounds, copied for each new one.
    empty: Histogram<u32>,
    judged: u64,
}

impl Latencies {
    pub(super) fn new() -> Self {
        Self {
            windows: HashMap::default(),
            empty: Histogram::new_with_bounds(1, HIGHEST_US, SIGNIFICANT_FIGURES)
                .expect("valid histogram bounds"),
            judged: 0,
        }
    }

    /// Judges a root of `service`'s `operation` that took `duration_us`
    /// against the endpoint's recent roots, then adds it to them.
    pub(super) fn judge_then_record(
        &mut self,
        service: &str,
        operation: &str,
        duration_us: u64,
    ) -> Latency {
        self.judged += 1;
        let endpoint = (service.to_owned(), operation.to_owned());
        if self.windows.len() >= MAX_ENDPOINTS && !self.windows.contains_key(&endpoint) {
            self.forget_least_recently_judged();
        }
        let window = self.windows.entry(endpoint).or_insert_with(|| Window {
            all: self.empty.clone(),
            recent: self.empty.clone(),
            last_judged: 0,
        });
        window.last_judged = self.judged;
        let latency = if window.all.len() < WARM_UP_DURATIONS {
            Latency::WarmingUp
        } else if duration_us > window.all.value_at_quantile(0.99) {
            Latency::Slow
        } else {
            Latency::Usual
        };
        window.record(duration_us);
        latency
    }

    fn forget_least_recently_judged(&mut self) {
        let least = self
            .windows
            .iter()
            .min_by_key(|(_, window)| window.last_judged)
            .map(|(endpoint, _)| endpoint.clone());
        if let Some(endpoint) = least {
            self.windows.remove(&endpoint);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_warms_up_then_keeps_what_is_above_its_p99() {
        let mut latencies = Latencies::new();
        for duration in 1..=WARM_UP_DURATIONS {
            assert_eq!(
                latencies.judge_then_record("svc", "op", duration * 1_000),
                Latency::WarmingUp
            );
        }
        // 1 ms to 100 ms: the p99 is 99 ms, within 1 %.
        assert_eq!(
            latencies.judge_then_record("svc", "op", 98_000),
            Latency::Usual
        );
        assert_eq!(
            latencies.judge_then_record("svc", "op", 150_000),
            Latency::Slow
        );
        assert_eq!(
            latencies.judge_then_record("svc", "other", 150_000),
            Latency::WarmingUp,
            "each endpoint has its own window"
        );
    }

    #[test]
    fn the_window_forgets_the_older_half_once_the_recent_one_is_full() {
        let mut latencies = Latencies::new();
        // A slow past: a window's worth of 1 s roots.
        for _ in 0..WINDOW_DURATIONS {
            latencies.judge_then_record("svc", "op", 1_000_000);
        }
        // Then a faster endpoint: half a window of 10 ms roots turns it,
        // and 20 ms is slow once the 1 s roots have left.
        for _ in 0..WINDOW_DURATIONS / 2 {
            latencies.judge_then_record("svc", "op", 10_000);
        }
        assert_eq!(
            latencies.judge_then_record("svc", "op", 20_000),
            Latency::Slow
        );
    }

    #[test]
    fn past_the_most_endpoints_the_least_recently_judged_is_forgotten() {
        let mut latencies = Latencies::new();
        for endpoint in 0..MAX_ENDPOINTS {
            latencies.judge_then_record("svc", &endpoint.to_string(), 1);
        }
        latencies.judge_then_record("svc", "0", 1);
        latencies.judge_then_record("svc", "new", 1);
        assert_eq!(latencies.windows.len(), MAX_ENDPOINTS);
        assert!(
            latencies
                .windows
                .contains_key(&("svc".to_owned(), "0".to_owned()))
        );
        assert!(
            !latencies
                .windows
                .contains_key(&("svc".to_owned(), "1".to_owned()))
        );
    }
}
