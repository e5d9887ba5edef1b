//! `just demo`: the shop as five processes and the collector, under load,
//! with a report that ends on the slowest trace and its critical path.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use collector::aggregate::Analysis;
use collector::critical_path::critical_path;
use collector::jaeger::{self, Trace};
use demo::prometheus::{self, Prometheus};
use demo::{COLLECTOR_OTLP, COLLECTOR_UI, Collector, DEFAULT_BASE_PORT, SERVICES, Shop, red};
use loadgen::Load;

/// Runs the shop and the trace collector, drives load, and reports.
#[derive(Parser)]
struct Args {
    /// Load this many seconds, report, stop everything and exit: for CI and
    /// scripts. Without it, the load runs 20 s, the report is printed, and
    /// everything keeps running for you to explore until Ctrl-C.
    #[arg(long)]
    duration: Option<u64>,
    /// Turn every planted problem's fix on.
    #[arg(long)]
    fixed: bool,
    /// Customers sending requests at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The gateway's port; the other services take the next four.
    #[arg(long, default_value_t = DEFAULT_BASE_PORT)]
    base_port: u16,
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
    /// Where that Prometheus answers.
    #[arg(long, default_value_t = prometheus::DEFAULT_PORT)]
    prometheus_port: u16,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("demo: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let root = demo::workspace_root();
    demo::build_binaries(&root, cfg!(not(debug_assertions)))?;
    let bin_dir = demo::bin_dir().context("cannot find the demo's own folder")?;
    let log_dir = root.join("target/demo/logs");
    let collector = Collector::start_or_reuse(&bin_dir, &log_dir).await?;

    let mut env = vec![
        ("RUST_LOG", "info".to_owned()),
        // Enough seats that a long demo does not sell out every talk.
        ("SEATS_PER_TALK", "1000000".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", COLLECTOR_OTLP.to_owned()),
    ];
    if args.fixed {
        env.push(("FIX_ALL", "true".to_owned()));
    }
    let services_dir = match args.console {
        true => demo::build_console_binaries(&root, cfg!(not(debug_assertions)))?,
        false => bin_dir.clone(),
    };
    let mut shop = Shop::start(&services_dir, args.base_port, &env, &log_dir)
        .context("cannot start the shop")?;
    shop.wait_healthy(Duration::from_secs(15)).await?;

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
            relative(&log_dir.join(format!("{name}.log")), &root)
        );
    }
    if args.console {
        for (name, offset) in SERVICES {
            println!(
                "  {name:<10} tokio-console http://127.0.0.1:{}",
                demo::CONSOLE_BASE_PORT + offset
            );
        }
    }
    println!(
        "  {:<10} {COLLECTOR_UI:<22} {}",
        "collector",
        if collector.is_ours() {
            "(started for this demo)"
        } else {
            "(already running)"
        }
    );

    let prometheus = match args.prometheus {
        true => Some(start_prometheus(args, &root, &log_dir).await?),
        false => None,
    };
    let load_started_us = collector::api::now_us();

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
    };
    let interrupted = AtomicBool::new(false);
    let report = loadgen::run(&load, async {
        ctrl_c().await;
        interrupted.store(true, Ordering::Relaxed);
    })
    .await;
    println!();
    println!("{}", report.summary());
    let statuses: Vec<String> = report
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    println!("Answers by status: {}", statuses.join(", "));

    show_action_stats(args.base_port).await;
    // The metrics now, while the services run; the traces once they have
    // all arrived, below.
    let metrics = red::scrape_until_counted(
        &shop.gateway_url(),
        report.answered(),
        Duration::from_secs(5),
    )
    .await
    .unwrap_or_else(|(figures, _short)| figures);

    let collector_is_ours = collector.is_ours();
    let mut problems = Vec::new();
    // A bounded run, or a Ctrl-C during the load: report and stop. Waiting
    // for a second Ctrl-C would look like a hang.
    if args.duration.is_some() || interrupted.load(Ordering::Relaxed) {
        problems.extend(shop.stop(Duration::from_secs(10)));
        show_what_the_traces_say(&metrics, load_started_us, prometheus.as_ref()).await;
        record_and_show_critical_paths(&root, load_started_us, args.fixed).await;
        problems.extend(prometheus.and_then(Prometheus::stop));
        problems.extend(collector.stop());
    } else {
        // The services export every second: wait for the last batch.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        show_what_the_traces_say(&metrics, load_started_us, prometheus.as_ref()).await;
        record_and_show_critical_paths(&root, load_started_us, args.fixed).await;
        println!();
        println!(
            "Everything keeps running: the gateway at {}, traces at {COLLECTOR_UI}. Ctrl-C stops it all.",
            shop.gateway_url()
        );
        if let Some(prometheus) = &prometheus {
            println!("Prometheus: {}", prometheus.url());
        }
        ctrl_c().await;
        problems.extend(shop.stop(Duration::from_secs(10)));
        problems.extend(prometheus.and_then(Prometheus::stop));
        problems.extend(collector.stop());
    }
    for problem in &problems {
        println!("warning: {problem}");
    }
    if report.requests == 0 {
        anyhow::bail!("no request completed");
    }
    println!(
        "Stopped: the shop's services{} are shut down, their spans flushed.",
        if collector_is_ours {
            " and the collector"
        } else {
            ""
        }
    );
    Ok(())
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
async fn start_prometheus(args: &Args, root: &Path, log_dir: &Path) -> anyhow::Result<Prometheus> {
    let program = prometheus::find().context(prometheus::NOT_INSTALLED)?;
    let prometheus = Prometheus::start(
        &program,
        &root.join("target/demo/prometheus"),
        args.prometheus_port,
        args.base_port,
        log_dir,
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
    println!(
        "  {:<10} {:<22} scraping every service's /metrics",
        "prometheus",
        prometheus.url()
    );
    Ok(prometheus)
}

/// The report's end, once the traces have arrived: the metrics beside the
/// traces, Prometheus's view, the N+1's statements, the slowest trace.
async fn show_what_the_traces_say(
    metrics: &red::MetricsByRoute,
    since_us: u64,
    prometheus: Option<&Prometheus>,
) {
    show_red(metrics, since_us).await;
    if let Some(prometheus) = prometheus {
        show_prometheus(prometheus).await;
    }
    show_statements_of_the_slowest_talks_list().await;
    show_slowest_trace().await;
}

/// The gateway's rate, errors and p99 per route from its metrics, beside
/// the same from the traces of this run.
async fn show_red(metrics: &red::MetricsByRoute, since_us: u64) {
    let Ok(traces) = red::from_traces(COLLECTOR_UI, "gateway", since_us).await else {
        println!("(no RED figures from the traces to compare)");
        return;
    };
    println!();
    println!("The gateway's routes: m = its /metrics, t = its traces (they must agree):");
    println!("{}", red::table(metrics, &traces));
}

/// The p99 of `POST /orders` as Prometheus computes it, and the trace one
/// of its exemplars points at.
async fn show_prometheus(prometheus: &Prometheus) {
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
        println!("  its slowest exemplar: {COLLECTOR_UI}/trace/{trace_id}");
    }
    println!("  explore: {}/graph", prometheus.url());
}

/// The database statements in the slowest `GET /talks` trace: the ladder
/// of planted problem 6 (N+1 queries), or the one query of its fix.
async fn show_statements_of_the_slowest_talks_list() {
    let url = format!(
        "{COLLECTOR_UI}/api/traces?service=gateway&operation=GET%20/talks&limit={}",
        collector::api::MAX_LIMIT
    );
    let Ok(traces) = fetch_traces(&url).await else {
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
    println!("  {COLLECTOR_UI}/trace/{}", slowest.trace_id);
}

/// Which operations own the p99 of `POST /orders` across this run's
/// traces (the collector's aggregate critical paths), and the run's traces
/// saved for `just crisp` (and for CRISP itself): the newest thousand.
async fn record_and_show_critical_paths(root: &Path, since_us: u64, fixed: bool) {
    let folder =
        root.join(collector::DEMO_RECORDINGS)
            .join(if fixed { "fixed" } else { "planted" });
    let url = format!(
        "{COLLECTOR_UI}/api/traces?service=gateway&operation=POST%20/orders&start={since_us}&limit={}",
        collector::api::MAX_LIMIT
    );
    let recorded = match fetch_traces(&url).await {
        Ok(traces) => collector::recording::save(&folder, &traces).map(|()| traces.len()),
        Err(err) => Err(std::io::Error::other(err)),
    };
    let url = format!(
        "{COLLECTOR_UI}/api/critical-paths?service=gateway&operation=POST%20/orders&start={since_us}"
    );
    let analysis = async {
        let answer: jaeger::Response<Analysis> = reqwest::get(&url).await?.json().await?;
        anyhow::Ok(answer.data)
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
        "  {COLLECTOR_UI}/critical-paths?service=gateway&operation=POST%20/orders shows them by band, with a heat map and a flame graph."
    );
    match recorded {
        Ok(count) => println!(
            "  {count} of these traces are saved in {}: `just crisp` for the tables and flame graphs.",
            relative(&folder, root)
        ),
        Err(err) => println!("  (the traces could not be saved: {err})"),
    }
}

async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

/// The slowest recent trace through the gateway, as a waterfall with its
/// critical path, and its address in the UI.
async fn show_slowest_trace() {
    let url = format!(
        "{COLLECTOR_UI}/api/traces?service=gateway&limit={}",
        collector::api::MAX_LIMIT
    );
    let traces = match fetch_traces(&url).await {
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
        collector::terminal::waterfall(&slowest, &critical_path(&slowest), 40)
    );
    println!(
        "See it in the UI: {COLLECTOR_UI}/trace/{}",
        slowest.trace_id
    );
}

async fn fetch_traces(url: &str) -> anyhow::Result<Vec<Trace>> {
    let body: jaeger::Response<Vec<Trace>> = reqwest::get(url).await?.json().await?;
    Ok(body.data)
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
