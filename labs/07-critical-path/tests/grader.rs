//! The grader of lab 07. `just lab 7` runs it and explains each result.
//!
//! Each check starts the checkout and three lookup services, each on its
//! own port with its own tracer, places several orders over real HTTP, and
//! reads each order's trace: which calls it made, whether they overlap,
//! and what its critical path is. Everything is judged from span
//! timestamps, not from a stopwatch.
//!
//! The lookup services are the grader's, shaped like the given ones: for
//! each order they answer with its own figures after its own delays, so
//! that each order has its own slowest lookup (found from the delays the
//! grader chose, not from the trace). Orders, figures, delays, which
//! lookup fails and the names the checkout's peers go by are drawn fresh
//! on each run (`grader_kit::scenario`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use grader_kit::scenario::{self, Rng, distinct, word};
use grader_kit::services::{Service, Spans, to_collector};
use lab07::checkout::{self, Peers, Receipt};
use lab07::lookups::{Loyalty, Price, Stock};
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Value, json};
use shop::{ApiError, ApiPath, Peer};
use trace_analysis::critical_path::{Section, critical_path};
use trace_analysis::jaeger::{self, Trace};

grader_kit::checks![
    lookups_run_concurrently,
    critical_path_holds_one_lookup,
    checkout_takes_about_the_slowest_lookup,
    a_failing_lookup_gives_the_right_error,
    a_failing_lookup_fails_fast,
    every_lookup_is_made_once,
];

/// The lookup services, in the order the starter asks them.
const LOOKUPS: [&str; 3] = ["stock", "prices", "loyalty"];
const STOCK: usize = 0;
const PRICES: usize = 1;
const LOYALTY: usize = 2;

/// How a lookup service answers one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// After its delay, the figures.
    Figures,
    /// After its delay, this 5xx status.
    Fails(u16),
    /// Never: the checkout's client gives up on it after its timeout.
    Never,
}

/// One order, and how each lookup service answers it.
#[derive(Clone, Debug)]
struct Case {
    talk_id: u32,
    quantity: u32,
    customer: String,
    available: u32,
    price_cents: u64,
    discount_percent: u64,
    /// Per lookup, in the order of `LOOKUPS`.
    delay_ms: [u64; 3],
    answer: [Answer; 3],
}

impl Case {
    /// The receipt's total, as the checkout computes it from the figures.
    fn total_cents(&self) -> u64 {
        let full = self.price_cents * u64::from(self.quantity);
        full - full * self.discount_percent / 100
    }

    /// The lookup that takes longest.
    fn slowest(&self) -> usize {
        (0..3)
            .max_by_key(|&i| self.delay_ms[i])
            .expect("three lookups")
    }

    fn delays(&self) -> String {
        format!(
            "stock {} ms, prices {} ms, loyalty {} ms",
            self.delay_ms[STOCK], self.delay_ms[PRICES], self.delay_ms[LOYALTY]
        )
    }
}

/// `count` orders with distinct talks and customers, every lookup
/// answering. The slowest lookup goes round the three from one order to
/// the next, at least 20 ms slower than the others, which take at least
/// 20 ms each.
fn answering_orders(rng: &mut Rng, count: usize) -> Vec<Case> {
    let talks = distinct(rng, count, |r| r.u32(1..100_000));
    let customers = distinct(rng, count, |r| {
        let len = r.usize(5..=10);
        word(r, len)
    });
    let first_slowest = rng.usize(..3);
    talks
        .into_iter()
        .zip(customers)
        .enumerate()
        .map(|(i, (talk_id, customer))| {
            let slowest = (first_slowest + i) % 3;
            let top = rng.u64(50..=80);
            let mut delay_ms = [0; 3];
            for (lookup, delay) in delay_ms.iter_mut().enumerate() {
                *delay = if lookup == slowest {
                    top
                } else {
                    rng.u64(20..=top - 20)
                };
            }
            let quantity = rng.u32(1..=6);
            Case {
                talk_id,
                quantity,
                customer,
                // Always more seats than asked for: the seat check is the
                // shop's given logic (equivalent-mutants.toml).
                available: quantity + rng.u32(1..200),
                price_cents: rng.u64(100..=50_000),
                discount_percent: rng.u64(0..=40),
                delay_ms,
                answer: [Answer::Figures; 3],
            }
        })
        .collect()
}

/// A lookup's answer to one order: after its delay, its figures or its
/// failure; or never.
async fn respond<T>(case: Case, lookup: usize, figures: T) -> Result<Json<T>, ApiError> {
    if case.answer[lookup] == Answer::Never {
        return std::future::pending().await;
    }
    tokio::time::sleep(Duration::from_millis(case.delay_ms[lookup])).await;
    match case.answer[lookup] {
        Answer::Fails(status) => Err(ApiError::new(
            StatusCode::from_u16(status).expect("a status"),
            format!("the {} database is down", LOOKUPS[lookup]),
        )),
        _ => Ok(Json(figures)),
    }
}

/// Lets a lookup that never answers reach its client's time limit before
/// the services stop: a call left running after the checkout answered
/// ends only when its client gives up, at least that long after it began,
/// and stopping the services sooner would cut it short and hide it. (The
/// condition waited for is that moment itself; a call cancelled with the
/// answer ended long before.)
fn let_every_call_reach_its_time_limit(last_sent: Instant) {
    let limit = last_sent + shop::peer::DEFAULT_TIMEOUT;
    while let Some(left) = limit.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
}

fn unknown<T>(what: String) -> Result<Json<T>, ApiError> {
    Err(ApiError::not_found(what))
}

/// The three lookup services, shaped like the given ones (the same routes
/// and answers), answering each order with its own figures and delays.
fn lookup_apps(cases: &Arc<Vec<Case>>) -> [Router; 3] {
    let known = cases.clone();
    let stock = get(move |ApiPath(talk_id): ApiPath<u32>| {
        let case = known.iter().find(|c| c.talk_id == talk_id).cloned();
        async move {
            match case {
                Some(case) => {
                    let available = case.available;
                    respond(case, STOCK, Stock { talk_id, available }).await
                }
                None => unknown(format!("no talk {talk_id}")),
            }
        }
    });
    let known = cases.clone();
    let prices = get(move |ApiPath(talk_id): ApiPath<u32>| {
        let case = known.iter().find(|c| c.talk_id == talk_id).cloned();
        async move {
            match case {
                Some(case) => {
                    let price_cents = case.price_cents;
                    respond(
                        case,
                        PRICES,
                        Price {
                            talk_id,
                            price_cents,
                        },
                    )
                    .await
                }
                None => unknown(format!("no talk {talk_id}")),
            }
        }
    });
    let known = cases.clone();
    let loyalty = get(move |ApiPath(customer): ApiPath<String>| {
        let case = known.iter().find(|c| c.customer == customer).cloned();
        async move {
            match case {
                Some(case) => {
                    let discount_percent = case.discount_percent;
                    let figures = Loyalty {
                        customer,
                        discount_percent,
                    };
                    respond(case, LOYALTY, figures).await
                }
                None => unknown(format!("no customer {customer}")),
            }
        }
    });
    [
        shop::server::with_defaults("stock", Router::new().route("/stock/{talk_id}", stock)),
        shop::server::with_defaults("prices", Router::new().route("/price/{talk_id}", prices)),
        shop::server::with_defaults(
            "loyalty",
            Router::new().route("/loyalty/{customer}", loyalty),
        ),
    ]
}

/// A scenario's orders, placed one after another: what each got, and every
/// span of the four services.
struct Placed {
    cases: Vec<Case>,
    /// The name each lookup's peer goes by, in the order of `LOOKUPS`.
    peers: Vec<String>,
    answers: Vec<(u16, Value)>,
    spans: Spans,
}

fn place_orders(rng: &mut Rng, cases: Vec<Case>) -> Placed {
    let peers = distinct(rng, 3, |r| {
        let len = r.usize(5..=9);
        word(r, len)
    });
    let shared = Arc::new(cases.clone());
    let [stock_app, prices_app, loyalty_app] = lookup_apps(&shared);
    let stock = Service::spawn("stock", stock_app);
    let prices = Service::spawn("prices", prices_app);
    let loyalty = Service::spawn("loyalty", loyalty_app);
    let checkout = Service::spawn(
        "checkout",
        checkout::app(Peers {
            stock: Peer::new(peers[STOCK].clone(), stock.url()),
            prices: Peer::new(peers[PRICES].clone(), prices.url()),
            loyalty: Peer::new(peers[LOYALTY].clone(), loyalty.url()),
        }),
    );
    let url = format!("{}/checkout", checkout.url());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the grader's client");
    let mut never_answered = None;
    let answers = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut answers = Vec::new();
        for case in &cases {
            if case.answer.contains(&Answer::Never) {
                never_answered = Some(Instant::now());
            }
            let order = json!({
                "talk_id": case.talk_id,
                "quantity": case.quantity,
                "customer": case.customer,
            });
            let response = client
                .post(&url)
                .json(&order)
                .send()
                .await
                .expect("the checkout answers");
            let status = response.status().as_u16();
            answers.push((
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            ));
        }
        answers
    });
    Placed {
        cases,
        peers,
        answers,
        spans: {
            if let Some(last_sent) = never_answered {
                let_every_call_reach_its_time_limit(last_sent);
            }
            Spans::stop_all([checkout, stock, prices, loyalty])
        },
    }
}

/// Every order got its receipt, with its own figures.
fn expect_receipts(placed: &Placed) {
    for (i, ((status, body), case)) in placed.answers.iter().zip(&placed.cases).enumerate() {
        let receipt = serde_json::from_value::<Receipt>(body.clone()).ok();
        let wanted = Receipt {
            talk_id: case.talk_id,
            quantity: case.quantity,
            total_cents: case.total_cents(),
        };
        assert!(
            *status == 200 && receipt.as_ref() == Some(&wanted),
            "Order {} ({} seats of talk {} for {}) should get the receipt {wanted:?}, from \
             the figures its lookups answered; the checkout answered {status}: {body}. Each \
             lookup's answer goes where it did before (README step 2).",
            i + 1,
            case.quantity,
            case.talk_id,
            case.customer
        );
    }
}

/// One order's spans in the checkout: its server span, and the calls in
/// its trace with the lookup each reached.
struct OrderSpans<'a> {
    server: &'a SpanData,
    calls: Vec<(Option<usize>, &'a SpanData)>,
}

/// The orders' spans, in the order they were placed (one after another).
fn order_spans(placed: &Placed) -> Vec<OrderSpans<'_>> {
    let checkout = placed.spans.of("checkout");
    let mut servers: Vec<&SpanData> = checkout
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    servers.sort_by_key(|s| s.start_time);
    assert!(
        servers.len() == placed.cases.len(),
        "the checkout served each of the {} orders once ({} server spans)",
        placed.cases.len(),
        servers.len()
    );
    servers
        .into_iter()
        .map(|server| {
            let trace_id = server.span_context.trace_id();
            let calls = checkout
                .iter()
                .filter(|s| s.span_kind == SpanKind::Client)
                .filter(|s| s.span_context.trace_id() == trace_id)
                .map(|call| (reached(&placed.spans, call), call))
                .collect();
            OrderSpans { server, calls }
        })
        .collect()
}

/// Which lookup a call reached: the service whose server span it is the
/// parent of.
fn reached(spans: &Spans, call: &SpanData) -> Option<usize> {
    LOOKUPS.iter().position(|service| {
        spans.of(service).iter().any(|s| {
            s.span_kind == SpanKind::Server && s.parent_span_id == call.span_context.span_id()
        })
    })
}

/// Whether `span` lies under `ancestor`, through the parents in `all`.
fn descends_from(all: &[SpanData], span: &SpanData, ancestor: &SpanData) -> bool {
    let mut parent = span.parent_span_id;
    for _ in 0..64 {
        if parent == SpanId::INVALID {
            return false;
        }
        if parent == ancestor.span_context.span_id() {
            return true;
        }
        match all.iter().find(|s| s.span_context.span_id() == parent) {
            Some(next) => parent = next.parent_span_id,
            None => return false,
        }
    }
    false
}

fn micros(span: &SpanData) -> u64 {
    span.end_time
        .duration_since(span.start_time)
        .unwrap_or_default()
        .as_micros() as u64
}

fn ms(micros: u64) -> String {
    format!("{:.1} ms", micros as f64 / 1e3)
}

/// The order's three calls, one to each lookup, in the order of `LOOKUPS`,
/// each made inside the request's span, or a failure saying what there was.
fn expect_calls<'a>(placed: &Placed, i: usize, order: &OrderSpans<'a>) -> [&'a SpanData; 3] {
    let case = &placed.cases[i];
    let in_no_order = placed
        .spans
        .of("checkout")
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .filter(|s| {
            !placed.spans.of("checkout").iter().any(|server| {
                server.span_kind == SpanKind::Server
                    && server.span_context.trace_id() == s.span_context.trace_id()
            })
        })
        .count();
    let found: Vec<String> = order
        .calls
        .iter()
        .map(|(lookup, _)| {
            lookup
                .map_or("a call that reached no lookup", |l| LOOKUPS[l])
                .to_owned()
        })
        .collect();
    let mut calls = [None; 3];
    for (lookup, call) in &order.calls {
        if let Some(lookup) = *lookup {
            assert!(
                calls[lookup].replace(*call).is_none(),
                "Order {} asked {} more than once ({found:?}): each lookup is made once \
                 per order.",
                i + 1,
                LOOKUPS[lookup]
            );
        }
    }
    assert!(
        calls.iter().all(Option::is_some) && order.calls.len() == 3,
        "Order {} (talk {}, customer {}) should show three calls in its trace, one to each \
         lookup; its trace has {found:?}, and {in_no_order} calls of the checkout are in no \
         order's trace at all. A call made outside the request's span (work that left it, \
         such as a task started without it) begins a trace of its own, and the order's \
         critical path no longer shows what it waited on.",
        i + 1,
        case.talk_id,
        case.customer
    );
    let checkout = placed.spans.of("checkout");
    let calls = calls.map(|c| c.expect("checked above"));
    for (lookup, call) in calls.iter().enumerate() {
        assert!(
            descends_from(checkout, call, order.server),
            "In order {}, the call to {} is in the order's trace but not under the \
             checkout's request span: each lookup is made inside the request it serves.",
            i + 1,
            LOOKUPS[lookup]
        );
    }
    calls
}

/// The trace of one order, in Jaeger's shape.
fn order_trace(placed: &Placed, server: &SpanData) -> Trace {
    let id = server.span_context.trace_id().to_string();
    let spans: Vec<trace_analysis::model::Span> = to_collector(&placed.spans)
        .into_iter()
        .filter(|s| s.trace_id == id)
        .collect();
    jaeger::trace(&spans)
}

/// The trace as the terminal view draws it, indented (so that reports keep
/// its columns) and without colours (reports may not be terminals).
fn waterfall(trace: &Trace, path: &[Section]) -> String {
    let picture = trace_analysis::terminal::waterfall(trace, path, 40);
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

/// Shows an order's trace with its critical path if the check fails: the
/// order being judged when it failed.
fn show_trace(i: usize, trace: &Trace, path: &[Section]) {
    grader_kit::checks::evidence(
        format!("Order {}'s trace, `█` on the critical path", i + 1),
        waterfall(trace, path),
    );
}

fn lookups_run_concurrently() {
    let mut rng = scenario::rng();
    let cases = answering_orders(&mut rng, 3);
    let placed = place_orders(&mut rng, cases);
    expect_receipts(&placed);
    for (i, order) in order_spans(&placed).iter().enumerate() {
        let trace = order_trace(&placed, order.server);
        show_trace(i, &trace, &critical_path(&trace));
        let calls = expect_calls(&placed, i, order);
        for a in 0..3 {
            for b in a + 1..3 {
                let (first, second) = (calls[a], calls[b]);
                assert!(
                    first.start_time < second.end_time && second.start_time < first.end_time,
                    "In order {}, the calls to {} ({}) and to {} ({}) did not run at the \
                     same time: one began only after the other had ended. None of the \
                     lookups needs another's answer, so all three run at once (README step \
                     2).",
                    i + 1,
                    LOOKUPS[a],
                    ms(micros(first)),
                    LOOKUPS[b],
                    ms(micros(second)),
                );
            }
        }
        for (lookup, call) in calls.iter().enumerate() {
            assert!(
                call.start_time >= order.server.start_time
                    && call.end_time <= order.server.end_time,
                "In order {}, the call to {} ran outside the checkout's request: it was \
                 still running after the checkout had answered, or began before the request \
                 arrived. A lookup is part of the request that waits for it.",
                i + 1,
                LOOKUPS[lookup]
            );
        }
    }
}

fn critical_path_holds_one_lookup() {
    let mut rng = scenario::rng();
    let cases = answering_orders(&mut rng, 3);
    let placed = place_orders(&mut rng, cases);
    expect_receipts(&placed);
    for (i, order) in order_spans(&placed).iter().enumerate() {
        let trace = order_trace(&placed, order.server);
        let path = critical_path(&trace);
        show_trace(i, &trace, &path);
        let calls = expect_calls(&placed, i, order);
        let on_path: Vec<&str> = calls
            .iter()
            .enumerate()
            .filter(|(_, call)| {
                let id = call.span_context.span_id().to_string();
                path.iter().any(|s| s.span_id == id)
            })
            .map(|(lookup, _)| LOOKUPS[lookup])
            .collect();
        let case = &placed.cases[i];
        let slowest = LOOKUPS[case.slowest()];
        assert!(
            on_path == [slowest],
            "In order {}, the lookups took {}. With the lookups running together, only the \
             slowest ({slowest}) is on the critical path; the others finish while it runs. \
             On the path: {on_path:?}. (README step 2.)",
            i + 1,
            case.delays()
        );
    }
}

fn checkout_takes_about_the_slowest_lookup() {
    let mut rng = scenario::rng();
    let cases = answering_orders(&mut rng, 3);
    let placed = place_orders(&mut rng, cases);
    expect_receipts(&placed);
    for (i, order) in order_spans(&placed).iter().enumerate() {
        let trace = order_trace(&placed, order.server);
        show_trace(i, &trace, &critical_path(&trace));
        let calls = expect_calls(&placed, i, order);
        let durations: Vec<u64> = calls.iter().map(|c| micros(c)).collect();
        let slowest = *durations.iter().max().expect("three calls");
        let others: u64 = durations.iter().sum::<u64>() - slowest;
        let checkout = micros(order.server);
        assert!(
            checkout < slowest + others / 2,
            "Order {} took {} in the checkout; its slowest lookup {}, all three together \
             {}. Run together, a checkout takes about as long as its slowest lookup \
             (README step 2).",
            i + 1,
            ms(checkout),
            ms(slowest),
            ms(slowest + others),
        );
    }
}

fn a_failing_lookup_gives_the_right_error() {
    let mut rng = scenario::rng();
    // Three orders, each failed by another lookup, at its usual pace.
    let mut cases = answering_orders(&mut rng, 3);
    let mut failing = [STOCK, PRICES, LOYALTY];
    rng.shuffle(&mut failing);
    for (case, &lookup) in cases.iter_mut().zip(&failing) {
        case.answer[lookup] = Answer::Fails(if rng.bool() { 503 } else { 500 });
    }
    let placed = place_orders(&mut rng, cases);
    for (i, ((status, body), &lookup)) in placed.answers.iter().zip(&failing).enumerate() {
        let peer = &placed.peers[lookup];
        assert!(
            *status == 502 && body["peer"].as_str() == Some(peer.as_str()),
            "In order {}, the {} service (which the checkout calls `{peer}`) failed, and \
             the checkout answered {status}: {body}. A failing lookup gives 502 naming the \
             service that failed, as before: the first error is still returned (README \
             step 2).",
            i + 1,
            LOOKUPS[lookup]
        );
    }
}

fn a_failing_lookup_fails_fast() {
    let mut rng = scenario::rng();
    // In each order one lookup fails at once and another never answers
    // (the checkout's client gives up on it after its timeout); the
    // failing one comes first in the order the lookups were made before.
    let mut pairs = [(STOCK, PRICES), (STOCK, LOYALTY), (PRICES, LOYALTY)];
    rng.shuffle(&mut pairs);
    let mut cases = answering_orders(&mut rng, 2);
    for (case, &(fails, never)) in cases.iter_mut().zip(&pairs) {
        case.answer[fails] = Answer::Fails(503);
        case.delay_ms[fails] = rng.u64(0..=5);
        case.answer[never] = Answer::Never;
    }
    let placed = place_orders(&mut rng, cases);
    let gives_up = shop::peer::DEFAULT_TIMEOUT;
    let orders = order_spans(&placed);
    for (i, (((status, body), &(fails, never)), order)) in
        placed.answers.iter().zip(&pairs).zip(&orders).enumerate()
    {
        let peer = &placed.peers[fails];
        assert!(
            *status == 502 && body["peer"].as_str() == Some(peer.as_str()),
            "In order {}, the {} service (which the checkout calls `{peer}`) failed at once, \
             and the checkout answered {status}: {body}. A failing lookup gives 502 naming \
             the service that failed: the first error is returned.",
            i + 1,
            LOOKUPS[fails]
        );
        let took = order
            .server
            .end_time
            .duration_since(order.server.start_time)
            .unwrap_or_default();
        assert!(
            took < gives_up,
            "In order {}, the {} lookup failed at once, yet the checkout answered only after \
             {} ms, when it gave up waiting for {} (a lookup that never answers, given up \
             after {} ms): nobody reads that answer. The first error ends the checkout at \
             once, and the lookups still running are dropped (README step 2).",
            i + 1,
            LOOKUPS[fails],
            took.as_millis(),
            LOOKUPS[never],
            gives_up.as_millis()
        );
        // A call dropped with the checkout's answer ends soon after it
        // (a cancelled task ends when the runtime next gets to it); a call
        // left running ends only when its client gives up on it.
        for (lookup, call) in &order.calls {
            let ran = call
                .end_time
                .duration_since(call.start_time)
                .unwrap_or_default();
            assert!(
                call.end_time <= order.server.end_time || ran < gives_up,
                "In order {}, the checkout answered when {} failed, but its call to {} went \
                 on after the answer, for {} ms, until its client gave up: a lookup nobody \
                 waits for any more is dropped, not left running.",
                i + 1,
                LOOKUPS[fails],
                lookup.map_or("a lookup", |l| LOOKUPS[l]),
                ran.as_millis()
            );
        }
    }
}

fn every_lookup_is_made_once() {
    let mut rng = scenario::rng();
    let count = rng.usize(2..=3);
    let mut cases = answering_orders(&mut rng, count + 1);
    // One more order whose lookup fails last, after the others answered: a
    // failure is no reason to ask again ("errors handled as before").
    let failing = rng.usize(..3);
    let last = cases.last_mut().expect("an order");
    last.answer[failing] = Answer::Fails(if rng.bool() { 500 } else { 503 });
    last.delay_ms[failing] = last.delay_ms.iter().max().copied().unwrap_or(0) + 20;
    // And the first order again, for the same talk: a figure asked before is
    // asked again, since the answer may have changed since.
    let again = cases[0].clone();
    cases.insert(count, again);
    let count = count + 1;
    let placed = place_orders(&mut rng, cases);
    for (i, (status, body)) in placed.answers.iter().enumerate().take(count) {
        let case = &placed.cases[i];
        let wanted = Receipt {
            talk_id: case.talk_id,
            quantity: case.quantity,
            total_cents: case.total_cents(),
        };
        let receipt = serde_json::from_value::<Receipt>(body.clone()).ok();
        assert!(
            *status == 200 && receipt.as_ref() == Some(&wanted),
            "Order {} should get the receipt {wanted:?}; the checkout answered {status}: {body}.",
            i + 1
        );
    }
    let (status, body) = &placed.answers[count];
    assert!(
        *status == 502,
        "Order {}, whose {} lookup failed, was answered {status}: {body}. A failing lookup \
         gives 502.",
        count + 1,
        LOOKUPS[failing]
    );
    let orders = order_spans(&placed);
    for service in LOOKUPS {
        let served: Vec<&SpanData> = placed
            .spans
            .of(service)
            .iter()
            .filter(|s| s.span_kind == SpanKind::Server)
            .collect();
        assert!(
            served.len() == orders.len(),
            "{service} was asked {} times for {} orders: each lookup is made once per order.",
            served.len(),
            orders.len()
        );
        for (i, order) in orders.iter().enumerate() {
            let trace_id = order.server.span_context.trace_id();
            let asked = served
                .iter()
                .filter(|s| s.span_context.trace_id() == trace_id)
                .count();
            assert!(
                asked == 1,
                "{service} was asked {asked} times within order {}'s trace: each lookup is \
                 made once per order, inside the order's request.",
                i + 1
            );
        }
    }
}
