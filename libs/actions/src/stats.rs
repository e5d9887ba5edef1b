//! Statistics per action: counts by outcome, duration quantiles, rates.
//!
//! Durations go into an HDR histogram (1 µs to 1 h, 3 significant digits:
//! a quantile is exact to within 0.1 %). Rates are exponentially weighted
//! moving averages over 1, 5 and 15 minutes, ticking every 5 seconds of the
//! sink's clock, like Unix load averages and Dropwizard's meters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, SystemClock};
use crate::format::{Record, RecordKind};
use crate::layer::Sink;
use crate::levels::Outcome;

const TICK_NS: u64 = 5_000_000_000;
/// The rate is a moving average over about a minute, as `uptime`'s first
/// load figure is.
const RATE_WINDOW_SECS: f64 = 60.0;

/// What a service knows about one kind of action, as `GET /stats` serves it
/// and the demo's report reads it back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionStats {
    pub action: String,
    pub count: u64,
    pub success: u64,
    pub failure: u64,
    pub exception: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Actions per second, averaged over about the last minute.
    pub rate_1m: f64,
}

/// A moving average of a rate, updated at each tick.
#[derive(Clone, Copy, Default)]
struct Ewma {
    rate: f64,
    started: bool,
}

impl Ewma {
    fn tick(&mut self, alpha: f64, instant_rate: f64) {
        if self.started {
            self.rate += alpha * (instant_rate - self.rate);
        } else {
            self.rate = instant_rate;
            self.started = true;
        }
    }
}

struct PerAction {
    counts: [u64; 3],
    durations: Histogram<u64>,
    rate: Ewma,
    /// Actions since the last tick.
    uncounted: u64,
    last_tick_ns: u64,
}

impl PerAction {
    fn new(now_ns: u64) -> Self {
        Self {
            counts: [0; 3],
            durations: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("valid histogram bounds"),
            rate: Ewma::default(),
            uncounted: 0,
            last_tick_ns: now_ns,
        }
    }

    /// Applies every tick that has passed since the last one.
    fn catch_up(&mut self, now_ns: u64) {
        while now_ns.saturating_sub(self.last_tick_ns) >= TICK_NS {
            let instant_rate = self.uncounted as f64 / (TICK_NS as f64 / 1e9);
            let alpha = 1.0 - (-(TICK_NS as f64 / 1e9) / RATE_WINDOW_SECS).exp();
            self.rate.tick(alpha, instant_rate);
            self.uncounted = 0;
            self.last_tick_ns += TICK_NS;
        }
    }
}

/// The statistics of every action, shared between the sink that feeds them
/// and whoever reads them (a `/stats` endpoint).
pub struct Stats {
    clock: Arc<dyn Clock>,
    actions: Mutex<BTreeMap<&'static str, PerAction>>,
}

impl Default for Stats {
    fn default() -> Self {
        Self::with_clock(SystemClock)
    }
}

impl Stats {
    pub fn with_clock(clock: impl Clock) -> Self {
        Self {
            clock: Arc::new(clock),
            actions: Mutex::new(BTreeMap::new()),
        }
    }

    /// Counts one action that ended at `now_ns` (by a clock that counts
    /// like this one's: both [`SystemClock`]s, or clones of one
    /// [`crate::ManualClock`]).
    pub fn record(&self, name: &'static str, outcome: Outcome, duration_us: u64, now_ns: u64) {
        let now = now_ns;
        let mut actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        let action = actions.entry(name).or_insert_with(|| PerAction::new(now));
        action.catch_up(now);
        action.counts[outcome.index()] += 1;
        action.uncounted += 1;
        action.durations.saturating_record(duration_us.max(1));
    }

    /// Every action's statistics, by name.
    pub fn snapshot(&self) -> Vec<ActionStats> {
        let now = self.clock.now_ns();
        let mut actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        actions
            .iter_mut()
            .map(|(name, action)| {
                action.catch_up(now);
                let h = &action.durations;
                ActionStats {
                    action: (*name).to_owned(),
                    count: action.counts.iter().sum(),
                    success: action.counts[Outcome::Success.index()],
                    failure: action.counts[Outcome::Failure.index()],
                    exception: action.counts[Outcome::Exception.index()],
                    p50_us: h.value_at_quantile(0.5),
                    p90_us: h.value_at_quantile(0.9),
                    p99_us: h.value_at_quantile(0.99),
                    max_us: h.max(),
                    rate_1m: action.rate.rate,
                }
            })
            .collect()
    }
}

/// The sink that feeds [`Stats`]: every action counts, whatever its level.
#[derive(Clone, Default)]
pub struct StatsSink {
    stats: Arc<Stats>,
}

impl StatsSink {
    pub fn new(stats: Arc<Stats>) -> Self {
        Self { stats }
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }
}

impl Sink for StatsSink {
    fn wants(&self, _kind: RecordKind) -> bool {
        false
    }

    fn record(&self, _record: &Record) {}

    fn ended(&self, name: &'static str, outcome: Outcome, duration_us: u64, now_ns: u64) {
        self.stats.record(name, outcome, duration_us, now_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn counts_quantiles_and_rates() {
        let clock = ManualClock::default();
        let stats = Stats::with_clock(clock.clone());
        for d in 1..=1000 {
            stats.record("reserve", Outcome::Success, d * 10, clock.now_ns());
        }
        stats.record("reserve", Outcome::Failure, 5, clock.now_ns());
        stats.record("reserve", Outcome::Exception, 5, clock.now_ns());
        clock.advance_secs(5);
        let s = &stats.snapshot()[0];
        assert_eq!(
            (s.count, s.success, s.failure, s.exception),
            (1002, 1000, 1, 1)
        );
        let within = |value: u64, expected: u64| value.abs_diff(expected) <= expected / 1000 + 1;
        // 1002 values: 5, 5, 10, 20, … 10000; the median is the 501st.
        assert!(within(s.p50_us, 4_990), "{}", s.p50_us);
        assert!(within(s.p99_us, 9_900), "{}", s.p99_us);
        assert!(within(s.max_us, 10_000), "{}", s.max_us);
        // 1002 actions in the first 5 s tick: 200.4 per second, to start with.
        assert!((s.rate_1m - 200.4).abs() < 1e-6, "{}", s.rate_1m);
        // A quiet minute (twelve 5 s ticks) decays it by a factor of e.
        clock.advance_secs(60);
        let s = &stats.snapshot()[0];
        let decayed = 200.4 * (-1.0_f64).exp();
        assert!((s.rate_1m - decayed).abs() < 1e-6, "{}", s.rate_1m);
    }
}
