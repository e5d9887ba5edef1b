//! The span export under faults, on the real binaries: a collector killed
//! during the load and restarted 30 s later costs no span (the README's
//! promise: a restart of up to 30 s loses nothing); one that stays down longer
//! than the retries last makes the demo name every lost span with its
//! reason, and fail; a service killed during the load is named, and no
//! flush is claimed.
//!
//! Each demo runs on ports of its own, with its files in a folder of its
//! own. Where a test stops and restarts the collector, it starts it itself
//! on the demo's collector ports (the demo then uses it as it is), with
//! `--data`, so that it keeps its traces across a restart. A service's
//! process is found through `/proc`, so this is for Linux. Nothing waits
//! for a length of time: each step polls for its condition, with a
//! deadline that only bounds a failure. The demos run one at a time, as
//! each test's timing is that of its own load.

#![cfg(target_os = "linux")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use collector_client::{Client, MAX_LIMIT, TraceSearch, loopback};
use demo::SERVICES;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use telemetry::{DropReason, ExportFailure, FlushReport};
use trace_analysis::jaeger::Trace;

use crate::support::{
    Demo, POLL, PORTS, STARTUP, build_the_shop, eventually, free_ports, work_dir,
};

/// Bounds a demo's end: its report, then each service's drain and flush.
const STOP: Duration = Duration::from_secs(240);

/// Bounds a condition that comes within seconds when all is well.
const SOON: Duration = Duration::from_secs(60);

/// What a service counts of the spans handed to its batch processor, and
/// of the HTTP attempts that retried a batch.
const HANDED: &str = "otel_sdk_processor_span_processed_total";
const RETRIES: &str = "otel_sdk_exporter_span_export_retries_total";

/// How long the collector stays down in the restart test: the longest
/// outage the README promises to ride out.
const OUTAGE: Duration = Duration::from_secs(30);

/// One demo at a time in this file.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A client that gives up on a server that does not answer: a service
/// that is stopping must not stall a test's polling.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a plain HTTP client builds")
}

/// The collector's query API at `ui`, each query given up as [`http`]'s.
fn collector(ui: &str) -> Client {
    Client::new(ui)
        .expect("the collector's address")
        .with_timeout(Duration::from_secs(5))
}

/// What only these tests ask of a demo.
impl Demo {
    /// The collector's UI and query API, where the demo's collector runs.
    fn collector_ui(&self) -> String {
        loopback(self.base() + 5)
    }

    /// The flush report `service` wrote in its log at shutdown.
    fn flush_report(&self, service: &str) -> FlushReport {
        let log = self.work().join("logs").join(format!("{service}.log"));
        demo::flush::report_in_log(&log).unwrap_or_else(|| {
            panic!(
                "{service} should have written its flush report in {}{}",
                log.display(),
                self.output()
            )
        })
    }

    /// The sum of `name`'s series in `service`'s `GET /metrics`; `None`
    /// when it does not answer or has no such series yet.
    async fn counter(&self, service: &str, name: &str) -> Option<u64> {
        let offset = SERVICES.iter().find(|(n, _)| *n == service)?.1;
        let sum = demo::metric_sum(&http(), self.base() + offset, name).await?;
        Some(sum as u64)
    }
}

/// The collector, started by the test on the demo's collector ports so
/// that it can kill it and start it again, keeping its traces in `data`.
struct TestCollector {
    child: Child,
    ui: String,
}

impl TestCollector {
    async fn start(base: u16, data: &Path, log: &Path) -> Self {
        let program = Path::new(env!("CARGO_BIN_EXE_demo")).with_file_name("collector");
        let log = File::create(log).expect("the collector's log");
        let child = Command::new(program)
            .arg("--data")
            .arg(data)
            .env("UI_LISTEN", format!("127.0.0.1:{}", base + 5))
            .env("OTLP_LISTEN", format!("127.0.0.1:{}", base + 6))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the collector's log"))
            .stderr(log)
            .spawn()
            .expect("the collector starts");
        let mut collector = Self {
            child,
            ui: loopback(base + 5),
        };
        let what = "the collector to answer";
        let deadline = Instant::now() + SOON;
        while services(&collector.ui).await.is_err() {
            if let Ok(Some(status)) = collector.child.try_wait() {
                panic!("the collector exited at start ({status})");
            }
            assert!(Instant::now() < deadline, "gave up waiting for {what}");
            tokio::time::sleep(POLL).await;
        }
        collector
    }

    /// SIGKILL: no drain, no last word; waited for, so that its ports are
    /// free again.
    fn kill(self) {
        drop(self);
    }
}

impl Drop for TestCollector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The services the collector has spans of.
async fn services(ui: &str) -> Result<Vec<String>, String> {
    collector(ui)
        .services()
        .await
        .map_err(|err| err.to_string())
}

/// Waits until the collector holds spans of the gateway: the load's
/// first traces have arrived.
async fn wait_for_the_loads_first_traces(ui: &str) {
    eventually(
        "the gateway's first spans at the collector",
        SOON,
        async || {
            let listed = services(ui).await?;
            match listed.iter().any(|service| service == "gateway") {
                true => Ok(()),
                false => Err(format!("spans of {listed:?}")),
            }
        },
    )
    .await;
}

/// What the collector holds of a service: its spans' ids, and the ids of
/// the traces they are in.
#[derive(Debug, Default)]
struct Held {
    spans: BTreeSet<String>,
    traces: BTreeSet<String>,
}

/// What the collector holds of `service` (its spans named `operation`,
/// if given), through its query API. An answer lists at most
/// `MAX_LIMIT` traces, so a window of time whose answer is full is
/// halved until none is; a trace seen in two windows counts once.
async fn held(ui: &str, service: &str, operation: Option<&str>) -> Held {
    let limit = MAX_LIMIT;
    let mut held = Held::default();
    let mut windows = vec![(0, collector_client::now_us() + 3_600_000_000)];
    while let Some((start, end)) = windows.pop() {
        let search = TraceSearch {
            service: Some(service.to_owned()),
            operation: operation.map(str::to_owned),
            start_us: Some(start),
            end_us: Some(end),
            limit: Some(limit),
        };
        let traces: Vec<Trace> = collector(ui)
            .traces(&search)
            .await
            .unwrap_or_else(|err| panic!("{search:?}: {err}"));
        if traces.len() >= limit && end > start {
            let middle = start + (end - start) / 2;
            windows.push((start, middle));
            windows.push((middle + 1, end));
            continue;
        }
        for trace in &traces {
            for span in &trace.spans {
                if trace.service_of(span) == service
                    && operation.is_none_or(|name| span.operation_name == name)
                {
                    held.spans.insert(span.span_id.clone());
                    held.traces.insert(trace.trace_id.clone());
                }
            }
        }
    }
    held
}

/// The `POST /orders` the gateway answered during the load, from the
/// demo's RED table (`m` of `requests m / t`, from the gateway's metrics).
fn orders_answered(stdout: &str) -> Option<u64> {
    stdout.lines().find_map(|line| {
        line.strip_prefix("POST /orders")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// The demo's closing lines: from its `Stopped:` line on.
fn closing_lines(stdout: &str) -> &str {
    stdout.find("Stopped: ").map_or("", |at| &stdout[at..])
}

/// The closing line that names `service`.
fn closing_line_of<'a>(stdout: &'a str, service: &str) -> Option<&'a str> {
    closing_lines(stdout)
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{service} ")))
}

/// The number just before ` WORD` in `line`: `count_before("12 failed",
/// "failed")` is 12.
fn count_before(line: &str, word: &str) -> Option<u64> {
    let (before, _) = line.split_once(&format!(" {word}"))?;
    before.split_whitespace().next_back()?.parse().ok()
}

/// The spans a service exported must be in the collector: each one it
/// counted as exported, for each service.
async fn assert_the_collector_holds_what_was_exported(demo: &Demo, ui: &str) {
    for (service, _) in SERVICES {
        let report = demo.flush_report(service);
        let held = held(ui, service, None).await.spans.len() as u64;
        assert!(
            held >= report.exported,
            "the collector holds {held} spans of {service}, which counted {} exported ({report}){}",
            report.exported,
            demo.output()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_down_for_30_s_during_the_load_costs_no_span() {
    let _one = ONE_AT_A_TIME.lock().await;
    build_the_shop();
    let base = free_ports(PORTS);
    let work = work_dir("export-restart", base);
    let data = work.join("collector.jsonl");
    let collector = TestCollector::start(base, &data, &work.join("collector-1.log")).await;
    // The load outlasts the outage, so spans keep ending while it lasts.
    let load = (OUTAGE + Duration::from_secs(20)).as_secs().to_string();
    let mut demo = Demo::start(base, &work, &["--duration", &load], &[]);
    demo.wait_for_stdout("Load:", STARTUP).await;
    wait_for_the_loads_first_traces(&collector.ui).await;

    collector.kill();
    let down = Instant::now();
    // A service retries a batch four times, one more than OpenTelemetry's
    // default policy allows (a policy that gave up sooner would lose it).
    let retries = eventually(
        "a batch retried four times while the collector is down",
        SOON,
        async || {
            let mut most = 0;
            for (service, _) in SERVICES {
                most = most.max(demo.counter(service, RETRIES).await.unwrap_or(0));
            }
            match most >= 4 {
                true => Ok(most),
                false => Err(format!("at most {most} retries so far")),
            }
        },
    )
    .await;
    // The outage itself is the fault injected: its length is the point,
    // not a wait for something to happen.
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    assert!(
        !demo.stdout().contains("Answers by status"),
        "the load should outlast the outage{}",
        demo.output()
    );
    let outage = down.elapsed();
    let collector = TestCollector::start(base, &data, &work.join("collector-2.log")).await;

    let status = demo.wait_for_exit(STOP).await;
    assert!(
        status.success(),
        "every span should have been flushed after the restart; the demo ended with {status}{}",
        demo.output()
    );
    let stdout = demo.stdout();
    assert!(
        stdout.contains("Stopped: the shop's services are shut down, their spans flushed: "),
        "the demo should say that the spans were flushed{}",
        demo.output()
    );
    for (service, _) in SERVICES {
        let report = demo.flush_report(service);
        assert!(
            report.lost_nothing(),
            "{service} should have lost no span across the restart: {report}{}",
            demo.output()
        );
    }
    assert!(
        demo.flush_report("gateway").exported > 0,
        "the gateway exported spans{}",
        demo.output()
    );
    assert_the_collector_holds_what_was_exported(&demo, &collector.ui).await;
    let answered = orders_answered(&stdout).unwrap_or_else(|| {
        panic!(
            "the demo's RED table should count the POST /orders answered{}",
            demo.output()
        )
    });
    let order_traces = held(&collector.ui, "gateway", Some("POST /orders"))
        .await
        .traces
        .len() as u64;
    assert!(
        order_traces >= answered,
        "the collector holds {order_traces} traces of POST /orders, the gateway answered {answered}{}",
        demo.output()
    );
    // Figures for the record.
    eprintln!(
        "a collector down for {outage:.1?} during the load ({retries}+ retries of a batch): \
         {answered} orders answered, {order_traces} of their traces held; the demo: {}",
        closing_lines(&stdout).lines().next().unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_down_past_the_retries_makes_the_demo_name_every_lost_span() {
    let _one = ONE_AT_A_TIME.lock().await;
    build_the_shop();
    let base = free_ports(PORTS);
    let work = work_dir("export-outage", base);
    let data = work.join("collector.jsonl");
    let collector = TestCollector::start(base, &data, &work.join("collector-1.log")).await;
    // A queue of 16 spans, and a second of retries for each batch.
    let env = [
        ("OTEL_BSP_MAX_QUEUE_SIZE", "16"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
    ];
    let mut demo = Demo::start(base, &work, &["--duration", "5"], &env);
    demo.wait_for_stdout("Load:", STARTUP).await;
    wait_for_the_loads_first_traces(&collector.ui).await;
    collector.kill();

    // The spans handed to each service's batch processor, as its metrics
    // say until it stops: the report at its shutdown must account for all.
    let mut handed: BTreeMap<&str, u64> = BTreeMap::new();
    let deadline = Instant::now() + STOP;
    let status = loop {
        if let Some(status) = demo.exited() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not exit{}",
            demo.output()
        );
        for (service, _) in SERVICES {
            if let Some(count) = demo.counter(service, HANDED).await {
                let most = handed.entry(service).or_default();
                *most = (*most).max(count);
            }
        }
        tokio::time::sleep(POLL).await;
    };

    assert!(
        !status.success(),
        "spans were lost: the demo should fail, it ended with {status}{}",
        demo.output()
    );
    let stdout = demo.stdout();
    assert!(
        closing_lines(&stdout).contains("shut down, but their spans were not all flushed:")
            && !stdout.contains("their spans flushed"),
        "the demo should not claim a flush{}",
        demo.output()
    );
    for (service, _) in SERVICES {
        let report = demo.flush_report(service);
        let seen = handed.get(service).copied().unwrap_or(0);
        assert!(
            report.total() >= seen,
            "{service} was seen holding {seen} spans, its report accounts for {}: {report}{}",
            report.total(),
            demo.output()
        );
        if report.lost_nothing() {
            continue;
        }
        // The demo names the loss, and its counts add up.
        let line = closing_line_of(&stdout, service)
            .unwrap_or_else(|| panic!("the demo should name {service}{}", demo.output()));
        let said = format!(
            "lost {} of {} spans: {}",
            report.lost(),
            report.total(),
            report.counts()
        );
        assert!(
            line.ends_with(&said),
            "the demo should say {said:?} of {service}, it says {line:?}"
        );
        let printed = |word: &str| {
            count_before(line, word)
                .unwrap_or_else(|| panic!("{service}'s line should count {word}: {line:?}"))
        };
        let (lost, handed_in_all) = (printed("of"), printed("spans"));
        let (exported, failed, dropped) =
            (printed("exported"), printed("failed"), printed("dropped"));
        assert!(
            handed_in_all == exported + failed + dropped && lost == failed + dropped,
            "{service}: handed = exported + failed + dropped, as printed: {line:?}"
        );
    }
    let gateway = demo.flush_report("gateway");
    for (reason, count) in [
        (
            "queue_full",
            gateway.dropped.get(&DropReason::QueueFull).copied(),
        ),
        (
            "export_failed",
            gateway.failed.get(&ExportFailure::ExportFailed).copied(),
        ),
    ] {
        assert!(
            count.is_some_and(|count| count > 0),
            "with a queue of 16 and a collector gone, the gateway should lose spans as {reason}: {gateway}{}",
            demo.output()
        );
    }
    assert!(
        gateway.exported > 0,
        "the gateway exported spans before the collector went: {gateway}"
    );
    // What each service counted as exported did reach the collector.
    let collector = TestCollector::start(base, &data, &work.join("collector-2.log")).await;
    assert_the_collector_holds_what_was_exported(&demo, &collector.ui).await;
    eprintln!(
        "a collector down past the retries, queues of 16: the demo ended with {status}, saying\n{}",
        closing_lines(&stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_during_the_load_is_named_and_no_flush_is_claimed() {
    let _one = ONE_AT_A_TIME.lock().await;
    build_the_shop();
    let base = free_ports(PORTS);
    let work = work_dir("export-killed", base);
    let mut demo = Demo::start(base, &work, &["--duration", "6"], &[]);
    demo.wait_for_stdout("Load:", STARTUP).await;
    let ui = demo.collector_ui();
    wait_for_the_loads_first_traces(&ui).await;

    let pricing = base + 3;
    let holder = demo::port_owner::holder(pricing)
        .unwrap_or_else(|| panic!("the pricing service holds port {pricing}{}", demo.output()));
    let pid = Pid::from_raw(i32::try_from(holder.pid).expect("a pid"));
    kill(pid, Signal::SIGKILL).expect("SIGKILL to the pricing service");

    let status = demo.wait_for_exit(STOP).await;
    assert!(
        !status.success(),
        "a service was killed: the demo should fail, it ended with {status}{}",
        demo.output()
    );
    let stdout = demo.stdout();
    assert!(
        !stdout.contains("their spans flushed"),
        "no flush should be claimed{}",
        demo.output()
    );
    let line = closing_line_of(&stdout, "pricing")
        .unwrap_or_else(|| panic!("the closing lines should name pricing{}", demo.output()));
    assert!(
        line.contains("did not confirm its flush") && line.contains("had already ended"),
        "the pricing service should be named as killed, unconfirmed: {line:?}{}",
        demo.output()
    );
    let stderr = demo.stderr();
    assert!(
        stderr.contains("were not all flushed") && stderr.contains("pricing"),
        "the demo's error should name pricing{}",
        demo.output()
    );
    eprintln!(
        "a service killed with SIGKILL: the demo ended with {status}, saying\n{}",
        closing_lines(&stdout)
    );
}
