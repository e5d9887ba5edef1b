//! The shop's metrics in a real Prometheus (Debian's), as `just demo
//! --prometheus` runs it: the p99 of `POST /orders` from PromQL, one of its
//! exemplars followed to a trace the collector holds, and the metrics'
//! figures beside the traces' for every route.
//!
//! Every process is real and on loopback: the five services, the collector
//! and Prometheus, on ports of this test's own. Nothing waits for a length
//! of time: each step polls for the condition it needs (a scrape that has
//! the last request, a trace that has arrived) with a deadline.

mod support;

use std::path::Path;
use std::time::Duration;

use collector_client::Client;
use demo::prometheus::{self, Prometheus};
use demo::{Collector, SERVICES, Shop, red};
use trace_analysis::jaeger::Trace;

use crate::support::{eventually, free_ports};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_p99_of_orders_leads_to_a_trace_and_agrees_with_the_traces() {
    let Some(program) = prometheus::find() else {
        // CI installs it (.ci/run); elsewhere, say why nothing was checked.
        assert!(
            std::env::var_os("CI").is_none(),
            "{}",
            prometheus::NOT_INSTALLED
        );
        eprintln!("skipped: {}", prometheus::NOT_INSTALLED);
        return;
    };
    let root = demo::workspace_root();
    demo::build_binaries(&root, false).expect("the services build");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_demo"))
        .parent()
        .expect("the binaries' folder");
    let work = root.join(format!(
        "target/demo-tests/prometheus-{}",
        std::process::id()
    ));
    let logs = work.join("logs");

    // Ports: the shop's five, then the collector's two and Prometheus's.
    let base = free_ports(SERVICES.len() as u16 + 3);
    let (otlp, ui, prometheus_port) = (base + 5, base + 6, base + 7);
    let collector = Collector::start_at(bin_dir, &logs, otlp, ui)
        .await
        .expect("the collector starts");
    let env = [
        ("RUST_LOG", "info".to_owned()),
        ("SEATS_PER_TALK", "1000000".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            collector.otlp_url().to_owned(),
        ),
    ];
    let mut shop = Shop::start(bin_dir, base, &env, &[], &logs).expect("the shop starts");
    shop.wait_healthy(Duration::from_secs(30))
        .await
        .expect("the shop answers");
    let prometheus = Prometheus::start(
        &program,
        &work.join("prometheus"),
        prometheus_port,
        base,
        &logs,
    )
    .await
    .expect("Prometheus starts");

    prometheus
        .wait_for_first_scrape(Duration::from_secs(30))
        .await
        .expect("Prometheus scrapes the shop");

    // Load long enough for several scrapes, a second apart.
    let report = loadgen::run(
        &loadgen::Load {
            target: shop.gateway_url(),
            concurrency: 4,
            duration: Duration::from_secs(4),
            max_requests: None,
            progress: false,
            impatience: None,
            open_loop: None,
        },
        std::future::pending(),
    )
    .await;
    assert!(report.requests > 0, "the load generator got no answer");

    // What the gateway counted, from its own /metrics, once every answered
    // request's span has closed…
    let by_route = red::scrape_until_counted(
        &shop.gateway_url(),
        report.answered(),
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|(_, short)| panic!("the gateway never counted every request: {short}"));
    let orders_counted = by_route["POST /orders"].requests as f64;
    // …and wait until Prometheus has scraped it all.
    let count_query = r#"sum(http_server_request_duration_seconds_count{job="gateway",http_route="/orders",http_request_method="POST"})"#;
    eventually(
        "Prometheus to scrape every POST /orders",
        Duration::from_secs(30),
        async || {
            let answer = prometheus
                .query(count_query)
                .await
                .map_err(|e| e.to_string())?;
            let scraped = answer.first().map_or(0.0, |(_, value)| *value);
            if scraped >= orders_counted {
                Ok(())
            } else {
                Err(format!("{scraped} of {orders_counted} scraped"))
            }
        },
    )
    .await;

    // The p99 of POST /orders, as a dashboard computes it.
    let p99 = prometheus
        .p99(prometheus::ORDERS)
        .await
        .expect("the p99 query");
    assert!(
        p99.is_some_and(|p99| p99 > 0.0),
        "Prometheus's p99 of POST /orders should be a duration, got {p99:?}"
    );

    // Its slowest exemplar: a trace id.
    let slowest = prometheus
        .slowest_exemplar(prometheus::ORDERS, Duration::from_secs(300))
        .await
        .expect("the exemplars query")
        .unwrap_or_else(|| {
            panic!("Prometheus kept no exemplar of POST /orders (is exemplar storage on?)")
        });
    let trace_id = slowest
        .trace_id()
        .expect("an exemplar names its trace")
        .to_owned();

    // The exemplar leads to a trace the collector holds: the request itself.
    // Each service exports its spans in batches of its own, so the trace
    // may arrive in parts; wait for the gateway's span of the request.
    let query = Client::new(collector.ui_url()).expect("the collector's address");
    eventually(
        "the gateway's POST /orders span of the exemplar's trace in the collector",
        Duration::from_secs(30),
        async || {
            let trace: Trace = query
                .trace(&trace_id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "an empty answer".to_owned())?;
            let names: Vec<&str> = trace
                .spans
                .iter()
                .map(|s| s.operation_name.as_str())
                .collect();
            if names.contains(&"POST /orders") {
                Ok(())
            } else {
                Err(format!("the trace {trace_id} so far: {names:?}"))
            }
        },
    )
    .await;

    // Both signals agree on every route once every span has arrived: stop
    // the shop (each service flushes its spans), then compare.
    let problems = shop.stop(Duration::from_secs(10));
    assert!(problems.is_empty(), "{problems:?}");
    let traces = red::from_traces(collector.ui_url(), "gateway", 0)
        .await
        .expect("the collector's RED figures");
    let table = red::table(&by_route, &traces);
    for (operation, figures) in &by_route {
        let from_traces = traces
            .iter()
            .find(|t| &t.operation == operation)
            .unwrap_or_else(|| panic!("no trace of {operation}:\n{table}"));
        assert!(
            red::agree(figures, from_traces),
            "metrics and traces disagree on {operation}:\n{table}"
        );
    }
    assert!(prometheus.stop().is_none());
    assert!(collector.stop().is_none());
    let _ = std::fs::remove_dir_all(&work);
}
