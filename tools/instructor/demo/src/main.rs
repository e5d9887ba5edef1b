//! `just demo`: the shop as five processes and the collector, under load,
//! with a report that ends on the slowest trace and its critical path.
//!
//! It supervises what it starts: every port it needs is checked before
//! anything starts, a service is healthy only if the answer comes from that
//! very process, Ctrl-C, SIGTERM and SIGHUP all stop it in order, and on
//! Linux its children die with it even when it is killed outright.
//!
//! Its closing line says the spans were flushed only when every service
//! exited 0 and confirmed, in the line it writes at shutdown, that it lost
//! none; otherwise it names each service with the spans it lost and why, or
//! with why it did not confirm (killed, crashed), and the demo exits
//! non-zero.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use collector_client::{Client, MAX_LIMIT, TraceSearch};
use demo::flush::{self, ServiceStop};
use demo::port_check::{self, PortNeed};
use demo::prometheus::{self, Prometheus};
use demo::stop_signal::StopSignal;
use demo::{CONSOLE_BASE_PORT, Collector, DEFAULT_BASE_PORT, SERVICES, Shop, red};
use loadgen::Load;
use trace_analysis::aggregate::Endpoint;
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::Trace;

/// The highest gateway port that leaves room for the other four services.
const HIGHEST_BASE_PORT: u16 = u16::MAX - (SERVICES.len() as u16 - 1);

/// How long the report waits for the services' last spans to reach the
/// collector (they export a batch every second).
const EXPORTED_WITHIN: Duration = Duration::from_secs(10);

/// How long the report waits for a tail-sampling collector to decide the
/// traces it still holds: its decision wait (2 s by default) after their
/// last spans, with room to spare.
const DECIDED_WITHIN: Duration = Duration::from_secs(10);

/// Runs the shop and the trace collector, drives load, and reports.
#[derive(Parser)]
struct Args {
    /// Load this many seconds, report, stop everything and exit (0 only when
    /// every service confirmed that its spans were flushed): for CI and
    /// scripts. Without it, the load runs 20 s, the report is printed, and
    /// everything keeps running for you to explore until Ctrl-C (or SIGTERM,
    /// or SIGHUP).
    #[arg(long)]
    duration: Option<u64>,
    /// Turn every planted problem's fix on.
    #[arg(long)]
    fixed: bool,
    /// Customers sending requests at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The gateway's port; the other services take the next four.
    #[arg(
        long,
        default_value_t = DEFAULT_BASE_PORT,
        value_parser = clap::value_parser!(u16).range(1..=i64::from(HIGHEST_BASE_PORT))
    )]
    base_port: u16,
    /// Where the collector's UI and query API answer. A collector (or a
    /// Jaeger) already answering there is used as it is; otherwise the demo
    /// starts its own.
    #[arg(
        long,
        default_value_t = collector_client::UI_PORT,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    collector_ui_port: u16,
    /// Where the collector takes the services' spans (OTLP/HTTP).
    #[arg(
        long,
        default_value_t = collector_client::OTLP_PORT,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    collector_otlp_port: u16,
    /// Where this run's logs, Prometheus's data and recorded traces go,
    /// instead of `target/demo` (whose recordings `just crisp` reads).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Also run Prometheus (Debian's `prometheus`), scraping every service's
    /// `/metrics` each second, with exemplars.
    #[arg(long)]
    prometheus: bool,
    /// Run the services built for tokio-console (a build of their own, the
    /// first time a few minutes), each serving its tasks on a port of its
    /// own from 6669: `tokio-console http://127.0.0.1:6671` shows the
    /// inventory's.
    #[arg(long)]
    console: bool,
    /// Every service samples its CPU 100 times a second and sends the
    /// samples, each in the span it was taken in (`PROFILE=1`): the
    /// critical-paths page then links each operation to its CPU flame graph.
    #[arg(long)]
    profile: bool,
    /// Head sampling: every service starts a new trace with this
    /// probability (above 0, at most 1) and follows its caller's decision
    /// (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`,
    /// `OTEL_TRACES_SAMPLER_ARG`).
    #[arg(long, value_name = "PROBABILITY", value_parser = sampling_probability)]
    sample: Option<f64>,
    /// Tail sampling: the collector the demo starts keeps a trace once it
    /// is complete, and only every failed or slow one and a share of the
    /// rest (`collector --tail-sampling`).
    #[arg(long)]
    tail: bool,
    /// Where that Prometheus answers.
    #[arg(
        long,
        default_value_t = prometheus::DEFAULT_PORT,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    prometheus_port: u16,
}

/// A head-sampling probability: above 0 (at 0 no trace would start at
/// all) and at most 1.
fn sampling_probability(text: &str) -> Result<f64, String> {
    let probability: f64 = text.trim().parse().map_err(|_| {
        format!("{text:?} is not a number: give the probability of keeping a trace, such as 0.1")
    })?;
    if probability > 0.0 && probability <= 1.0 {
        Ok(probability)
    } else {
        Err(format!(
            "{text} is not a probability of keeping a trace: give one above 0 and at most 1 (0.1 keeps one trace in ten)"
        ))
    }
}

/// Where a run writes its files.
struct Folders {
    logs: PathBuf,
    prometheus: PathBuf,
    recordings: PathBuf,
}

impl Folders {
    fn new(root: &Path, work_dir: Option<&Path>) -> Self {
        match work_dir {
            Some(dir) => Self {
                logs: dir.join("logs"),
                prometheus: dir.join("prometheus"),
                recordings: dir.join("recordings"),
            },
            None => Self {
                logs: root.join("target/demo/logs"),
                prometheus: root.join("target/demo/prometheus"),
                recordings: root.join(trace_analysis::recording::DEMO_RECORDINGS),
            },
        }
    }
}

/// Everything the demo runs. Whatever of it this program started is
/// stopped when dropped, so a start cut short leaves nothing behind.
struct Running {
    collector: Collector,
    shop: Shop,
    prometheus: Option<Prometheus>,
}

fn main() -> ExitCode {
    // First of all: in a child being started, this becomes the child.
    demo::parent_death::init();
    let args = Args::parse();
    let outcome = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run(&args)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("demo: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let stop = StopSignal::listen().context("cannot take Ctrl-C, SIGTERM and SIGHUP over")?;
    let root = demo::workspace_root();
    let folders = Folders::new(&root, args.work_dir.as_deref());
    let running = tokio::select! {
        running = start(args, &root, &folders) => running?,
        signal = stop.received() => {
            anyhow::bail!("{signal} while starting: what had started is stopped")
        }
    };
    show_what_runs(args, &root, &folders, &running);

    let load_started_us = collector_client::now_us();
    let report = drive_load(args, &running.shop, &stop).await;
    show_action_stats(args.base_port).await;
    // The metrics now, while the services run; the traces once they have
    // all arrived, below.
    let metrics = red::scrape_until_counted(
        &running.shop.gateway_url(),
        report.answered(),
        Duration::from_secs(5),
    )
    .await
    .unwrap_or_else(|(figures, _short)| figures);
    let traces = TraceReport {
        root: &root,
        recordings: &folders.recordings,
        fixed: args.fixed,
        head_sampled: args.sample.is_some(),
        load_started_us,
        metrics,
    };
    let collector_is_ours = running.collector.is_ours();
    let (stops, problems) = report_and_stop(args, running, &stop, &traces).await;
    for problem in &problems {
        println!("warning: {problem}");
    }
    let verdict = flush::verdict(&stops);
    for line in flush::closing_lines(&verdict, collector_is_ours) {
        println!("{line}");
    }
    if report.requests == 0 {
        anyhow::bail!("no request completed");
    }
    if !verdict.all_flushed() {
        anyhow::bail!(
            "the spans of {} were not all flushed (see above)",
            verdict.not_flushed().join(", ")
        );
    }
    Ok(())
}

/// Starts everything, once every port it needs is known to be free: the
/// collector (unless one already answers), the shop, healthy, and
/// Prometheus if asked for. Polled by `block_on` on the main thread, never
/// from a task of its own: on Linux a child dies with the thread that
/// started it (see `demo::parent_death`), and the main thread lives exactly
/// as long as the demo.
async fn start(args: &Args, root: &Path, folders: &Folders) -> anyhow::Result<Running> {
    let running_collector =
        Collector::running_at(args.collector_otlp_port, args.collector_ui_port).await;
    port_check::ensure_free(&ports_needed(args, running_collector.is_none()))?;

    let release = cfg!(not(debug_assertions));
    demo::build_binaries(root, release)?;
    let bin_dir = demo::bin_dir().context("cannot find the demo's own folder")?;
    let collector = match running_collector {
        Some(collector) => collector,
        None => {
            let (otlp, ui) = (args.collector_otlp_port, args.collector_ui_port);
            let flags: &[&str] = if args.tail { &["--tail-sampling"] } else { &[] };
            Collector::start_with(&bin_dir, &folders.logs, otlp, ui, flags).await?
        }
    };
    let services_dir = match args.console {
        true => demo::build_console_binaries(root, release)?,
        false => bin_dir,
    };
    let env = service_env(args, &collector);
    let mut shop = Shop::start(&services_dir, args.base_port, &env, &[], &folders.logs)
        .context("cannot start the shop")?;
    shop.wait_healthy(Duration::from_secs(15)).await?;
    let prometheus = match args.prometheus {
        true => Some(start_prometheus(args, folders).await?),
        false => None,
    };
    Ok(Running {
        collector,
        shop,
        prometheus,
    })
}

/// Every port this run will listen on, and what for.
fn ports_needed(args: &Args, starts_collector: bool) -> Vec<PortNeed> {
    let need = |port: u16, user: String, remedy: &'static str| PortNeed { port, user, remedy };
    let mut needs =
        port_check::shop_ports(args.base_port, "`--base-port` moves the shop's five ports");
    if starts_collector {
        let remedy = "`just collector` there would be used as it is, or `--collector-ui-port` \
                      and `--collector-otlp-port` move the demo's own";
        needs.extend(port_check::collector_ports(
            args.collector_ui_port,
            args.collector_otlp_port,
            remedy,
        ));
    }
    if args.prometheus {
        let remedy = "`--prometheus-port` moves it";
        needs.push(need(args.prometheus_port, "Prometheus".into(), remedy));
    }
    if args.console {
        needs.extend(SERVICES.iter().map(|(name, offset)| {
            let user = format!("the {name}'s tokio-console");
            need(CONSOLE_BASE_PORT + offset, user, "stop what holds it")
        }));
    }
    needs
}

/// What the services are told, beside this program's own environment.
fn service_env(args: &Args, collector: &Collector) -> Vec<(&'static str, String)> {
    let mut env = demo::service_env(collector);
    if args.fixed {
        env.push(("FIX_ALL", "true".to_owned()));
    }
    if args.profile {
        env.push(("PROFILE", "1".to_owned()));
    }
    if let Some(probability) = args.sample {
        env.push(("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".to_owned()));
        env.push(("OTEL_TRACES_SAMPLER_ARG", probability.to_string()));
    }
    env
}

/// What runs where, and where each service logs.
fn show_what_runs(args: &Args, root: &Path, folders: &Folders, running: &Running) {
    println!(
        "The shop is up: {} services, planted problems {}.",
        SERVICES.len(),
        if args.fixed {
            "fixed"
        } else {
            "on (`just demo --fixed` fixes them)"
        }
    );
    for (name, offset) in SERVICES {
        println!(
            "  {name:<10} http://127.0.0.1:{:<6} log: {}",
            args.base_port + offset,
            relative(&folders.logs.join(format!("{name}.log")), root)
        );
    }
    if args.console {
        for (name, offset) in SERVICES {
            println!(
                "  {name:<10} tokio-console http://127.0.0.1:{}",
                CONSOLE_BASE_PORT + offset
            );
        }
    }
    let collector = &running.collector;
    println!(
        "  {:<10} {:<22} {}",
        "collector",
        collector.ui_url(),
        if collector.is_ours() {
            "(started for this demo)"
        } else {
            "(already running)"
        }
    );
    if let Some(prometheus) = &running.prometheus {
        println!(
            "  {:<10} {:<22} scraping every service's /metrics",
            "prometheus",
            prometheus.url()
        );
    }
    if let Some(probability) = args.sample {
        println!(
            "  head sampling: each service starts a new trace with probability {probability}, and follows its caller's decision"
        );
    }
    match (args.tail, collector.is_ours()) {
        (true, true) => println!(
            "  tail sampling: the collector keeps every failed or slow trace, and a share of the rest"
        ),
        (true, false) => println!(
            "  warning: --tail cannot turn tail sampling on in the collector already running at {}: \
             restart it as `just collector --tail-sampling`, or stop it and the demo starts its own",
            collector.ui_url()
        ),
        (false, _) => {}
    }
}

/// The load, until its duration or a stop signal; what the customers saw.
async fn drive_load(args: &Args, shop: &Shop, stop: &StopSignal) -> loadgen::Report {
    let seconds = args.duration.unwrap_or(20);
    println!(
        "Load: {} customers for {seconds} s (Ctrl-C stops early).",
        args.concurrency
    );
    let load = Load {
        target: shop.gateway_url(),
        concurrency: args.concurrency,
        duration: Duration::from_secs(seconds),
        max_requests: None,
        progress: true,
        impatience: None,
        open_loop: None,
    };
    let report = loadgen::run(&load, async {
        stop.received().await;
    })
    .await;
    println!();
    if let Some(signal) = stop.received_now() {
        println!("{signal}: the load stopped early; the report follows, then everything stops.");
    }
    println!("{}", report.summary());
    let statuses: Vec<String> = report
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    println!("Answers by status: {}", statuses.join(", "));
    report
}

/// The report's end, and everything stopped, in the order the run's
/// [`Ending`] says. Returns how each service stopped, and what else went
/// wrong.
async fn report_and_stop(
    args: &Args,
    running: Running,
    stop: &StopSignal,
    traces: &TraceReport<'_>,
) -> (Vec<ServiceStop>, Vec<String>) {
    let Running {
        collector,
        shop,
        prometheus,
    } = running;
    let ending = Ending::of(args.duration.is_some(), stop.received_now().is_some());
    let stops = match ending {
        Ending::StopThenReport => {
            let stops = stop_the_shop(shop);
            traces.show(collector.ui_url(), prometheus.as_ref()).await;
            stops
        }
        Ending::ReportThenWait => {
            // The report reads the collector: first, every span at it.
            if let Err(waiting) = shop.wait_until_exported(EXPORTED_WITHIN).await {
                println!(
                    "warning: not every span reached the collector within {} s: {}",
                    EXPORTED_WITHIN.as_secs(),
                    waiting.join(", ")
                );
            }
            traces.show(collector.ui_url(), prometheus.as_ref()).await;
            keep_running(&shop, &collector, prometheus.as_ref(), stop).await;
            stop_the_shop(shop)
        }
    };
    let mut problems: Vec<String> = prometheus.and_then(Prometheus::stop).into_iter().collect();
    problems.extend(collector.stop());
    (stops, problems)
}

/// Which comes first at the end of a run: the report, or the stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Stop the services first (each flushes its spans), then report at
    /// once: waiting for another signal would look like a hang.
    StopThenReport,
    /// Report, then keep everything running until a stop signal.
    ReportThenWait,
}

impl Ending {
    /// A bounded run (`--duration`), or one a signal stopped during the
    /// load, stops first; any other run reports and keeps running.
    fn of(bounded: bool, stopped_during_load: bool) -> Self {
        if bounded || stopped_during_load {
            Self::StopThenReport
        } else {
            Self::ReportThenWait
        }
    }
}

/// Where everything can be explored, until a stop signal comes.
async fn keep_running(
    shop: &Shop,
    collector: &Collector,
    prometheus: Option<&Prometheus>,
    stop: &StopSignal,
) {
    println!();
    println!(
        "Everything keeps running: the gateway at {}, traces at {}. Ctrl-C stops it all.",
        shop.gateway_url(),
        collector.ui_url()
    );
    if let Some(prometheus) = prometheus {
        println!("Prometheus: {}", prometheus.url());
    }
    let signal = stop.received().await;
    println!("{signal}: stopping everything.");
}

/// Stops the services, each draining its requests and flushing its spans,
/// and hears from each whether it did.
fn stop_the_shop(shop: Shop) -> Vec<ServiceStop> {
    let grace = demo::stop_grace();
    println!(
        "Stopping the shop: each service drains its requests and flushes its spans (within {} s).",
        grace.as_secs()
    );
    shop.stop_and_confirm(grace)
}

/// What the report's end reads: the run's metrics, when its load began,
/// and where its traces are saved.
struct TraceReport<'a> {
    root: &'a Path,
    recordings: &'a Path,
    fixed: bool,
    /// Whether the services sampled at the head (`--sample`).
    head_sampled: bool,
    load_started_us: u64,
    metrics: red::MetricsByRoute,
}

impl TraceReport<'_> {
    /// The report's end, once the traces have arrived (and, when the
    /// collector samples at the tail, been decided): what tail sampling
    /// kept, the metrics beside the traces, Prometheus's view, the N+1's
    /// statements, the slowest trace, and the critical paths of the run's
    /// orders.
    async fn show(&self, ui: &str, prometheus: Option<&Prometheus>) {
        let tail = demo::tail_sampling::settled(ui, DECIDED_WITHIN).await;
        if let Some(counts) = &tail {
            println!();
            for line in counts.lines() {
                println!("{line}");
            }
        }
        let sampled = self.head_sampled || tail.is_some();
        show_red(ui, &self.metrics, self.load_started_us, sampled).await;
        if let Some(prometheus) = prometheus {
            show_prometheus(ui, prometheus).await;
        }
        show_statements_of_the_slowest_talks_list(ui).await;
        show_slowest_trace(ui).await;
        record_and_show_critical_paths(self, ui).await;
    }
}

/// Every service's actions, from its `GET /stats`: counts by outcome,
/// duration quantiles and the one-minute rate.
async fn show_action_stats(base_port: u16) {
    println!();
    println!(
        "{:<10} {:<9} {:>7} {:>6} {:>6} {:>6} {:>9} {:>9} {:>8}",
        "service", "action", "count", "ok", "failed", "errors", "p50 ms", "p99 ms", "per s"
    );
    for (name, offset) in SERVICES {
        let url = format!("http://127.0.0.1:{}/stats", base_port + offset);
        let Ok(response) = reqwest::get(&url).await else {
            continue;
        };
        let Ok(stats) = response.json::<Vec<actions::ActionStats>>().await else {
            continue;
        };
        for action in stats {
            println!(
                "{name:<10} {:<9} {:>7} {:>6} {:>6} {:>6} {:>9.1} {:>9.1} {:>8.1}",
                action.action,
                action.count,
                action.success,
                action.failure,
                action.exception,
                action.p50_us as f64 / 1000.0,
                action.p99_us as f64 / 1000.0,
                action.rate_1m,
            );
        }
    }
}

/// Starts Prometheus for `--prometheus`, or says how to get it.
async fn start_prometheus(args: &Args, folders: &Folders) -> anyhow::Result<Prometheus> {
    let program = prometheus::find().context(prometheus::NOT_INSTALLED)?;
    let prometheus = Prometheus::start(
        &program,
        &folders.prometheus,
        args.prometheus_port,
        args.base_port,
        &folders.logs,
    )
    .await
    .with_context(|| {
        format!(
            "cannot start Prometheus on port {} (`--prometheus-port` picks another)",
            args.prometheus_port
        )
    })?;
    prometheus
        .wait_for_first_scrape(Duration::from_secs(30))
        .await?;
    Ok(prometheus)
}

/// The gateway's rate, errors and p99 per route from its metrics, beside
/// the same from the traces of this run (`sampled`: of those kept).
async fn show_red(ui: &str, metrics: &red::MetricsByRoute, since_us: u64, sampled: bool) {
    let Ok(traces) = red::from_traces(ui, "gateway", since_us).await else {
        println!("(no RED figures from the traces to compare)");
        return;
    };
    println!();
    if sampled {
        println!(
            "The gateway's routes: m = its /metrics, t = its traces (only those sampled: \
             the metrics count every request, the traces cannot)"
        );
    } else {
        println!("The gateway's routes: m = its /metrics, t = its traces (they must agree):");
    }
    println!("{}", red::table(metrics, &traces));
}

/// The p99 of `POST /orders` as Prometheus computes it, and the trace one
/// of its exemplars points at.
async fn show_prometheus(ui: &str, prometheus: &Prometheus) {
    let p99 = prometheus.p99(prometheus::ORDERS).await.ok().flatten();
    let exemplar = prometheus
        .slowest_exemplar(prometheus::ORDERS, Duration::from_secs(600))
        .await
        .ok()
        .flatten();
    println!();
    match p99 {
        Some(p99) => println!(
            "Prometheus: p99 of POST /orders {:.1} ms (histogram_quantile over the last minute).",
            p99 * 1e3
        ),
        None => println!("Prometheus: no p99 of POST /orders yet (too few scrapes)."),
    }
    if let Some(trace_id) = exemplar.as_ref().and_then(prometheus::Exemplar::trace_id) {
        println!("  its slowest exemplar: {ui}/trace/{trace_id}");
    }
    println!("  explore: {}/graph", prometheus.url());
}

/// The database statements in the slowest `GET /talks` trace: the ladder
/// of planted problem 6 (N+1 queries), or the one query of its fix.
async fn show_statements_of_the_slowest_talks_list(ui: &str) {
    let search = TraceSearch {
        service: Some("gateway".to_owned()),
        operation: Some("GET /talks".to_owned()),
        limit: Some(MAX_LIMIT),
        ..TraceSearch::default()
    };
    let Ok(traces) = fetch_traces(ui, &search).await else {
        return;
    };
    let Some(slowest) = traces.into_iter().max_by_key(Trace::duration) else {
        return;
    };
    let statements: Vec<&str> = slowest
        .spans
        .iter()
        .filter(|span| span.tag("db.system.name").is_some())
        .map(|span| span.operation_name.as_str())
        .collect();
    println!();
    let ran = match statements.as_slice() {
        [] => "no database statement".to_owned(),
        [one] => format!("one database statement, {one}"),
        [first, rest @ ..] => format!(
            "{} database statements: {first}, then {} more, a speaker and a price \
             per talk (planted problem 6, N+1 queries; `--fix-n-plus-one` makes it one)",
            statements.len(),
            rest.len()
        ),
    };
    println!();
    println!(
        "The slowest GET /talks ({:.1} ms) ran {ran}.",
        slowest.duration() as f64 / 1e3
    );
    println!("  {ui}/trace/{}", slowest.trace_id);
}

/// Which operations own the p99 of `POST /orders` across this run's
/// traces (the collector's aggregate critical paths), and the run's traces
/// saved for `just crisp` (and for CRISP itself): the newest thousand.
async fn record_and_show_critical_paths(report: &TraceReport<'_>, ui: &str) {
    let since_us = report.load_started_us;
    let folder = report
        .recordings
        .join(if report.fixed { "fixed" } else { "planted" });
    let search = TraceSearch::orders_since(since_us);
    let recorded = match fetch_traces(ui, &search).await {
        Ok(traces) => trace_analysis::recording::save(&folder, &traces).map(|()| traces.len()),
        Err(err) => Err(std::io::Error::other(err)),
    };
    let orders = Endpoint {
        service: "gateway".to_owned(),
        operation: "POST /orders".to_owned(),
    };
    let analysis = async {
        let client = Client::new(ui)?;
        anyhow::Ok(client.critical_paths(&orders, Some(since_us), None).await?)
    };
    let Ok(analysis) = analysis.await else {
        println!("(no critical paths of POST /orders to show)");
        return;
    };
    let Some(p99) = analysis.band("p99") else {
        return;
    };
    println!();
    println!(
        "Across {} POST /orders, the p99 band ({} slowest, {:.1}–{:.1} ms) spends its critical path in:",
        analysis.traces,
        p99.traces,
        p99.min_duration_us as f64 / 1e3,
        p99.max_duration_us as f64 / 1e3
    );
    for op in p99.operations.iter().take(3) {
        println!(
            "  {:>5.1}%  {:>7.1} ms  {} {}",
            100.0 * op.mean_critical_path_us / p99.mean_duration_us.max(1.0),
            op.mean_critical_path_us / 1e3,
            op.service,
            op.operation
        );
    }
    println!(
        "  {ui}/critical-paths?service=gateway&operation=POST%20/orders shows them by band, with a heat map and a flame graph."
    );
    match recorded {
        Ok(count) => println!(
            "  {count} of these traces are saved in {}: `just crisp` for the tables and flame graphs.",
            relative(&folder, report.root)
        ),
        Err(err) => println!("  (the traces could not be saved: {err})"),
    }
}

/// The slowest recent trace through the gateway, as a waterfall with its
/// critical path, and its address in the UI.
async fn show_slowest_trace(ui: &str) {
    let search = TraceSearch {
        service: Some("gateway".to_owned()),
        limit: Some(MAX_LIMIT),
        ..TraceSearch::default()
    };
    let traces = match fetch_traces(ui, &search).await {
        Ok(traces) => traces,
        Err(err) => {
            println!("(no trace to show: {err:#})");
            return;
        }
    };
    let Some(slowest) = traces.into_iter().max_by_key(Trace::duration) else {
        println!("(the collector received no trace)");
        return;
    };
    println!();
    println!("The slowest trace, with its critical path:");
    anstream::print!(
        "{}",
        trace_analysis::terminal::waterfall(&slowest, &critical_path(&slowest), 40)
    );
    println!("See it in the UI: {ui}/trace/{}", slowest.trace_id);
}

async fn fetch_traces(ui: &str, search: &TraceSearch) -> anyhow::Result<Vec<Trace>> {
    Ok(Client::new(ui)?.traces(search).await?)
}

fn relative(path: &Path, root: &Path) -> String {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    path.canonicalize()
        .ok()
        .and_then(|p| p.strip_prefix(&root).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sampling_probability_is_above_0_and_at_most_1() {
        assert_eq!(sampling_probability("0.1"), Ok(0.1));
        assert_eq!(sampling_probability(" 1 "), Ok(1.0));
        for bad in ["0", "-0.5", "1.5", "NaN", "ten"] {
            let refused = sampling_probability(bad);
            assert!(
                refused.as_ref().is_err_and(|reason| reason.contains(bad)),
                "{bad:?} is refused with a reason that names it: {refused:?}"
            );
        }
    }

    #[test]
    fn a_bounded_or_interrupted_run_stops_before_it_reports() {
        assert_eq!(Ending::of(true, false), Ending::StopThenReport);
        assert_eq!(Ending::of(false, true), Ending::StopThenReport);
        assert_eq!(Ending::of(true, true), Ending::StopThenReport);
        assert_eq!(Ending::of(false, false), Ending::ReportThenWait);
    }
}
