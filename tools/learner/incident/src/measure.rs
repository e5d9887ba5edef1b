//! A fix measured in pairs on an open loop: what `just incident fix`
//! grades a prediction against ([`crate::fix`]), and what the what-if's
//! test (`tests/what_if.rs`) holds a projection to. A measure worth
//! grading against:
//!
//! - **An open loop.** Requests start at a fixed rate, whatever the
//!   answers do (`loadgen`'s `open_loop`): under a closed loop, a fix that
//!   frees time lets more orders in, and the latency measured under it is
//!   partly their queue. The rate is [`RATE_SHARE`] of what the planted shop
//!   serves in a closed loop of the drill's customers, probed first
//!   ([`Setup::probe`], [`open_loop_rate`]), so that neither shop queues;
//!   an arrival that finds [`MOST_IN_FLIGHT`] requests in flight is shed,
//!   never sent late, and counted.
//! - **Pairs, alternated.** Each pair is a run of the planted shop and one
//!   of the fixed shop, under the same schedule of arrivals (one seed per
//!   pair); the pairs alternate which runs first (planted, fixed, fixed,
//!   planted, …: [`schedule`]), so that a drift over the minutes falls on
//!   both sides alike. The measured change is the median over the pairs of
//!   each pair's change ([`median_change`]).
//! - **Fresh databases.** Every run starts the shop on databases of its
//!   own, new, in a folder of its own emptied first: no run inherits
//!   another's audit log. The databases go once the run stops; the
//!   programs' logs stay.
//! - **One clock.** The change graded is the traces' own (the gateway's
//!   `POST /orders` spans), as a projection from traces reads them; the
//!   load generator's, the client's view, is measured beside it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail, ensure};
use collector_client::TraceSearch;
use demo::stop_signal::StopSignal;
use loadgen::{Load, Report};
use shop::Problem;
use trace_analysis::aggregate::{Aggregator, Endpoint};
use trace_analysis::jaeger::Trace;
use trace_analysis::what_if::WhatIf;

use crate::prediction::{Change, Latency, Measured};
use crate::run;
use crate::scenario::{HEALTHY_WITHIN, Ports, Scenario, Surroundings};

/// The open loop's rate, as a share of what the planted shop served in
/// the probe's closed loop: low enough that neither shop queues, high
/// enough that a problem which bites under contention still meets some.
pub const RATE_SHARE: f64 = 0.4;

/// The open loop's rate at most, in requests a second: far above what
/// the shop serves on a workshop's machine, so that it bounds only a
/// probe gone wrong, whose rate would have the load generator start
/// thousands of requests a second and the collector read tens of
/// thousands of traces a run.
pub const MOST_RATE: f64 = 1_000.0;

/// How long the probe's closed loop lasts.
pub const PROBE: Duration = Duration::from_secs(5);

/// The most requests in flight at once: far more than the rate keeps in
/// flight, so that an arrival is shed only by a shop that queues.
pub const MOST_IN_FLIGHT: usize = 64;

/// Fewer orders' traces than this in a run, and its p99 is a guess.
pub const FEWEST_ORDERS: usize = 100;

/// The first pair's schedule of arrivals; the next pair's is the next seed.
const FIRST_SEED: u64 = 1;

/// Bounds the wait for the services' exports to catch up.
const SETTLE_WITHIN: Duration = Duration::from_secs(60);

/// The traces are read a window of the run at a time, each far below the
/// collector's 1,000 traces an answer (a window that fills one is split).
const WINDOW_US: u64 = 2_000_000;

/// Where a fix is measured: the ports its shops listen on, the built
/// binaries, the folder its runs keep their files in, and the signal that
/// stops it.
pub struct Setup<'a> {
    /// The shop's and the collector's ports, the same for every run.
    pub ports: Ports,
    /// The build's folder for this program's profile, where the services'
    /// and the collector's binaries are, built already.
    pub bin_dir: &'a Path,
    /// Each run has a folder here, by its name: its databases while it
    /// runs, its programs' logs.
    pub folder: &'a Path,
    /// Ctrl-C, SIGTERM or SIGHUP: the run under way stops, its shop is
    /// stopped, and it measures nothing.
    pub stop: &'a StopSignal,
}

/// The two shops a pair compares.
#[derive(Clone, Copy, Debug)]
pub struct Shops<'a> {
    /// With the problem planted (in `fix`, every problem as drawn).
    pub planted: &'a [Problem],
    /// With it fixed.
    pub fixed: &'a [Problem],
}

/// The open loop every run of a measure runs under.
#[derive(Clone, Copy, Debug)]
pub struct OpenLoop {
    /// Requests started per second.
    pub rate: f64,
    /// How long each run's load lasts.
    pub duration: Duration,
}

/// A run's shop: with the problem planted, or with it fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Planted,
    Fixed,
}

impl Side {
    /// Its name in a run's folder and lines.
    pub fn name(self) -> &'static str {
        match self {
            Side::Planted => "planted",
            Side::Fixed => "fixed",
        }
    }
}

/// One run's place among a measure's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Turn {
    /// Its pair, from 1.
    pub pair: usize,
    pub side: Side,
    /// The seed of its pair's schedule of arrivals.
    pub seed: u64,
}

/// The runs of `pairs` pairs, in the order they run: planted first in
/// the first pair, fixed first in the second, and so on (planted, fixed,
/// fixed, planted, …), each pair under a seed of its own.
pub fn schedule(pairs: usize) -> Vec<Turn> {
    (1..=pairs)
        .flat_map(|pair| {
            let sides = match pair.is_multiple_of(2) {
                false => [Side::Planted, Side::Fixed],
                true => [Side::Fixed, Side::Planted],
            };
            let seed = FIRST_SEED + (pair - 1) as u64;
            sides.map(|side| Turn { pair, side, seed })
        })
        .collect()
}

/// What one run measured of `POST /orders`.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// From the traces' durations: what is graded.
    pub traces: Latency,
    /// From the load generator: the client's view.
    pub client: Latency,
    /// Orders' traces read.
    pub orders: usize,
    /// Arrivals shed: above zero, the shop queued.
    pub shed: u64,
    pub errors: u64,
}

impl Run {
    /// One line for people.
    pub fn summary(&self) -> String {
        format!(
            "{} orders' traces, p50 {:.1} ms, p99 {:.1} ms; the client's p50 {:.1} ms, \
             p99 {:.1} ms; {} shed, {} errors",
            self.orders,
            self.traces.p50_ms,
            self.traces.p99_ms,
            self.client.p50_ms,
            self.client.p99_ms,
            self.shed,
            self.errors
        )
    }
}

/// A pair's two runs, under the same schedule of arrivals.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    pub planted: Run,
    pub fixed: Run,
}

impl Pair {
    /// Its run on `side`.
    pub fn side(&self, side: Side) -> &Run {
        match side {
            Side::Planted => &self.planted,
            Side::Fixed => &self.fixed,
        }
    }

    /// Arrivals shed by its two runs.
    pub fn shed(&self) -> u64 {
        self.planted.shed + self.fixed.shed
    }
}

/// What [`Setup::pairs`] tells as it goes, so that no wait is silent.
pub enum Progress<'a> {
    /// This run is about to start.
    Starting(Turn),
    /// This run has measured: what, and the orders' traces it read.
    Measured {
        turn: Turn,
        run: &'a Run,
        traces: &'a [Trace],
    },
}

impl Setup<'_> {
    /// The shop with `planted` planted, fresh, in the run folder `name`,
    /// under the drill's customers in a closed loop (who all wait for
    /// their answers, as the measure's do) for [`PROBE`]: what it served,
    /// for [`open_loop_rate`].
    pub async fn probe(&self, planted: &[Problem], name: &str) -> anyhow::Result<Report> {
        let folder = self.folder.join(name);
        let scenario = self.start(planted, &folder).await?;
        let load = Load {
            impatience: None,
            ..scenario.load_plan(run::CUSTOMERS, PROBE)
        };
        let report = loadgen::run(&load, self.stopped()).await;
        stop_and_clear(scenario, &folder);
        self.refuse_if_stopped()?;
        Ok(report)
    }

    /// `pairs` pairs of runs of `shops` under `open_loop`, in the order of
    /// [`schedule`], each run in a folder named after `name`, its pair and
    /// its side; `progress` is told of each run before it starts and once
    /// it has measured. The pairs, in order.
    pub async fn pairs(
        &self,
        shops: Shops<'_>,
        open_loop: OpenLoop,
        pairs: usize,
        name: &str,
        mut progress: impl FnMut(Progress<'_>),
    ) -> anyhow::Result<Vec<Pair>> {
        let (mut planted, mut fixed) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
        for turn in schedule(pairs) {
            progress(Progress::Starting(turn));
            let folder = format!("{name}-pair{}-{}", turn.pair, turn.side.name());
            let problems = match turn.side {
                Side::Planted => shops.planted,
                Side::Fixed => shops.fixed,
            };
            let (run, traces) = self
                .run(problems, &folder, open_loop, turn.seed)
                .await
                .with_context(|| format!("{name}, pair {}, {}", turn.pair, turn.side.name()))?;
            progress(Progress::Measured {
                turn,
                run: &run,
                traces: &traces,
            });
            match turn.side {
                Side::Planted => planted.push(run),
                Side::Fixed => fixed.push(run),
            }
        }
        // Each pair ran both sides: the n-th of each side is the n-th pair's.
        Ok(planted
            .into_iter()
            .zip(fixed)
            .map(|(planted, fixed)| Pair { planted, fixed })
            .collect())
    }

    /// The shop with `planted` planted, fresh, in the run folder `name`,
    /// under `open_loop` with its arrivals drawn from `seed`: what the run
    /// measured, and its orders' traces.
    pub async fn run(
        &self,
        planted: &[Problem],
        name: &str,
        open_loop: OpenLoop,
        seed: u64,
    ) -> anyhow::Result<(Run, Vec<Trace>)> {
        let folder = self.folder.join(name);
        let scenario = self.start(planted, &folder).await?;
        let load = Load {
            open_loop: Some(loadgen::OpenLoop {
                rate: open_loop.rate,
                seed: Some(seed),
            }),
            impatience: None,
            ..scenario.load_plan(MOST_IN_FLIGHT, open_loop.duration)
        };
        let measured = self.load_and_read(&scenario, &load).await;
        stop_and_clear(scenario, &folder);
        let (report, traces) = measured?;
        let mut aggregator = Aggregator::new(orders());
        for trace in &traces {
            aggregator.add_jaeger(trace);
        }
        let latencies = WhatIf::project(&aggregator, &[]).measured;
        ensure!(
            latencies.traces >= FEWEST_ORDERS,
            "only {} orders' traces, too few for a p99: a longer run reads more (the load: {})",
            latencies.traces,
            report.summary()
        );
        let run = Run {
            traces: Latency {
                p50_ms: latencies.p50_us / 1e3,
                p99_ms: latencies.p99_us / 1e3,
            },
            client: Latency {
                p50_ms: report.orders.p50_ms,
                p99_ms: report.orders.p99_ms,
            },
            orders: latencies.traces,
            shed: report.shed.unwrap_or(0),
            errors: report.errors,
        };
        Ok((run, traces))
    }

    /// `load` on `scenario`, its exports waited for, then the orders'
    /// traces of its time.
    async fn load_and_read(
        &self,
        scenario: &Scenario,
        load: &Load,
    ) -> anyhow::Result<(Report, Vec<Trace>)> {
        let since_us = collector_client::now_us();
        let report = loadgen::run(load, self.stopped()).await;
        let until_us = collector_client::now_us();
        self.refuse_if_stopped()?;
        scenario.settle(SETTLE_WITHIN).await.map_err(|moving| {
            anyhow!("the services' exports never settled: {}", moving.join(", "))
        })?;
        let traces = orders_between(scenario, since_us, until_us).await?;
        Ok((report, traces))
    }

    /// The collector and the shop with `planted` planted, on databases of
    /// their own in `folder`, new; what had started is stopped when a
    /// stop is asked for meanwhile.
    async fn start(&self, planted: &[Problem], folder: &Path) -> anyhow::Result<Scenario> {
        if let Err(err) = std::fs::remove_dir_all(folder)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            return Err(err).with_context(|| format!("cannot empty {}", folder.display()));
        }
        let (databases, logs) = (folder.join("databases"), folder.join("logs"));
        for made in [&databases, &logs] {
            std::fs::create_dir_all(made)
                .with_context(|| format!("cannot make {}", made.display()))?;
        }
        // The services run from the workspace's root: their databases'
        // folder is named whole.
        let databases = std::fs::canonicalize(&databases)
            .with_context(|| format!("cannot find {}", databases.display()))?;
        let surroundings = Surroundings {
            bin_dir: self.bin_dir,
            logs: &logs,
            databases: Some(&databases),
            healthy_within: HEALTHY_WITHIN,
        };
        let started = tokio::select! {
            started = Scenario::start_built(planted, self.ports, &surroundings) => started,
            signal = self.stop.received() => {
                bail!("{signal} while starting: what had started is stopped")
            }
        };
        started.with_context(|| {
            format!(
                "cannot start the shop with {} planted",
                Problem::names(planted)
            )
        })
    }

    /// Completes once a stop is asked for.
    async fn stopped(&self) {
        self.stop.received().await;
    }

    /// An error once a stop has been asked for: what the run measured is
    /// cut short.
    fn refuse_if_stopped(&self) -> anyhow::Result<()> {
        match self.stop.received_now() {
            Some(signal) => bail!("{signal}: the run under way is stopped, and measures nothing"),
            None => Ok(()),
        }
    }
}

/// Stops the scenario, says what went wrong at the stop, and drops its
/// databases (the logs stay).
fn stop_and_clear(scenario: Scenario, folder: &Path) {
    for problem in scenario.stop() {
        println!("  at the stop: {problem}");
    }
    // A folder left behind is emptied by the next run of its name.
    let _ = std::fs::remove_dir_all(folder.join("databases"));
}

/// The open loop's rate from a probe: [`RATE_SHARE`] of the requests it
/// served a second (answered, without an error), [`MOST_RATE`] at most.
/// A probe that served nothing gives no rate: an error that says so.
pub fn open_loop_rate(probe: &Report) -> anyhow::Result<f64> {
    let served = probe.requests.saturating_sub(probe.errors);
    let per_second = served as f64 / probe.elapsed_secs;
    ensure!(
        served > 0 && per_second.is_finite(),
        "the probe's closed loop served no request without an error in {:.1} s ({}): \
         no rate to measure at; the services' logs say why",
        probe.elapsed_secs,
        probe.summary()
    );
    Ok((RATE_SHARE * per_second).min(MOST_RATE))
}

/// The median over `pairs` of each pair's change, from its planted run to
/// its fixed one, as `clock` reads a run (`|run| run.traces`, say).
pub fn median_change(pairs: &[Pair], clock: impl Fn(&Run) -> Latency) -> Change {
    let changes: Vec<Change> = pairs
        .iter()
        .map(|pair| Change::between(clock(&pair.planted), clock(&pair.fixed)))
        .collect();
    Change {
        p50_pct: median(changes.iter().map(|change| change.p50_pct).collect()),
        p99_pct: median(changes.iter().map(|change| change.p99_pct).collect()),
    }
}

/// The median over `pairs` of their runs on `side`, as `clock` reads a
/// run.
pub fn median_latency(pairs: &[Pair], side: Side, clock: impl Fn(&Run) -> Latency) -> Latency {
    let latencies: Vec<Latency> = pairs.iter().map(|pair| clock(pair.side(side))).collect();
    Latency {
        p50_ms: median(latencies.iter().map(|latency| latency.p50_ms).collect()),
        p99_ms: median(latencies.iter().map(|latency| latency.p99_ms).collect()),
    }
}

/// What a prediction is graded against: the traces' median change over
/// `pairs`, beside each side's median latency.
pub fn graded(pairs: &[Pair]) -> Measured {
    Measured {
        drawn: median_latency(pairs, Side::Planted, |run| run.traces),
        fixed: median_latency(pairs, Side::Fixed, |run| run.traces),
        change: median_change(pairs, |run| run.traces),
    }
}

/// The middle value (the mean of the two middle ones for an even count);
/// not a number for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => f64::NAN,
        count if count.is_multiple_of(2) => (values[middle - 1] + values[middle]) / 2.0,
        _ => values[middle],
    }
}

/// The endpoint measured: the gateway's `POST /orders`.
pub fn orders() -> Endpoint {
    Endpoint {
        service: "gateway".to_owned(),
        operation: "POST /orders".to_owned(),
    }
}

/// Every order whose `POST /orders` started from `since_us` to `until_us`,
/// a window at a time; a window that fills an answer is read again in
/// halves.
async fn orders_between(
    scenario: &Scenario,
    since_us: u64,
    until_us: u64,
) -> anyhow::Result<Vec<Trace>> {
    let client = scenario.collector_client();
    let mut windows: Vec<(u64, u64)> = (since_us..=until_us)
        .step_by(WINDOW_US as usize)
        .map(|start| (start, (start + WINDOW_US - 1).min(until_us)))
        .collect();
    let mut traces = Vec::new();
    while let Some((start_us, end_us)) = windows.pop() {
        let search = TraceSearch {
            end_us: Some(end_us),
            ..TraceSearch::orders_since(start_us)
        };
        let found = client
            .traces(&search)
            .await
            .with_context(|| format!("the orders' traces from {start_us} to {end_us} µs"))?;
        if found.len() >= collector_client::MAX_LIMIT && end_us > start_us {
            let middle = start_us + (end_us - start_us) / 2;
            windows.push((start_us, middle));
            windows.push((middle + 1, end_us));
        } else {
            traces.extend(found);
        }
    }
    Ok(traces)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn pairs_alternate_which_side_runs_first_each_under_its_own_seed() {
        use Side::{Fixed, Planted};
        let order: Vec<(usize, Side, u64)> = schedule(4)
            .into_iter()
            .map(|turn| (turn.pair, turn.side, turn.seed))
            .collect();
        assert_eq!(
            order,
            [
                (1, Planted, 1),
                (1, Fixed, 1),
                (2, Fixed, 2),
                (2, Planted, 2),
                (3, Planted, 3),
                (3, Fixed, 3),
                (4, Fixed, 4),
                (4, Planted, 4)
            ]
        );
        let sides = |pairs| -> Vec<Side> { schedule(pairs).iter().map(|turn| turn.side).collect() };
        assert_eq!(sides(1), [Planted, Fixed]);
        assert_eq!(sides(3), [Planted, Fixed, Fixed, Planted, Planted, Fixed]);
        assert!(schedule(0).is_empty());
    }

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_two() {
        assert_eq!(median(vec![3.0, -1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![-7.0]), -7.0);
        assert!(median(Vec::new()).is_nan());
    }

    /// A run whose traces read `traces` and whose client read `client`
    /// (each p50, p99).
    fn run(traces: (f64, f64), client: (f64, f64)) -> Run {
        let latency = |(p50_ms, p99_ms)| Latency { p50_ms, p99_ms };
        Run {
            traces: latency(traces),
            client: latency(client),
            orders: 500,
            shed: 1,
            errors: 0,
        }
    }

    #[test]
    fn the_change_is_the_median_of_the_pairs_changes_not_the_change_of_the_medians() {
        let pairs = [
            // -50 % and -10 %.
            Pair {
                planted: run((100.0, 400.0), (110.0, 420.0)),
                fixed: run((50.0, 360.0), (55.0, 378.0)),
            },
            // -20 % and -25 %.
            Pair {
                planted: run((50.0, 200.0), (50.0, 200.0)),
                fixed: run((40.0, 150.0), (45.0, 190.0)),
            },
            // -40 % and +10 %.
            Pair {
                planted: run((200.0, 300.0), (200.0, 300.0)),
                fixed: run((120.0, 330.0), (100.0, 300.0)),
            },
        ];
        let change = median_change(&pairs, |run| run.traces);
        assert_eq!((change.p50_pct, change.p99_pct), (-40.0, -10.0));
        let client = median_change(&pairs, |run| run.client);
        assert_eq!((client.p50_pct, client.p99_pct), (-50.0, -5.0));
        let graded = graded(&pairs);
        assert_eq!(graded.change, change);
        assert_eq!(
            (graded.drawn.p50_ms, graded.drawn.p99_ms),
            (100.0, 300.0),
            "each side's median"
        );
        assert_eq!((graded.fixed.p50_ms, graded.fixed.p99_ms), (50.0, 330.0));
        assert_eq!(pairs.iter().map(Pair::shed).sum::<u64>(), 6);
    }

    /// A probe's report: `requests` in `elapsed_secs`, `errors` of them.
    fn probe(requests: u64, errors: u64, elapsed_secs: f64) -> Report {
        Report {
            requests,
            errors,
            statuses: BTreeMap::new(),
            elapsed_secs,
            throughput: requests as f64 / elapsed_secs,
            p50_ms: 10.0,
            p90_ms: 20.0,
            p99_ms: 30.0,
            max_ms: 40.0,
            orders: loadgen::Latency {
                requests: requests * 4 / 5,
                p50_ms: 10.0,
                p99_ms: 30.0,
            },
            shed: None,
        }
    }

    #[test]
    fn the_rate_is_a_share_of_what_the_probe_served_never_zero_and_capped() {
        let rate = |report: &Report| open_loop_rate(report).unwrap();
        assert_eq!(rate(&probe(500, 0, 5.0)), 40.0);
        assert_eq!(rate(&probe(500, 250, 5.0)), 20.0, "errors are not served");
        assert!(
            rate(&probe(1, 0, 5.0)) > 0.0,
            "one request served is a rate"
        );
        assert_eq!(rate(&probe(1_000_000, 0, 5.0)), MOST_RATE);
        for empty in [probe(0, 0, 5.0), probe(300, 300, 5.0), probe(10, 0, 0.0)] {
            let refused = open_loop_rate(&empty).unwrap_err().to_string();
            assert!(
                refused.starts_with("the probe's closed loop served no request without an error"),
                "{refused}"
            );
        }
    }
}
