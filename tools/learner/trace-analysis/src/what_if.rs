//! What if one operation took more or less of the critical path: each
//! trace's latency projected, and the endpoint's percentiles measured and
//! projected.
//!
//! `just crisp --what-if "inventory reserve -50%"` asks how the endpoint
//! would fare if the inventory's `reserve` took half the time it holds on
//! each trace's critical path. For each trace of the endpoint, with `t`
//! the operation's exclusive critical-path time in it (summed over its
//! calling contexts, as [`crate::aggregate`] keys it; zero where it is off
//! the path) and `factor = 1 + percent / 100`:
//!
//! ```text
//! projected latency = latency − (1 − factor) · t      (never below 0)
//! ```
//!
//! The projected latencies are then ranked as the measured ones are, into
//! the same percentiles and bands ([`crate::aggregate::BANDS`], by the
//! same code), each set by its own ranking: a trace can move to another
//! band.
//!
//! The projection is first order: it assumes that the rest of the critical
//! path does not move, as CRISP's own what-if does. Only the operation's
//! own time scales (its children's time is theirs), and only where it is
//! on the path. That is exact when nothing runs beside the operation (a
//! serial trace). When something does, the path can shift:
//!
//! - **A speed-up** can hand the path to a sibling branch that ran beside
//!   the operation and ended a little earlier. The real latency then lies
//!   between the projected and the measured one: the projected saving is an
//!   upper bound. It overstates the saving by at most how much it exceeds
//!   the slack, how much sooner the longest path that avoids the operation
//!   ended: by nothing when the slack is larger than the saving, by all of
//!   it when a sibling was exactly as long.
//! - **A slow-down** lengthens the measured critical path by exactly the
//!   projected amount, and shortens no other path: the projected growth is
//!   a lower bound, exceeded when the operation's time off the path (in a
//!   branch beside the critical one) makes that branch the longer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregator, band_ranges};

/// How a change is written, as `--what-if` takes it.
pub const SHAPE: &str = "SERVICE OPERATION ±PCT%";

/// One operation's time on the critical path scaled by
/// [`factor`](OperationChange::factor).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationChange {
    pub service: String,
    /// A span name: it may hold spaces (`POST /reservations`).
    pub operation: String,
    /// −100 takes all of the operation's time away, +50 adds half of it
    /// again; never below −100.
    pub percent: f64,
}

impl OperationChange {
    /// What the operation's critical-path time is multiplied by.
    pub fn factor(&self) -> f64 {
        1.0 + self.percent / 100.0
    }
}

/// [`SHAPE`]: the service up to the first whitespace, the percent after
/// the last, the operation between them.
impl FromStr for OperationChange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = |why: String| {
            format!("expected \"{SHAPE}\", such as \"inventory reserve -50%\": {why}")
        };
        let (named, percent) = text
            .trim()
            .rsplit_once(char::is_whitespace)
            .ok_or_else(|| wrong("no percent after the operation".to_owned()))?;
        let number = percent
            .strip_suffix('%')
            .ok_or_else(|| wrong(format!("{percent:?} does not end in %")))?;
        let percent: f64 = number
            .parse()
            .ok()
            .filter(|percent: &f64| percent.is_finite())
            .ok_or_else(|| wrong(format!("{number:?} is not a number")))?;
        if percent < -100.0 {
            return Err(wrong(format!(
                "{percent}% is below -100%, which takes all of the operation's time away"
            )));
        }
        let (service, operation) = named
            .trim_end()
            .split_once(char::is_whitespace)
            .ok_or_else(|| wrong(format!("{named:?} is not a service and an operation")))?;
        Ok(Self {
            service: service.to_owned(),
            operation: operation.trim().to_owned(),
            percent,
        })
    }
}

impl fmt::Display for OperationChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {:+}%", self.service, self.operation, self.percent)
    }
}

/// The endpoint's latencies measured and projected, and what each change
/// acts on. Microseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhatIf {
    pub changes: Vec<ChangeOnPath>,
    pub measured: Latencies,
    pub projected: Latencies,
}

/// A change, and how much of the critical paths its operation holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeOnPath {
    #[serde(flatten)]
    pub change: OperationChange,
    /// How many traces have the operation on their critical path: with
    /// none, the change projects nothing.
    pub traces_on_path: usize,
    /// Its exclusive critical-path time, mean over all the traces (zero
    /// where it is off the path).
    pub mean_critical_path_us: f64,
}

/// Latencies ranked as [`crate::aggregate`] ranks traces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    pub traces: usize,
    pub mean_us: f64,
    /// The latency at each band's first rank: the percentile it is named
    /// after.
    pub p50_us: f64,
    pub p90_us: f64,
    pub p95_us: f64,
    pub p99_us: f64,
    pub bands: Vec<BandLatency>,
}

/// One band of [`crate::aggregate::BANDS`]: the ranks from its percentile
/// up to the next band's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BandLatency {
    /// `p50`, `p90`, `p95` or `p99`.
    pub band: String,
    pub traces: usize,
    /// Its fastest latency: the percentile.
    pub min_us: f64,
    pub mean_us: f64,
}

impl WhatIf {
    /// The traces `aggregator` holds, projected as if each change were
    /// made (see the module's comment). Each change takes its own
    /// operation's time off, or adds to it; they are meant to name
    /// distinct operations.
    pub fn project(aggregator: &Aggregator, changes: &[OperationChange]) -> Self {
        let measured: Vec<f64> = aggregator
            .durations_us()
            .into_iter()
            .map(|us| us as f64)
            .collect();
        let mut projected = measured.clone();
        let mut found = Vec::with_capacity(changes.len());
        for change in changes {
            let on_path = aggregator.critical_path_us_of(&change.service, &change.operation);
            let taken_off = 1.0 - change.factor();
            for (latency, &us) in projected.iter_mut().zip(&on_path) {
                *latency -= taken_off * us as f64;
            }
            found.push(ChangeOnPath {
                change: change.clone(),
                traces_on_path: on_path.iter().filter(|&&us| us > 0).count(),
                mean_critical_path_us: on_path.iter().sum::<u64>() as f64
                    / on_path.len().max(1) as f64,
            });
        }
        for latency in &mut projected {
            *latency = latency.max(0.0);
        }
        Self {
            changes: found,
            measured: Latencies::of(measured),
            projected: Latencies::of(projected),
        }
    }

    /// Whether no change's operation is on any critical path: then the
    /// projection is the measurement.
    pub fn changes_nothing(&self) -> bool {
        self.changes.iter().all(|c| c.traces_on_path == 0)
    }
}

impl Latencies {
    /// Of these latencies, in any order: ranked, and cut into the bands by
    /// the analysis's own ranks ([`band_ranges`]).
    fn of(mut latencies: Vec<f64>) -> Self {
        latencies.sort_by(f64::total_cmp);
        let mean = |ranked: &[f64]| ranked.iter().sum::<f64>() / ranked.len().max(1) as f64;
        let bands: Vec<BandLatency> = band_ranges(latencies.len())
            .into_iter()
            .map(|(band, _, _, ranks)| BandLatency {
                band: band.to_owned(),
                traces: ranks.len(),
                min_us: latencies[ranks.start],
                mean_us: mean(&latencies[ranks]),
            })
            .collect();
        let percentile = |name: &str| {
            bands
                .iter()
                .find(|band| band.band == name)
                .map_or(0.0, |band| band.min_us)
        };
        let (p50_us, p90_us, p95_us, p99_us) = (
            percentile("p50"),
            percentile("p90"),
            percentile("p95"),
            percentile("p99"),
        );
        Self {
            traces: latencies.len(),
            mean_us: mean(&latencies),
            p50_us,
            p90_us,
            p95_us,
            p99_us,
            bands,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Analysis;
    // A span of `service` named `op`, child of `parent`, from `start` to
    // `end`: `span(id, parent, service, op, start, end)`.
    use crate::jaeger::test_span as span;
    // A trace of those spans: `trace(id, spans)`.
    use crate::jaeger::Trace;
    use crate::jaeger::test_trace as trace;

    // The orders' endpoint, and `serial(id, db, price)`: an order all of
    // whose time is on its critical path.
    use crate::aggregate::{test_order as serial, test_orders as orders};

    /// An order that asks the database (`db` µs) and pricing (`price` µs)
    /// at once, in a request of 10 + the longer + 10 µs: only the one that
    /// ends last is on the critical path.
    fn fan_out(id: &str, db: u64, price: u64) -> Trace {
        trace(
            id,
            vec![
                span("r", None, "gw", "POST /orders", 0, 20 + db.max(price)),
                span("d", Some("r"), "inv", "SELECT", 10, 10 + db),
                span("p", Some("r"), "pricing", "quote", 10, 10 + price),
            ],
        )
    }

    fn aggregated(traces: &[Trace]) -> Aggregator {
        let mut aggregator = Aggregator::new(orders());
        for t in traces {
            assert!(aggregator.add_jaeger(t), "{} is an order", t.trace_id);
        }
        aggregator
    }

    fn change(text: &str) -> OperationChange {
        text.parse().unwrap()
    }

    /// The percentiles p50, p90, p95, p99.
    fn percentiles(latencies: &Latencies) -> [f64; 4] {
        [
            latencies.p50_us,
            latencies.p90_us,
            latencies.p95_us,
            latencies.p99_us,
        ]
    }

    /// Ten serial orders of 10 µs on the database and 10·i µs on pricing:
    /// 40, 50, …, 130 µs. Of ten ranks, p50 is rank 5 (90 µs) and p90, p95
    /// and p99 all rank 9, the slowest (130 µs).
    fn ten_serial() -> Vec<Trace> {
        (1..=10)
            .map(|i| serial(&format!("{i:02}"), 10, 10 * i))
            .collect()
    }

    #[test]
    fn measured_latencies_are_the_analysis_bands() {
        let traces = ten_serial();
        let what_if = WhatIf::project(&aggregated(&traces), &[]);
        let analysis: Analysis = aggregated(&traces).finish();
        assert_eq!(percentiles(&what_if.measured), [90.0, 130.0, 130.0, 130.0]);
        assert_eq!(what_if.measured.mean_us, analysis.mean_duration_us);
        for (ours, band) in what_if.measured.bands.iter().zip(&analysis.bands) {
            assert_eq!(
                (&ours.band, ours.traces, ours.min_us, ours.mean_us),
                (
                    &band.band,
                    band.traces,
                    band.min_duration_us as f64,
                    band.mean_duration_us
                )
            );
        }
        assert_eq!(what_if.projected, what_if.measured, "no change");
    }

    #[test]
    fn removing_a_serial_operation_removes_exactly_its_time() {
        let what_if = WhatIf::project(&aggregated(&ten_serial()), &[change("pricing quote -100%")]);
        // Every order is left with its 30 µs of gateway and database.
        assert_eq!(percentiles(&what_if.projected), [30.0; 4]);
        assert_eq!(what_if.projected.mean_us, 30.0);
        assert_eq!(what_if.measured.mean_us, 85.0);
        let quote = &what_if.changes[0];
        assert_eq!(
            (quote.traces_on_path, quote.mean_critical_path_us),
            (10, 55.0)
        );
    }

    #[test]
    fn slowing_a_serial_operation_by_half_adds_half_its_time() {
        let what_if = WhatIf::project(&aggregated(&ten_serial()), &[change("pricing quote +50%")]);
        // 30 + 15·i µs: 45, 60, …, 180; rank 5 is i = 6.
        assert_eq!(
            percentiles(&what_if.projected),
            [120.0, 180.0, 180.0, 180.0]
        );
        assert_eq!(what_if.projected.mean_us, 112.5);
        let p50 = &what_if.projected.bands[0];
        assert_eq!(
            (p50.traces, p50.mean_us),
            (4, (120.0 + 135.0 + 150.0 + 165.0) / 4.0)
        );
    }

    #[test]
    fn changes_to_two_operations_both_apply() {
        let what_if = WhatIf::project(
            &aggregated(&ten_serial()),
            &[change("inv SELECT -100%"), change("pricing quote -50%")],
        );
        // 30 + 10·i − 10 − 5·i µs: 25, 30, …, 70.
        assert_eq!(percentiles(&what_if.projected), [50.0, 70.0, 70.0, 70.0]);
    }

    /// Four orders, database and pricing at once: (db, price) = (30, 10),
    /// (30, 50), (20, 60), (40, 20), so 50, 70, 80 and 60 µs, pricing on
    /// the critical path of the second and third only. Of four ranks, p50
    /// is rank 2 and the other bands rank 3.
    fn four_fanned_out(price_factor: f64) -> Vec<Trace> {
        let orders: [(u64, u64); 4] = [(30, 10), (30, 50), (20, 60), (40, 20)];
        orders
            .into_iter()
            .enumerate()
            .map(|(i, (db, price))| {
                let price = (price as f64 * price_factor) as u64;
                fan_out(&format!("{i}"), db, price)
            })
            .collect()
    }

    #[test]
    fn a_fanned_out_operation_counts_only_where_it_is_on_the_path() {
        let what_if = WhatIf::project(
            &aggregated(&four_fanned_out(1.0)),
            &[change("pricing quote -100%")],
        );
        assert_eq!(percentiles(&what_if.measured), [70.0, 80.0, 80.0, 80.0]);
        // 50, 70 − 50, 80 − 60, 60: the orders where it was off the path
        // keep their latency.
        assert_eq!(percentiles(&what_if.projected), [50.0, 60.0, 60.0, 60.0]);
        assert_eq!(what_if.projected.mean_us, 37.5);
        let quote = &what_if.changes[0];
        assert_eq!(
            (quote.traces_on_path, quote.mean_critical_path_us),
            (2, 27.5)
        );
    }

    #[test]
    fn a_speed_up_beside_a_sibling_saves_at_most_what_is_projected() {
        let halved = change("pricing quote -50%");
        let what_if = WhatIf::project(&aggregated(&four_fanned_out(1.0)), &[halved]);
        // 50, 70 − 25, 80 − 30, 60; made, the change leaves the database
        // on the path of the second order: 50, 50, 50, 60.
        let made = WhatIf::project(&aggregated(&four_fanned_out(0.5)), &[]).measured;
        assert_eq!(what_if.projected.mean_us, 51.25);
        assert_eq!(made.mean_us, 52.5);
        assert_eq!(percentiles(&what_if.projected), [50.0, 60.0, 60.0, 60.0]);
        for (projected, made) in what_if.projected.bands.iter().zip(&made.bands) {
            assert!(projected.mean_us <= made.mean_us, "{projected:?} {made:?}");
        }
    }

    #[test]
    fn an_operation_never_on_the_path_changes_nothing() {
        let what_if = WhatIf::project(
            &aggregated(&four_fanned_out(1.0)),
            &[change("pricing quote -100%"), change("nobody here -50%")],
        );
        assert!(!what_if.changes_nothing());
        let nobody = &what_if.changes[1];
        assert_eq!(
            (nobody.traces_on_path, nobody.mean_critical_path_us),
            (0, 0.0)
        );
        let only_nobody = WhatIf::project(
            &aggregated(&four_fanned_out(1.0)),
            &[change("nobody here -50%")],
        );
        assert!(only_nobody.changes_nothing());
        assert_eq!(only_nobody.projected, only_nobody.measured);
    }

    #[test]
    fn a_change_is_service_operation_and_percent() {
        let parsed = change("  inventory POST /reservations  +50% ");
        assert_eq!(
            parsed,
            OperationChange {
                service: "inventory".to_owned(),
                operation: "POST /reservations".to_owned(),
                percent: 50.0,
            }
        );
        assert_eq!(parsed.to_string(), "inventory POST /reservations +50%");
        assert_eq!(change("gateway look_up -100%").factor(), 0.0);
        assert_eq!(change("gateway look_up 50%").factor(), 1.5);
        for wrong in [
            "gateway -50%",
            "gateway look_up",
            "gateway look_up -50",
            "gateway look_up fast%",
            "gateway look_up -101%",
            "gateway look_up NaN%",
            "",
        ] {
            let error = wrong.parse::<OperationChange>().unwrap_err();
            assert!(error.contains(SHAPE), "{wrong:?}: {error}");
        }
    }
}
