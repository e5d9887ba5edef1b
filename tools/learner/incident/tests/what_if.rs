//! The what-if against the fix: for each problem whose fix a learner can
//! project with `just crisp --what-if`, the projection made from the
//! planted shop's own traces must hold against what the shop with the
//! problem fixed measures, by the drill's own rule
//! ([`incident::prediction::holds`]: within a fifth of the measured
//! change, or both within ±5 %), on `POST /orders`' p50 and on its p99.
//!
//! A measure worth grading against:
//!
//! - **An open loop.** Requests start at a fixed rate, whatever the
//!   answers do (`loadgen`'s `rate`): under a closed loop, a fix that frees
//!   time lets more orders in, and the latency measured under it is partly
//!   their queue. The rate is 40 % of what the planted shop serves in a
//!   closed loop of the drill's 16 customers (measured first, for 5 s), so
//!   that neither shop queues; an arrival that finds 64 requests in
//!   flight is shed, never sent late, and the table counts those.
//! - **Pairs, alternated.** Each pair is a run of the planted shop and one
//!   of the fixed shop, under the same schedule of arrivals (one seed per
//!   pair); the pairs alternate which runs first (planted, fixed, fixed,
//!   planted, …), so that a drift over the minutes falls on both sides
//!   alike. The measured change is the median over the pairs of each
//!   pair's change.
//! - **Fresh databases.** Every run starts the shop on databases of its
//!   own, new: no run inherits another's audit log.
//! - **One clock.** The change judged is the traces' own (the gateway's
//!   `POST /orders` spans), as the projection reads them; the load
//!   generator's, the client's view, is printed beside it.
//!
//! The projection is made from the planted runs' traces, pooled as a
//! learner's recording of the drill, with the very code `just crisp
//! --what-if` runs ([`WhatIf::project`]); what it projects for each
//! problem, and why, is [`projection`].
//!
//! ```sh
//! cargo test -p incident --test what_if -- --ignored --nocapture
//! # some problems, more pairs:
//! WHAT_IF_PROBLEMS=fanout,index WHAT_IF_PAIRS=5 \
//!     cargo test -p incident --test what_if -- --ignored --nocapture
//! ```
//!
//! It runs real shops, one at a time, on ports of their own beside a demo
//! or a drill: seven runs per problem (the closed loop, then three pairs),
//! each from 20 s to a minute of load plus the shop's start and stop, so
//! about four to five minutes per problem and forty for the eight, on two
//! cores.

#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, ensure};
use collector_client::TraceSearch;
use incident::prediction::{Latency, change_pct, holds};
use incident::scenario::{HEALTHY_WITHIN, Ports, Scenario, Surroundings};
use loadgen::{Load, Report};
use shop::Problem;
use trace_analysis::aggregate::{Aggregator, Analysis, Endpoint};
use trace_analysis::jaeger::{JaegerSpan, Trace};
use trace_analysis::what_if::{ChangeOnPath, OperationChange, WhatIf};

/// The shop from 19180, the collector right after it: none of a demo's,
/// a drill's or the detective's tests' ports.
const PORTS: Ports = Ports {
    base: 19180,
    collector_ui: 19185,
    collector_otlp: 19186,
};

/// The closed loop that finds what the planted shop serves: the drill's
/// customers, each waiting for their answer.
const CUSTOMERS: usize = 16;
const PROBE: Duration = Duration::from_secs(5);

/// The open loop's rate, as a share of what the planted shop served in
/// the closed loop: low enough that neither shop queues, high enough that
/// a problem which bites under contention still meets some.
const RATE_SHARE: f64 = 0.4;

/// The most requests in flight at once: far more than the rate keeps in
/// flight, so that an arrival is shed only by a shop that queues.
const MOST_IN_FLIGHT: usize = 64;

/// Each run serves about this many orders, for a p99 of a few traces per
/// run and a few dozen over the planted runs pooled…
const ORDERS_PER_RUN: f64 = 600.0;
/// …in this many seconds at least, and at most.
const SHORTEST_RUN_SECS: f64 = 20.0;
const LONGEST_RUN_SECS: f64 = 60.0;
/// The share of the load generator's requests that are orders (the rest
/// browse the programme).
const ORDER_SHARE: f64 = 0.8;

/// Fewer orders' traces than this in a run, and its p99 is a guess.
const FEWEST_ORDERS: usize = 100;

/// Pairs of runs per problem, unless `WHAT_IF_PAIRS` says otherwise.
const PAIRS: usize = 3;
/// The first pair's schedule of arrivals; the next pair's is the next seed.
const FIRST_SEED: u64 = 1;

/// Bounds the wait for the services' exports to catch up.
const SETTLE_WITHIN: Duration = Duration::from_secs(60);

/// The traces are read a window of the run at a time, each far below the
/// collector's 1,000 traces an answer (a window that fills one is split).
const WINDOW_US: u64 = 2_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "for maintainers: real shops under load, about forty minutes"]
async fn every_projection_holds_against_its_fix() -> anyhow::Result<()> {
    demo::build_binaries(&demo::workspace_root(), cfg!(not(debug_assertions)))?;
    let pairs = pairs()?;
    let mut verdicts = Vec::new();
    for problem in problems()? {
        let Some(projected) = projection(problem) else {
            continue;
        };
        let verdict = judge(problem, &projected, pairs).await?;
        println!("{}\n", verdict.what_if());
        verdicts.push(verdict);
    }
    let table = table(&verdicts);
    println!("{table}");
    let missed: Vec<&str> = verdicts
        .iter()
        .filter(|verdict| !verdict.holds())
        .map(|verdict| verdict.problem.slug())
        .collect();
    ensure!(
        missed.is_empty(),
        "the projection misses the measured fix for {}:\n{table}",
        missed.join(", ")
    );
    Ok(())
}

/// How much of an operation's time on the critical path a fix takes off,
/// as a learner reads it in `just crisp`'s table: its `path` time, and its
/// `cpu` time beside it.
#[derive(Clone, Copy, Debug)]
enum Share {
    /// All of it (−100 %): the fix takes the operation away, or leaves it
    /// next to nothing.
    All,
    /// Its time on a CPU: the fix takes computation away, and leaves what
    /// the operation waits for.
    Cpu,
    /// Its time not on a CPU (a lock, a pool, another service): the fix
    /// takes away what it waited for, and leaves what it computes.
    Wait,
}

/// What a learner projects for a problem's fix.
enum Projection {
    /// These operations (service, span name), each by its share.
    Operations(&'static [(&'static str, &'static str, Share)]),
    /// The gateway's look-up, its calls made at once instead of one after
    /// another: see [`LookUps`].
    CallsAtOnce,
}

/// What a learner following the labs projects for `problem`'s fix with
/// `just crisp --what-if`, from the planted shop's traces; `None` for a fix
/// that no what-if can project.
///
/// The what-if scales one operation's exclusive time on each trace's
/// critical path by a percent (several operations, each its own), the
/// rest of the path held still. So a projection names the operations the
/// fix shortens, all the way down: a call's time is its client span's,
/// its server span's and its statements', each its own operation.
fn projection(problem: Problem) -> Option<Projection> {
    use Share::{All, Cpu, Wait};
    let operations: &'static [(&'static str, &'static str, Share)] = match problem {
        // The look-up's calls (a talk and its seats per line, then the
        // quote) run at once: the look-up then takes about its longest
        // call, not their sum. No one operation's share says that; every
        // operation under the calls loses the same share, all but the
        // longest call's (see `LookUps`).
        Problem::SerialFanOut => return Some(Projection::CallsAtOnce),
        // The lock released before the reservation's transaction: `GET
        // /seats` stops waiting behind reservations (the hint asks what it
        // waits on), and, unblocked, it does next to nothing. Reservations
        // keep their wait: they now queue for SQLite's one writer instead
        // of the lock. At a low rate, little waits either way.
        Problem::LockAcrossIo => &[("inventory", "GET /seats/{talk_id}", All)],
        // The index built once at start: the span leaves every quote.
        Problem::CouponIndexPerQuote => &[("pricing", "index_coupons", All)],
        // The price list no longer formatted: the CPU `price` burns (a
        // profile of pricing says it is the formatting) goes.
        Problem::EagerLogging => &[("pricing", "price", Cpu)],
        // One joined statement instead of three: the speaker's and the
        // price's statements go, the talk's stays.
        Problem::NPlusOne => &[
            ("catalog", "SELECT speakers", All),
            ("catalog", "SELECT prices", All),
        ],
        // No more pauses: the compaction goes, and so does every quote's
        // wait for it, which is `price`'s own time (what a quote computes
        // besides is microseconds). The retries go with the waits that
        // timed them out.
        Problem::RetryStorm => &[("pricing", "compact", All), ("pricing", "price", All)],
        // The model built once: the charge's CPU goes, the processor's
        // wait stays.
        Problem::FraudModelPerCharge => &[("payments", "charge", Cpu)],
        // The audit look-up searches its index: the scan goes, and with it
        // the waits for the database's one connection that the scans held
        // (each reservation waits in `reserve`, for its key's look-up, and
        // in `record_reservation`, for its transaction).
        Problem::MissingIndex => &[
            ("inventory", "SELECT audit_log", All),
            ("inventory", "record_reservation", Wait),
            ("inventory", "reserve", Wait),
        ],
        // The fix adds a back-off before each retry: time that no trace of
        // the planted shop holds, which no what-if can add.
        Problem::RetriesWithoutBackoff => return None,
        // The fix acts on orders given up, and this measure's customers
        // wait for every answer; its saga adds a key's statements to each
        // reservation, which no what-if can add either.
        Problem::WorkNobodyWaitsFor => return None,
        // Nothing on any order's path changes: a clock, and spans dropped
        // after their request ended. No what-if to check.
        Problem::ClockSkew | Problem::ExportQueueOverflow => return None,
    };
    Some(Projection::Operations(operations))
}

impl Share {
    /// The percent of `service`'s `operation` this share is, as `analysis`
    /// (the planted traces') shows it: its CPU time over its time on the
    /// path, over all the traces. An operation never on the path, or whose
    /// CPU time is not known, has no share to take.
    fn percent(self, analysis: &Analysis, service: &str, operation: &str) -> f64 {
        let cpu_share = analysis
            .operations
            .iter()
            .find(|row| row.service == service && row.operation == operation)
            .filter(|row| row.mean_critical_path_us > 0.0)
            .and_then(|row| {
                row.mean_cpu_us
                    .map(|cpu| (cpu / row.mean_critical_path_us).min(1.0))
            });
        match (self, cpu_share) {
            (Share::All, _) => -100.0,
            (Share::Cpu, Some(cpu)) => -100.0 * cpu,
            (Share::Wait, Some(cpu)) => -100.0 * (1.0 - cpu),
            (Share::Cpu | Share::Wait, None) => 0.0,
        }
    }
}

/// The gateway's look-up in the planted traces, calls one after another:
/// per trace, the calls' time summed and the longest call's, and every
/// operation under the calls. Made at once, the calls take about the
/// longest one's time: each operation under them loses the share of their
/// time beyond it (`1 − longest / sum`, over all the traces), as a learner
/// reads it off a waterfall.
#[derive(Default)]
struct LookUps {
    calls_us: u64,
    longest_us: u64,
    operations: BTreeSet<(String, String)>,
}

impl LookUps {
    fn add(&mut self, trace: &Trace) {
        let look_ups = trace
            .spans
            .iter()
            .filter(|span| span.operation_name == "look_up" && trace.service_of(span) == "gateway");
        for look_up in look_ups {
            let calls: Vec<&JaegerSpan> = children(trace, look_up).collect();
            self.calls_us += calls.iter().map(|call| call.duration).sum::<u64>();
            self.longest_us += calls.iter().map(|call| call.duration).max().unwrap_or(0);
            let mut under = calls;
            while let Some(span) = under.pop() {
                let operation = (
                    trace.service_of(span).to_owned(),
                    span.operation_name.clone(),
                );
                self.operations.insert(operation);
                under.extend(children(trace, span));
            }
        }
    }

    /// The percent of their time the calls lose.
    fn percent(&self) -> f64 {
        match self.calls_us {
            0 => 0.0,
            calls => -100.0 * (1.0 - self.longest_us as f64 / calls as f64),
        }
    }
}

/// The spans of `trace` whose parent is `parent`.
fn children<'t>(trace: &'t Trace, parent: &'t JaegerSpan) -> impl Iterator<Item = &'t JaegerSpan> {
    trace.spans.iter().filter(move |span| {
        span.references
            .first()
            .is_some_and(|reference| reference.span_id == parent.span_id)
    })
}

/// The changes `projection` makes, in whole percents as a learner writes
/// them, from what the planted traces show.
fn changes(
    projection: &Projection,
    analysis: &Analysis,
    look_ups: &LookUps,
) -> Vec<OperationChange> {
    let change = |service: &str, operation: &str, percent: f64| OperationChange {
        service: service.to_owned(),
        operation: operation.to_owned(),
        percent: percent.round(),
    };
    match projection {
        Projection::Operations(operations) => operations
            .iter()
            .map(|&(service, operation, share)| {
                change(
                    service,
                    operation,
                    share.percent(analysis, service, operation),
                )
            })
            .collect(),
        Projection::CallsAtOnce => look_ups
            .operations
            .iter()
            .map(|(service, operation)| {
                change(service.as_str(), operation.as_str(), look_ups.percent())
            })
            .collect(),
    }
}

/// The planted runs' traces, pooled, as a learner's recording of the
/// drill: what the projection is made from.
struct Recording {
    /// What the what-if projects from.
    projected: Aggregator,
    /// The same traces, for `just crisp`'s table (each operation's time on
    /// the path and on a CPU).
    analysed: Aggregator,
    look_ups: LookUps,
}

impl Recording {
    fn new() -> Self {
        Self {
            projected: Aggregator::new(orders()),
            analysed: Aggregator::new(orders()),
            look_ups: LookUps::default(),
        }
    }

    fn add(&mut self, traces: &[Trace]) {
        for trace in traces {
            self.projected.add_jaeger(trace);
            self.analysed.add_jaeger(trace);
            self.look_ups.add(trace);
        }
    }

    fn project(self, projection: &Projection) -> WhatIf {
        let changes = changes(projection, &self.analysed.finish(), &self.look_ups);
        WhatIf::project(&self.projected, &changes)
    }
}

/// The endpoint: the gateway's `POST /orders`.
fn orders() -> Endpoint {
    Endpoint {
        service: "gateway".to_owned(),
        operation: "POST /orders".to_owned(),
    }
}

/// A run's shop: with the problem planted, or with it fixed (every
/// problem fixed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Planted,
    Fixed,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Planted => "planted",
            Side::Fixed => "fixed",
        }
    }
}

/// A pair's two runs, in the order they run: planted first in the first
/// pair, fixed first in the second, and so on (planted, fixed, fixed,
/// planted, …).
fn sides(pair: usize) -> [Side; 2] {
    match pair.is_multiple_of(2) {
        true => [Side::Planted, Side::Fixed],
        false => [Side::Fixed, Side::Planted],
    }
}

/// What one run measured of `POST /orders`.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// From the traces' durations.
    traces: Latency,
    /// From the load generator: the client's view.
    client: Latency,
    /// Orders' traces read.
    orders: usize,
    shed: u64,
    errors: u64,
}

/// A pair of runs, under the same schedule of arrivals.
struct Pair {
    planted: Run,
    fixed: Run,
}

/// A change of `POST /orders`' p50 and p99, in percent.
#[derive(Clone, Copy, Debug)]
struct Change {
    p50_pct: f64,
    p99_pct: f64,
}

impl Change {
    /// From `before` to `after`.
    fn between(before: Latency, after: Latency) -> Self {
        Self {
            p50_pct: change_pct(before.p50_ms, after.p50_ms),
            p99_pct: change_pct(before.p99_ms, after.p99_ms),
        }
    }

    /// The median over `pairs` of each one's change, as `of` reads a run.
    fn median(pairs: &[Pair], of: impl Fn(&Run) -> Latency) -> Self {
        let changes: Vec<Change> = pairs
            .iter()
            .map(|pair| Change::between(of(&pair.planted), of(&pair.fixed)))
            .collect();
        Self {
            p50_pct: median(changes.iter().map(|change| change.p50_pct).collect()),
            p99_pct: median(changes.iter().map(|change| change.p99_pct).collect()),
        }
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => f64::NAN,
        count if count.is_multiple_of(2) => (values[middle - 1] + values[middle]) / 2.0,
        _ => values[middle],
    }
}

/// A problem's projection beside its fix measured.
struct Verdict {
    problem: Problem,
    /// The open loop's requests per second.
    rate: f64,
    /// The what-if, as run on the planted traces.
    changes: Vec<ChangeOnPath>,
    projected: Change,
    /// Measured from the traces: what is judged.
    measured: Change,
    /// Measured by the load generator.
    client: Change,
    pairs: usize,
    /// Arrivals shed, over every run: above zero, a shop queued.
    shed: u64,
}

impl Verdict {
    fn holds(&self) -> bool {
        holds(self.projected.p50_pct, self.measured.p50_pct)
            && holds(self.projected.p99_pct, self.measured.p99_pct)
    }

    /// The what-if as a learner types it, and how much of the paths each
    /// change acts on.
    fn what_if(&self) -> String {
        let lines: Vec<String> = self
            .changes
            .iter()
            .map(|on_path| {
                format!(
                    "  --what-if \"{}\"   (on the path of {} traces, {:.2} ms a trace)",
                    on_path.change,
                    on_path.traces_on_path,
                    on_path.mean_critical_path_us / 1e3
                )
            })
            .collect();
        format!("{}: the what-if\n{}", self.problem, lines.join("\n"))
    }
}

/// The table the README's section quotes: each problem, its rate, the
/// projected and measured changes (the client's in brackets), the pairs,
/// the arrivals shed, and the verdict.
fn table(verdicts: &[Verdict]) -> String {
    let mut table = format!(
        "{:<13} {:>7} {:>9} {:>19} {:>9} {:>19} {:>5} {:>5}  {}\n",
        "problem",
        "rate/s",
        "p50 proj",
        "p50 meas (client)",
        "p99 proj",
        "p99 meas (client)",
        "pairs",
        "shed",
        "verdict"
    );
    let percent = |value: f64| format!("{value:+.1}%");
    let beside = |traces: f64, client: f64| format!("{} ({})", percent(traces), percent(client));
    for verdict in verdicts {
        table.push_str(&format!(
            "{:<13} {:>7.1} {:>9} {:>19} {:>9} {:>19} {:>5} {:>5}  {}\n",
            verdict.problem.slug(),
            verdict.rate,
            percent(verdict.projected.p50_pct),
            beside(verdict.measured.p50_pct, verdict.client.p50_pct),
            percent(verdict.projected.p99_pct),
            beside(verdict.measured.p99_pct, verdict.client.p99_pct),
            verdict.pairs,
            verdict.shed,
            if verdict.holds() { "holds" } else { "MISSES" }
        ));
    }
    table
}

/// `problem` measured and projected: the closed loop for the rate, then
/// `pairs` pairs of runs, then the projection from the planted runs.
async fn judge(problem: Problem, projection: &Projection, pairs: usize) -> anyhow::Result<Verdict> {
    let served = closed_loop_throughput(problem).await?;
    ensure!(
        served > 0.0,
        "{problem}: the planted shop served nothing in its closed loop"
    );
    let rate = RATE_SHARE * served;
    let duration = run_length(rate);
    println!(
        "{problem}: planted, {served:.1} requests/s in a closed loop of {CUSTOMERS} customers; \
         measured at {rate:.1}/s, {:.0} s a run, {pairs} pairs",
        duration.as_secs_f64()
    );
    let planted_alone = [problem];
    let mut recording = Recording::new();
    let mut measured = Vec::with_capacity(pairs);
    for pair in 0..pairs {
        let seed = FIRST_SEED + pair as u64;
        let mut planted = None;
        let mut fixed = None;
        for side in sides(pair) {
            let label = format!("pair{}-{}", pair + 1, side.name());
            let shop: &[Problem] = match side {
                Side::Planted => &planted_alone,
                Side::Fixed => &[],
            };
            let (run, traces) = measure(shop, &run_folder(problem, &label), |scenario| Load {
                rate: Some(rate),
                seed: Some(seed),
                impatience: None,
                ..scenario.load_plan(MOST_IN_FLIGHT, duration)
            })
            .await
            .with_context(|| format!("{problem}, {label}"))?;
            println!("  {problem}, {label}: {}", describe(&run));
            match side {
                Side::Planted => {
                    recording.add(&traces);
                    planted = Some(run);
                }
                Side::Fixed => fixed = Some(run),
            }
        }
        let (Some(planted), Some(fixed)) = (planted, fixed) else {
            unreachable!("a pair runs both sides");
        };
        measured.push(Pair { planted, fixed });
    }
    let what_if = recording.project(projection);
    let verdict = Verdict {
        problem,
        rate,
        projected: Change::between(
            Latency {
                p50_ms: what_if.measured.p50_us / 1e3,
                p99_ms: what_if.measured.p99_us / 1e3,
            },
            Latency {
                p50_ms: what_if.projected.p50_us / 1e3,
                p99_ms: what_if.projected.p99_us / 1e3,
            },
        ),
        changes: what_if.changes,
        measured: Change::median(&measured, |run| run.traces),
        client: Change::median(&measured, |run| run.client),
        pairs,
        shed: measured
            .iter()
            .map(|pair| pair.planted.shed + pair.fixed.shed)
            .sum(),
    };
    Ok(verdict)
}

/// How long a run at `rate` lasts to serve about [`ORDERS_PER_RUN`] orders.
fn run_length(rate: f64) -> Duration {
    let seconds = ORDERS_PER_RUN / (ORDER_SHARE * rate);
    Duration::from_secs_f64(seconds.clamp(SHORTEST_RUN_SECS, LONGEST_RUN_SECS))
}

/// What the shop with `problem` planted serves, in requests a second,
/// under the drill's customers in a closed loop (who all wait for their
/// answers, as the measure's do).
async fn closed_loop_throughput(problem: Problem) -> anyhow::Result<f64> {
    let folder = run_folder(problem, "closed-loop");
    let scenario = start(&[problem], &folder).await?;
    let load = Load {
        impatience: None,
        ..scenario.load_plan(CUSTOMERS, PROBE)
    };
    let report = loadgen::run(&load, std::future::pending()).await;
    stop(scenario, &folder);
    println!("  {problem}, closed loop: {}", report.summary());
    Ok(report.throughput)
}

/// The shop with `planted` planted, fresh, under the load `plan` makes
/// for it: what the run measured, and its orders' traces.
async fn measure(
    planted: &[Problem],
    folder: &Path,
    plan: impl FnOnce(&Scenario) -> Load,
) -> anyhow::Result<(Run, Vec<Trace>)> {
    let scenario = start(planted, folder).await?;
    let load = plan(&scenario);
    let measured = load_and_read(&scenario, &load).await;
    stop(scenario, folder);
    let (report, traces) = measured?;
    let mut aggregator = Aggregator::new(orders());
    for trace in &traces {
        aggregator.add_jaeger(trace);
    }
    let latencies = WhatIf::project(&aggregator, &[]).measured;
    ensure!(
        latencies.traces >= FEWEST_ORDERS,
        "only {} orders' traces ({})",
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

/// `load` on `scenario`, its exports waited for, then the orders' traces
/// of its time.
async fn load_and_read(scenario: &Scenario, load: &Load) -> anyhow::Result<(Report, Vec<Trace>)> {
    let since_us = collector_client::now_us();
    let report = loadgen::run(load, std::future::pending()).await;
    let until_us = collector_client::now_us();
    scenario
        .settle(SETTLE_WITHIN)
        .await
        .map_err(|moving| anyhow!("the services' exports never settled: {}", moving.join(", ")))?;
    let traces = orders_between(scenario, since_us, until_us).await?;
    Ok((report, traces))
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

/// One line for a run.
fn describe(run: &Run) -> String {
    format!(
        "{} orders' traces, p50 {:.1} ms, p99 {:.1} ms; the client's p50 {:.1} ms, p99 {:.1} ms; \
         {} shed, {} errors",
        run.orders,
        run.traces.p50_ms,
        run.traces.p99_ms,
        run.client.p50_ms,
        run.client.p99_ms,
        run.shed,
        run.errors
    )
}

/// The collector and the shop with `planted` planted, on databases of
/// their own in `folder`, new.
async fn start(planted: &[Problem], folder: &Path) -> anyhow::Result<Scenario> {
    if let Err(err) = std::fs::remove_dir_all(folder)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        return Err(err).with_context(|| format!("cannot empty {}", folder.display()));
    }
    let (databases, logs) = (folder.join("databases"), folder.join("logs"));
    for made in [&databases, &logs] {
        std::fs::create_dir_all(made).with_context(|| format!("cannot make {}", made.display()))?;
    }
    // The services run from the workspace's root: their databases' folder
    // is named whole.
    let databases = std::fs::canonicalize(&databases)?;
    let surroundings = Surroundings {
        bin_dir: bin_dir(),
        logs: &logs,
        databases: Some(&databases),
        healthy_within: HEALTHY_WITHIN,
    };
    Scenario::start_built(planted, PORTS, &surroundings)
        .await
        .with_context(|| format!("cannot start the shop with {} planted", names(planted)))
}

/// Stops the scenario, says what went wrong at the stop, and drops its
/// databases (the logs stay).
fn stop(scenario: Scenario, folder: &Path) {
    for problem in scenario.stop() {
        println!("  at the stop: {problem}");
    }
    let _ = std::fs::remove_dir_all(folder.join("databases"));
}

fn names(problems: &[Problem]) -> String {
    match problems {
        [] => "nothing".to_owned(),
        _ => problems
            .iter()
            .map(|problem| problem.slug())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The problems to judge: those `WHAT_IF_PROBLEMS` names (slugs, separated
/// by commas), or every one with a projection.
fn problems() -> anyhow::Result<Vec<Problem>> {
    let Ok(list) = std::env::var("WHAT_IF_PROBLEMS") else {
        return Ok(Problem::ALL
            .into_iter()
            .filter(|problem| projection(*problem).is_some())
            .collect());
    };
    list.split(',')
        .map(str::trim)
        .filter(|slug| !slug.is_empty())
        .map(|slug| {
            let problem = Problem::from_slug(slug)
                .with_context(|| format!("WHAT_IF_PROBLEMS: no problem is called {slug:?}"))?;
            ensure!(
                projection(problem).is_some(),
                "WHAT_IF_PROBLEMS: {slug} has no what-if to check (see `projection`)"
            );
            Ok(problem)
        })
        .collect()
}

/// The pairs per problem: `WHAT_IF_PAIRS`, or [`PAIRS`].
fn pairs() -> anyhow::Result<usize> {
    match std::env::var("WHAT_IF_PAIRS") {
        Ok(text) => text
            .trim()
            .parse()
            .ok()
            .filter(|pairs: &usize| *pairs > 0)
            .with_context(|| format!("WHAT_IF_PAIRS={text:?} is not a number of pairs")),
        Err(_) => Ok(PAIRS),
    }
}

/// Where the services' and the collector's binaries are built: beside
/// this crate's own binary (a test's own is one folder below, in `deps`).
fn bin_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_incident"))
        .parent()
        .expect("the incident binary is in a folder")
}

/// A run's folder: its databases while it runs, its programs' logs.
fn run_folder(problem: Problem, run: &str) -> PathBuf {
    demo::workspace_root()
        .join("target/incident-what-if")
        .join(format!("{}-{run}", problem.slug()))
}

#[test]
fn pairs_alternate_which_side_runs_first() {
    use Side::{Fixed, Planted};
    let order: Vec<Side> = (0..4).flat_map(sides).collect();
    assert_eq!(
        order,
        [
            Planted, Fixed, Fixed, Planted, Planted, Fixed, Fixed, Planted
        ]
    );
}

#[test]
fn the_median_is_the_middle_value_or_the_mean_of_the_two() {
    assert_eq!(median(vec![3.0, -1.0, 2.0]), 2.0);
    assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    assert!(median(Vec::new()).is_nan());
}

#[test]
fn every_problem_projected_is_one_whose_fix_a_what_if_can_express() {
    let projected: Vec<&str> = Problem::ALL
        .into_iter()
        .filter(|problem| projection(*problem).is_some())
        .map(Problem::slug)
        .collect();
    assert_eq!(
        projected,
        [
            "fanout",
            "lock",
            "hotspot",
            "logging",
            "n-plus-one",
            "retry-storm",
            "fraud-model",
            "index"
        ]
    );
}
