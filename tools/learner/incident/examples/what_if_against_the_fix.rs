//! The what-if checked against reality, for maintainers:
//! `cargo run -p incident --example what_if_against_the_fix`.
//!
//! For each problem whose fix takes time off named operations, the shop
//! runs with that problem alone planted, under the drill's load; `just
//! crisp --what-if`'s projection (trace-analysis's `WhatIf`) of its orders'
//! traces, with those operations' critical-path time taken off, is set
//! beside what the shop with the problem fixed measures, under the same
//! load. Both from the traces' own durations (the gateway's `POST
//! /orders`), so that the projection and the measure read one clock.
//!
//! It prints a table, and asserts nothing: it is a measurement, whose
//! last figures the incident's README gives ("The what-if against the
//! fix"). A projection is first order (the
//! rest of the critical path held still) and the load is a closed loop
//! (16 customers): a fix that frees time also lets more orders in, which
//! the projection cannot know.

use std::path::PathBuf;
use std::time::Duration;

use collector_client::TraceSearch;
use incident::scenario::{Ports, Scenario};
use shop::Problem;
use trace_analysis::aggregate::{Aggregator, Endpoint};
use trace_analysis::what_if::{OperationChange, WhatIf};

const PORTS: Ports = Ports {
    base: 19180,
    collector_ui: 19185,
    collector_otlp: 19186,
};
const CUSTOMERS: usize = 16;
const LOAD: Duration = Duration::from_secs(20);

/// What a learner would project for each problem's fix: the operations
/// whose critical-path time the fix takes off, and by how much.
fn projection(problem: Problem) -> &'static [&'static str] {
    match problem {
        // Concurrent look-ups: the catalog's and the inventory's calls no
        // longer hold the path before the quote.
        Problem::SerialFanOut => &["gateway GET catalog -100%", "gateway GET inventory -100%"],
        Problem::CouponIndexPerQuote => &["pricing index_coupons -100%"],
        Problem::NPlusOne => &[
            "catalog SELECT speakers -100%",
            "catalog SELECT prices -100%",
        ],
        Problem::RetryStorm => &["pricing compact -100%"],
        Problem::FraudModelPerCharge => &["payments charge -75%"],
        Problem::MissingIndex => &["inventory SELECT audit_log -100%"],
        Problem::LockAcrossIo => &["inventory reserve -50%"],
        _ => &[],
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let fixed = run_and_project(&[], &[]).await?.measured;
    println!(
        "fixed shop: p50 {:.1} ms, p99 {:.1} ms ({} traces)",
        fixed.p50_us / 1e3,
        fixed.p99_us / 1e3,
        fixed.traces
    );
    println!(
        "{:<13} {:>9} {:>9} {:>9} {:>9}  what-if",
        "problem", "p50 proj", "p50 meas", "p99 proj", "p99 meas"
    );
    for problem in Problem::ALL {
        let changes = projection(problem);
        if changes.is_empty() {
            continue;
        }
        let changes: Vec<OperationChange> = changes
            .iter()
            .map(|change| change.parse().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?;
        let what_if = run_and_project(&[problem], &changes).await?;
        let planted = &what_if.measured;
        let change = |from: f64, to: f64| (to - from) / from * 100.0;
        println!(
            "{:<13} {:>8.1}% {:>8.1}% {:>8.1}% {:>8.1}%  {}",
            problem.slug(),
            change(planted.p50_us, what_if.projected.p50_us),
            change(planted.p50_us, fixed.p50_us),
            change(planted.p99_us, what_if.projected.p99_us),
            change(planted.p99_us, fixed.p99_us),
            projection(problem).join(", ")
        );
    }
    Ok(())
}

/// The shop with `planted` planted under the drill's load: its orders'
/// latencies, and their projection with `changes`.
async fn run_and_project(
    planted: &[Problem],
    changes: &[OperationChange],
) -> anyhow::Result<WhatIf> {
    let logs = work_dir().join("logs");
    let scenario = Scenario::start(planted, PORTS, &bin_dir(), &logs).await?;
    let since = collector_client::now_us();
    let _report = scenario.load(CUSTOMERS, LOAD, std::future::pending()).await;
    let _ = scenario.settle(Duration::from_secs(60)).await;
    let traces = scenario
        .collector_client()
        .traces(&TraceSearch::orders_since(since))
        .await?;
    for problem in scenario.stop() {
        eprintln!("at the stop: {problem}");
    }
    let mut aggregator = Aggregator::new(Endpoint {
        service: "gateway".into(),
        operation: "POST /orders".into(),
    });
    for trace in &traces {
        aggregator.add_jaeger(trace);
    }
    Ok(WhatIf::project(&aggregator, changes))
}

fn work_dir() -> PathBuf {
    demo::workspace_root().join("target/incident/what-if")
}

/// The services' programs: beside this example's folder (`examples/`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the example's own path");
    exe.ancestors()
        .nth(2)
        .expect("the target folder, above examples/")
        .to_path_buf()
}
