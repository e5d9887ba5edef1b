//! The grader of lab 07. `just lab 7` runs it and explains each result.
//!
//! Each check starts the checkout and the three services it asks, each on
//! its own port with its own tracer, places one order over real HTTP, and
//! reads the trace: which spans overlap, and what the critical path is.
//! Everything is judged from span timestamps, not from a stopwatch.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use collector::critical_path::{Section, critical_path};
use collector::jaeger::{self, Trace};
use grader_kit::services::{Service, Spans, overlap, to_collector};
use lab07::checkout::{self, Peers, Receipt};
use lab07::lookups;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Value, json};
use shop::Peer;

grader_kit::checks![
    lookups_run_concurrently,
    critical_path_holds_one_lookup,
    checkout_takes_about_the_slowest_lookup,
    a_failing_lookup_gives_the_right_error,
    a_failing_lookup_fails_fast,
    every_lookup_is_made_once,
];

const LOOKUPS: [&str; 3] = ["stock", "prices", "loyalty"];

/// One order through the four services; the answer and every span.
fn place_order(loyalty_failing: bool) -> (u16, Value, Spans) {
    place_order_with(
        lookups::stock_app(),
        lookups::prices_app(),
        lookups::loyalty_app(loyalty_failing),
    )
}

/// One order through the checkout and these three lookup services.
fn place_order_with(stock: Router, prices: Router, loyalty: Router) -> (u16, Value, Spans) {
    let stock = Service::spawn("stock", stock);
    let prices = Service::spawn("prices", prices);
    let loyalty = Service::spawn("loyalty", loyalty);
    let peers = Peers {
        stock: Peer::new("stock", stock.url()),
        prices: Peer::new("prices", prices.url()),
        loyalty: Peer::new("loyalty", loyalty.url()),
    };
    let checkout = Service::spawn("checkout", checkout::app(peers));
    let url = format!("{}/checkout", checkout.url());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = runtime.block_on(async {
        let order = json!({"talk_id": 8, "quantity": 2, "customer": "ada"});
        let response = reqwest::Client::new()
            .post(url)
            .json(&order)
            .send()
            .await
            .expect("checkout answers");
        let status = response.status().as_u16();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    });
    (
        status,
        body,
        Spans::stop_all([checkout, stock, prices, loyalty]),
    )
}

/// A successful order's spans, as one trace in Jaeger's shape.
fn order_trace() -> (Spans, Trace) {
    let (status, body, spans) = place_order(false);
    assert_eq!(status, 200, "the order succeeds: {body}");
    let receipt: Receipt = serde_json::from_value(body).expect("a receipt");
    assert_eq!(
        receipt.total_cents,
        2 * 12_000 * 90 / 100,
        "two seats at 120.00, less 10 %"
    );
    let trace = jaeger::trace(&to_collector(&spans));
    (spans, trace)
}

/// The checkout's three calls, in start order.
fn calls(spans: &Spans) -> Vec<&SpanData> {
    let mut calls: Vec<&SpanData> = spans
        .of("checkout")
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    calls.sort_by_key(|s| s.start_time);
    assert_eq!(calls.len(), 3, "the checkout makes three calls");
    calls
}

/// The trace as the terminal view draws it, indented (so that reports keep
/// its columns) and without colours (reports may not be terminals).
fn waterfall(trace: &Trace, path: &[Section]) -> String {
    let picture = collector::terminal::waterfall(trace, path, 40);
    let mut plain = String::new();
    let mut chars = picture.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            plain.push(c);
        }
    }
    plain.lines().map(|line| format!("  {line}\n")).collect()
}

/// Shows the trace with its critical path if the check fails. Several
/// checks look at the same order; the CLI shows its trace once.
fn show_trace(trace: &Trace, path: &[Section]) {
    grader_kit::checks::evidence(
        "The trace, `█` on the critical path",
        waterfall(trace, path),
    );
}

fn lookups_run_concurrently() {
    let (spans, trace) = order_trace();
    show_trace(&trace, &critical_path(&trace));
    let calls = calls(&spans);
    for (i, a) in calls.iter().enumerate() {
        for b in &calls[i + 1..] {
            assert!(
                overlap(a, b),
                "`{}` and `{}` should run at the same time, but one waited for the other: \
                 the lookups are still made one after another. Start all three at once with \
                 `tokio::try_join!` (README step 2).",
                a.name,
                b.name,
            );
        }
    }
}

fn critical_path_holds_one_lookup() {
    let (spans, trace) = order_trace();
    let path = critical_path(&trace);
    show_trace(&trace, &path);
    let calls = calls(&spans);
    let on_path: Vec<&str> = calls
        .iter()
        .filter(|c| {
            path.iter()
                .any(|s| s.span_id == c.span_context.span_id().to_string())
        })
        .map(|c| c.name.as_ref())
        .collect();
    assert_eq!(
        on_path,
        ["GET loyalty"],
        "With the lookups running together, only the slowest (loyalty, 45 ms) is on the \
         critical path; the others finish while it runs. On the path now: {on_path:?}."
    );
}

fn checkout_takes_about_the_slowest_lookup() {
    let (spans, trace) = order_trace();
    show_trace(&trace, &critical_path(&trace));
    let calls = calls(&spans);
    let micros = |s: &SpanData| {
        s.end_time
            .duration_since(s.start_time)
            .unwrap_or_default()
            .as_micros() as u64
    };
    let durations: Vec<u64> = calls.iter().map(|c| micros(c)).collect();
    let slowest = *durations.iter().max().unwrap();
    let others: u64 = durations.iter().sum::<u64>() - slowest;
    let root = spans
        .of("checkout")
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("the checkout's server span");
    let checkout = micros(root);
    assert!(
        checkout < slowest + others / 2,
        "The checkout took {:.1} ms; its slowest lookup {:.1} ms, all three together {:.1} \
         ms. Run concurrently, a checkout takes about as long as its slowest lookup (README \
         step 2).",
        checkout as f64 / 1e3,
        slowest as f64 / 1e3,
        (slowest + others) as f64 / 1e3,
    );
}

fn a_failing_lookup_gives_the_right_error() {
    let (status, body, _) = place_order(true);
    assert_eq!(
        (status, body["peer"].as_str()),
        (502, Some("loyalty")),
        "When the loyalty service fails, the checkout answers 502 naming it, as before: \
         keep the `?` on the joined result so that the first error is returned. It answered \
         {status}: {body}"
    );
}

fn a_failing_lookup_fails_fast() {
    // The stock service refuses at once; loyalty never answers (the
    // checkout's client gives up on it after its timeout). Both are the
    // grader's own, so the failing call is not the slowest one.
    let refusing_stock = Router::new().route(
        "/stock/{talk_id}",
        get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "stock is down") }),
    );
    let silent_loyalty =
        Router::new().route("/loyalty/{customer}", get(std::future::pending::<String>));
    let (status, body, spans) =
        place_order_with(refusing_stock, lookups::prices_app(), silent_loyalty);
    assert_eq!(
        (status, body["peer"].as_str()),
        (502, Some("stock")),
        "When the stock service fails, the checkout answers 502 naming it: keep the `?` \
         on the joined result. It answered {status}: {body}"
    );
    let root = spans
        .of("checkout")
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("the checkout's server span");
    let took_ms = root
        .end_time
        .duration_since(root.start_time)
        .unwrap_or_default()
        .as_millis();
    let gives_up = shop::peer::DEFAULT_TIMEOUT.as_millis();
    assert!(
        took_ms < gives_up,
        "The stock lookup failed at once, yet the checkout answered only after {took_ms} \
         ms, when it gave up waiting for loyalty (a lookup that never answers, {gives_up} \
         ms): nobody reads that answer. Join the lookups so that the first error returns \
         at once and the others are dropped: `tokio::try_join!`, not `tokio::join!` \
         (README step 2)."
    );
}

fn every_lookup_is_made_once() {
    let (spans, _) = order_trace();
    for service in LOOKUPS {
        let served = spans
            .of(service)
            .iter()
            .filter(|s| s.span_kind == SpanKind::Server)
            .count();
        assert_eq!(
            served, 1,
            "{service} should be asked once per order, not {served} times."
        );
    }
}
