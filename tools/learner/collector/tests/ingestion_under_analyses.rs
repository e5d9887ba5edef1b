//! Ingestion never waits for a query: with 1,000,000 spans stored and six
//! queries running over all of them again and again (the critical paths of
//! the endpoint every trace belongs to, their flame graph, the dependency
//! graph, the RED figures, the newest 1,000 traces, the operations), a 1 KB
//! OTLP export is answered in under 50 ms at the 99th percentile, over
//! real HTTP on loopback.
//!
//! Measured in rounds of 200 exports. Two cores shared by six busy queries
//! and the exports are a machine under load: a round whose p99 is over the
//! bound is measured again (a disturbed machine, not a waiting store,
//! would pass then), and the test fails only when three rounds in a row
//! are over. Every round's figures are printed beside the p99 of the same
//! exports with no query running.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use collector::limits::Limits;
use collector::store::Store;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use trace_analysis::model::{Kind, Span};

#[allow(
    dead_code,
    reason = "each test binary uses a part of the shared helpers"
)]
mod common;

/// Spans stored before the queries start: the store's default bound.
const STORED_SPANS: usize = 1_000_000;
/// Spans per stored trace, about an order of the demo's shop.
const SPANS_PER_TRACE: usize = 40;
/// Exports per round, and how many rounds may be over the bound in a row.
const EXPORTS: usize = 200;
const ROUNDS: usize = 3;
const BOUND: Duration = Duration::from_millis(50);

/// When the stored traces start, in Unix µs: November 2026.
const EPOCH_US: u64 = 1_795_000_000_000_000;

/// The six queries, each over every stored trace.
const QUERIES: [&str; 6] = [
    "/api/critical-paths?service=gateway&operation=POST%20/orders",
    "/api/critical-paths/flame.svg?service=gateway&operation=POST%20/orders",
    "/api/dependencies",
    "/api/red",
    "/api/traces?service=gateway&limit=1000",
    "/api/services/inventory/operations",
];

/// Trace `n`: an order at the gateway with 13 calls, each a client span,
/// the callee's server span and one statement under it.
fn order(n: usize) -> Vec<Span> {
    let trace_id = format!("{n:032x}");
    let start = EPOCH_US + n as u64 * 1_000;
    let span =
        |id: usize, parent: Option<usize>, service: &str, name: &str, kind, offset, length| Span {
            trace_id: trace_id.clone(),
            span_id: format!("{:016x}", n * SPANS_PER_TRACE + id),
            parent_span_id: parent.map(|p| format!("{:016x}", n * SPANS_PER_TRACE + p)),
            service: service.to_owned(),
            name: name.to_owned(),
            kind,
            start_us: start + offset,
            duration_us: length,
            ..Span::default()
        };
    let mut spans = vec![span(
        0,
        None,
        "gateway",
        "POST /orders",
        Kind::Server,
        0,
        800,
    )];
    for call in 0..(SPANS_PER_TRACE - 1) / 3 {
        let (client, server) = (1 + 3 * call, 2 + 3 * call);
        let at = 10 + 60 * call as u64;
        spans.push(span(
            client,
            Some(0),
            "gateway",
            "POST",
            Kind::Client,
            at,
            50,
        ));
        let operation = "POST /reservations";
        spans.push(span(
            server,
            Some(client),
            "inventory",
            operation,
            Kind::Server,
            at + 2,
            46,
        ));
        spans.push(span(
            server + 1,
            Some(server),
            "inventory",
            "INSERT",
            Kind::Client,
            at + 5,
            30,
        ));
    }
    spans
}

/// A store holding [`STORED_SPANS`] spans of orders.
fn full_store() -> Arc<Store> {
    let store = Store::new(Limits::default());
    let traces = STORED_SPANS / SPANS_PER_TRACE;
    for first in (0..traces).step_by(1_000) {
        let batch = (first..traces.min(first + 1_000)).flat_map(order).collect();
        store.insert(batch).expect("stored in memory");
    }
    assert_eq!(store.span_count(), STORED_SPANS, "every span is stored");
    Arc::new(store)
}

/// An export of about 1 KB: four spans of a trace of their own.
fn small_export(n: usize) -> Vec<u8> {
    let trace = u8::try_from(n % 250).expect("under 250");
    let spans = (1..=4)
        .map(|id| common::span(trace, id, (id > 1).then_some(1), 0, 100, 2))
        .map(|mut span| {
            // About 250 bytes a span.
            span.name = format!("export {n}, span {}: {}", span.span_id[0], "x".repeat(220));
            span
        })
        .collect();
    let export: ExportTraceServiceRequest = common::request("small", spans);
    export.encode_to_vec()
}

/// The time each of [`EXPORTS`] exports took, one after the other.
async fn export_times(client: &reqwest::Client, otlp: &str) -> Vec<Duration> {
    let mut times = Vec::with_capacity(EXPORTS);
    for n in 0..EXPORTS {
        let body = small_export(n);
        let started = Instant::now();
        let response = client
            .post(format!("{otlp}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .expect("the collector answers an export");
        assert!(
            response.status().is_success(),
            "an export was refused: {}",
            response.status()
        );
        response.bytes().await.expect("a whole answer");
        times.push(started.elapsed());
    }
    times.sort();
    times
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 99).div_ceil(100) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_export_does_not_wait_for_six_queries_over_a_million_spans() {
    let store = full_store();
    let otlp = common::serve(collector::ingest::router(Arc::clone(&store))).await;
    let ui = common::serve(collector::api::router(Arc::clone(&store))).await;
    let client = reqwest::Client::new();
    let alone = export_times(&client, &otlp).await;

    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let at_work = Arc::new(AtomicUsize::new(0));
    let queries: Vec<_> = QUERIES
        .iter()
        .map(|query| {
            let (url, done, answered) = (format!("{ui}{query}"), done.clone(), answered.clone());
            let (client, at_work) = (client.clone(), at_work.clone());
            tokio::spawn(async move {
                let mut first = true;
                while !done.load(Ordering::Relaxed) {
                    // A 503 past the analysis deadline is an answer too.
                    let answer = client
                        .get(&url)
                        .send()
                        .await
                        .expect("the collector answers");
                    answer.bytes().await.expect("a whole answer");
                    answered.fetch_add(1, Ordering::Relaxed);
                    if std::mem::take(&mut first) {
                        at_work.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    // Each query reads the store again as soon as it is answered: once
    // each has been answered, all six are at work.
    // A query that failed has ended: its panic is the failure, not a wait
    // for ever.
    let all_at_work = Instant::now() + Duration::from_secs(60);
    while at_work.load(Ordering::Relaxed) < QUERIES.len() {
        if let Some(ended) = queries.iter().position(|query| query.is_finished()) {
            panic!("the query {} ended before the test did", QUERIES[ended]);
        }
        assert!(
            Instant::now() < all_at_work,
            "only {} of the {} queries were answered within a minute",
            at_work.load(Ordering::Relaxed),
            QUERIES.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut rounds = Vec::new();
    let verdict = loop {
        let times = export_times(&client, &otlp).await;
        let round = (p99(&times), times[times.len() - 1]);
        rounds.push(round);
        eprintln!(
            "with six queries running: p99 {:?}, slowest {:?} (alone: p99 {:?}); {} queries answered so far",
            round.0,
            round.1,
            p99(&alone),
            answered.load(Ordering::Relaxed)
        );
        if round.0 < BOUND {
            break Ok(());
        }
        if rounds.len() == ROUNDS {
            break Err(rounds.clone());
        }
    };
    done.store(true, Ordering::Relaxed);
    for query in queries {
        query.await.expect("a query loop ends");
    }
    if let Err(rounds) = verdict {
        panic!(
            "a 1 KB export waited for the queries: p99 and slowest of {EXPORTS} exports in each \
             of {ROUNDS} rounds {rounds:?}, over {BOUND:?} (alone: p99 {:?})",
            p99(&alone)
        );
    }
}
