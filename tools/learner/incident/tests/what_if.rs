//! The what-if against the fix: for each problem whose fix a learner can
//! project with `just crisp --what-if`, the projection made from the
//! planted shop's own traces must hold against what the shop with the
//! problem fixed measures, by the drill's own rule
//! ([`incident::prediction::holds`]: within a fifth of the measured
//! change, or both within ±5 %), on `POST /orders`' p50 and on its p99.
//!
//! The fix is measured as `just incident fix` measures one
//! ([`incident::measure`]): an open loop at 40 % of what the planted shop
//! serves in a closed loop of the drill's 16 customers (probed first, for
//! 5 s), so that neither shop queues (an arrival that finds 64 requests in
//! flight is shed, never sent late, and the table counts those); pairs of
//! runs, planted and fixed, under the same schedule of arrivals, which
//! alternate which runs first, the measured change the median over the
//! pairs of each pair's change; every run on databases of its own, new;
//! the change judged the traces' own (the gateway's `POST /orders` spans),
//! as the projection reads them, and the load generator's, the client's
//! view, printed beside it.
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
//! about three minutes per problem (six for the slowest) and twenty-five for the eight, on two
//! cores. Ctrl-C stops the run under way and its shop.

#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, ensure};
use demo::stop_signal::StopSignal;
use incident::measure::{self, OpenLoop, Pair, Progress, Setup, Shops, Side};
use incident::prediction::{Change, Latency, holds};
use incident::run;
use incident::scenario::Ports;
use shop::Problem;
use trace_analysis::aggregate::{Aggregator, Analysis};
use trace_analysis::jaeger::{JaegerSpan, Trace};
use trace_analysis::what_if::{ChangeOnPath, OperationChange, WhatIf};

/// The shop from 19180, the collector right after it: none of a demo's,
/// a drill's or the detective's tests' ports.
const PORTS: Ports = Ports {
    base: 19180,
    collector_ui: 19185,
    collector_otlp: 19186,
};

/// Each run serves about this many orders, for a p99 of a few traces per
/// run and a few dozen over the planted runs pooled…
const ORDERS_PER_RUN: f64 = 600.0;
/// …in this many seconds at least, and at most.
const SHORTEST_RUN_SECS: f64 = 20.0;
const LONGEST_RUN_SECS: f64 = 60.0;
/// The share of the load generator's requests that are orders (the rest
/// browse the programme).
const ORDER_SHARE: f64 = 0.8;

/// Pairs of runs per problem, unless `WHAT_IF_PAIRS` says otherwise.
const PAIRS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "for maintainers: real shops under load, about twenty-five minutes"]
async fn every_projection_holds_against_its_fix() -> anyhow::Result<()> {
    demo::build_binaries(&demo::workspace_root(), cfg!(not(debug_assertions)))?;
    let pairs = pairs()?;
    let stop = StopSignal::listen().context("cannot take Ctrl-C, SIGTERM and SIGHUP over")?;
    let folder = demo::workspace_root().join("target/incident-what-if");
    let setup = Setup {
        ports: PORTS,
        bin_dir: bin_dir(),
        folder: &folder,
        stop: &stop,
    };
    let mut verdicts = Vec::new();
    for problem in problems()? {
        let Some(projected) = projection(problem) else {
            continue;
        };
        let verdict = judge(&setup, problem, &projected, pairs).await?;
        println!("{}\n", verdict.what_if());
        verdicts.push(verdict);
    }
    let table = table(&verdicts);
    println!("{table}");
    let missed: Vec<Problem> = verdicts
        .iter()
        .filter(|verdict| !verdict.holds())
        .map(|verdict| verdict.problem)
        .collect();
    ensure!(
        missed.is_empty(),
        "the projection misses the measured fix for {}:\n{table}",
        Problem::names(&missed)
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
            projected: Aggregator::new(measure::orders()),
            analysed: Aggregator::new(measure::orders()),
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

/// `problem` measured and projected: the probe for the rate, then `pairs`
/// pairs of runs, then the projection from the planted runs.
async fn judge(
    setup: &Setup<'_>,
    problem: Problem,
    projection: &Projection,
    pairs: usize,
) -> anyhow::Result<Verdict> {
    let planted = [problem];
    let probe = setup
        .probe(&planted, &format!("{}-closed-loop", problem.slug()))
        .await
        .with_context(|| format!("{problem}, closed loop"))?;
    println!("  {problem}, closed loop: {}", probe.summary());
    let rate =
        measure::open_loop_rate(&probe).with_context(|| format!("{problem}: the planted shop"))?;
    let duration = run_length(rate);
    println!(
        "{problem}: planted, {:.1} requests/s in a closed loop of {} customers; \
         measured at {rate:.1}/s, {:.0} s a run, {pairs} pairs",
        probe.throughput,
        run::CUSTOMERS,
        duration.as_secs_f64()
    );
    let mut recording = Recording::new();
    let shops = Shops {
        planted: &planted,
        fixed: &[],
    };
    let measured = setup
        .pairs(
            shops,
            OpenLoop { rate, duration },
            pairs,
            problem.slug(),
            |progress| {
                if let Progress::Measured { turn, run, traces } = progress {
                    println!(
                        "  {problem}, pair{}-{}: {}",
                        turn.pair,
                        turn.side.name(),
                        run.summary()
                    );
                    if turn.side == Side::Planted {
                        recording.add(traces);
                    }
                }
            },
        )
        .await?;
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
        measured: measure::median_change(&measured, |run| run.traces),
        client: measure::median_change(&measured, |run| run.client),
        pairs,
        shed: measured.iter().map(Pair::shed).sum(),
    };
    Ok(verdict)
}

/// How long a run at `rate` lasts to serve about [`ORDERS_PER_RUN`] orders.
fn run_length(rate: f64) -> Duration {
    let seconds = ORDERS_PER_RUN / (ORDER_SHARE * rate);
    Duration::from_secs_f64(seconds.clamp(SHORTEST_RUN_SECS, LONGEST_RUN_SECS))
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
