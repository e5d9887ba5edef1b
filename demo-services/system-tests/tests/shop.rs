//! The shop end to end: traces across every hop, each planted problem and
//! its fix seen in the shape of the traces, bad input answered with the
//! documented 4xx, and no span lost when the services shut down.

use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::SpanData;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop::Fixes;
use std::time::{Duration, SystemTime};

use futures_util::future::join_all;
use system_tests::{DatabaseHold, Gate, Options, Shop, Spans, attr, overlap};

fn order(lines: &[(u32, u32)]) -> Value {
    json!({
        "customer": "ada",
        "lines": lines.iter().map(|(talk_id, quantity)| json!({"talk_id": talk_id, "quantity": quantity})).collect::<Vec<_>>(),
        "card_number": "4242424242424242",
    })
}

async fn post(shop: &Shop, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", shop.url("gateway")))
        .json(body)
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The one server span of the gateway's `POST /orders` in a run.
fn order_span(spans: &Spans) -> &SpanData {
    let mut found = spans.named("gateway", "POST /orders");
    let span = found.next().expect("a POST /orders span");
    assert!(found.next().is_none(), "one order, one server span");
    span
}

/// The gateway's client spans, in start order.
fn client_calls(spans: &Spans) -> Vec<&SpanData> {
    let mut calls: Vec<&SpanData> = spans
        .of("gateway")
        .iter()
        .filter(|s| attr(s, "peer.service").is_some())
        .collect();
    calls.sort_by_key(|s| s.start_time);
    calls
}

#[tokio::test]
async fn one_order_is_one_trace_across_every_service() {
    let shop = Shop::start(Options::default());
    let (status, body) = post(&shop, "/orders", &order(&[(1, 2), (8, 1)])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["total_cents"], 2 * 4_500 + 12_000);
    let spans = shop.stop();

    let root = order_span(&spans);
    assert_eq!(
        root.parent_span_id,
        SpanId::INVALID,
        "the gateway starts the trace"
    );
    let trace_id = root.span_context.trace_id();
    for service in ["gateway", "catalog", "inventory", "pricing", "payments"] {
        assert!(
            spans
                .of(service)
                .iter()
                .any(|s| s.span_context.trace_id() == trace_id),
            "{service} has spans in the order's trace"
        );
    }
    // The start of a service with a database (its tables, its seed) is a
    // trace of its own.
    let starts: Vec<TraceId> = [("catalog", "open_catalog"), ("inventory", "open_inventory")]
        .into_iter()
        .map(|(service, start)| {
            spans
                .named(service, start)
                .next()
                .map(|span| span.span_context.trace_id())
                .unwrap_or_else(|| panic!("the {service}'s start in a span"))
        })
        .collect();
    for (service, span) in spans.all() {
        if starts.contains(&span.span_context.trace_id()) {
            continue;
        }
        assert_eq!(
            span.span_context.trace_id(),
            trace_id,
            "{service} {} is in another trace",
            span.name
        );
    }
    // Every call the gateway makes is the parent of the callee's server span.
    let calls = client_calls(&spans);
    assert_eq!(
        calls.len(),
        2 + 2 + 1 + 2 + 1,
        "2 talks, 2 availabilities, 1 quote, 2 reservations, 1 charge"
    );
    for call in calls {
        let peer = attr(call, "peer.service").expect("peer.service");
        let children: Vec<&SpanData> = spans
            .of(&peer)
            .iter()
            .filter(|s| s.parent_span_id == call.span_context.span_id())
            .collect();
        assert_eq!(
            children.len(),
            1,
            "{} has one server span in {peer}",
            call.name
        );
        assert_eq!(
            children[0].span_kind,
            opentelemetry::trace::SpanKind::Server
        );
        assert!(children[0].parent_span_is_remote);
    }
}

#[tokio::test]
async fn a_traceparent_is_continued_and_a_malformed_one_starts_a_new_trace() {
    let shop = Shop::start(Options::default());
    let client = reqwest::Client::new();
    let url = format!("{}/talks", shop.url("gateway"));
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let continued = client
        .get(&url)
        .header("traceparent", parent)
        .send()
        .await
        .unwrap();
    assert_eq!(continued.status(), StatusCode::OK);
    let malformed = client
        .get(&url)
        .header("traceparent", "00-not-a-trace-01")
        .send()
        .await
        .unwrap();
    assert_eq!(
        malformed.status(),
        StatusCode::OK,
        "a malformed traceparent is never an error"
    );
    let spans = shop.stop();

    let roots: Vec<&SpanData> = spans.named("gateway", "GET /talks").collect();
    assert_eq!(roots.len(), 2);
    let expected = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    assert_eq!(roots[0].span_context.trace_id(), expected);
    assert_eq!(
        roots[0].parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert_ne!(roots[1].span_context.trace_id(), expected);
    assert_eq!(
        roots[1].parent_span_id,
        SpanId::INVALID,
        "a fresh trace starts"
    );
}

/// The lookups of an order: its client spans under `look_up`.
async fn lookups(fixes: Fixes) -> Vec<SpanData> {
    let shop = Shop::start(Options {
        fixes,
        ..Options::default()
    });
    let (status, _) = post(&shop, "/orders", &order(&[(1, 1), (2, 1), (3, 1)])).await;
    assert_eq!(status, StatusCode::CREATED);
    let spans = shop.stop();
    let look_up = spans
        .named("gateway", "look_up")
        .next()
        .expect("a look_up span")
        .clone();
    client_calls(&spans)
        .into_iter()
        .filter(|s| s.parent_span_id == look_up.span_context.span_id())
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_fanout_fix_turns_a_staircase_of_calls_into_overlapping_ones() {
    let serial = lookups(Fixes::default()).await;
    assert_eq!(serial.len(), 7, "3 talks, 3 availabilities, 1 quote");
    for pair in serial.windows(2) {
        assert!(
            pair[0].end_time <= pair[1].start_time,
            "without the fix, each call waits for the one before"
        );
    }
    let concurrent = lookups(Fixes {
        fix_fanout: true,
        ..Fixes::default()
    })
    .await;
    assert_eq!(concurrent.len(), 7);
    let overlapping = concurrent
        .windows(2)
        .filter(|p| overlap(&p[0], &p[1]))
        .count();
    assert!(
        overlapping >= 3,
        "with the fix, the calls run together ({overlapping} overlapping pairs)"
    );
}

/// The seats left for `talk_id`, as the inventory answers.
async fn seats_left(shop: &Shop, talk_id: u32) -> u64 {
    let url = format!("{}/seats/{talk_id}", shop.url("inventory"));
    let answer: Value = reqwest::get(&url)
        .await
        .expect("inventory answers")
        .json()
        .await
        .expect("JSON");
    answer["available"].as_u64().expect("a count")
}

/// Six reservations (one seat of each of talks 1 to 6) sent at once, and
/// their transactions in start order: each from the start of its
/// `record_reservation` span to the end of its last statement. (The
/// statements' spans are timed by the driver itself; the function's span
/// ends when its last handle goes, which can be a moment later, on the
/// SQLite driver's own thread.)
///
/// With `hold`, the database takes no write until every reservation has
/// taken its seat from the counts the inventory answers `GET /seats` from:
/// possible only if those answers do not wait for the transactions.
async fn six_reservations(shop: Shop, hold: Option<DatabaseHold>) -> Vec<(SystemTime, SystemTime)> {
    let talks = 1..=6;
    let mut before = Vec::new();
    for talk_id in talks.clone() {
        before.push(seats_left(&shop, talk_id).await);
    }
    let client = reqwest::Client::new();
    let url = format!("{}/reservations", shop.url("inventory"));
    let requests: Vec<_> = talks
        .clone()
        .map(|talk_id| {
            let request = client
                .post(&url)
                .json(&json!({"talk_id": talk_id, "quantity": 1}));
            tokio::spawn(request.send())
        })
        .collect();
    if let Some(hold) = hold {
        let seats_taken = async {
            for (talk_id, before) in talks.zip(before) {
                while seats_left(&shop, talk_id).await != before - 1 {
                    tokio::task::yield_now().await;
                }
            }
        };
        // A guard against a hang, not a measure: the counts change at once.
        tokio::time::timeout(Duration::from_secs(60), seats_taken)
            .await
            .expect("the seat counts show the reservations while their transactions wait");
        drop(hold);
    }
    for response in join_all(requests).await {
        assert_eq!(
            response
                .expect("the request ran")
                .expect("inventory answers")
                .status(),
            StatusCode::CREATED
        );
    }
    let spans = shop.stop();
    let inventory = spans.of("inventory");
    let mut transactions: Vec<(SystemTime, SystemTime)> = spans
        .named("inventory", "record_reservation")
        .map(|recording| {
            let trace = recording.span_context.trace_id();
            let last_statement = inventory
                .iter()
                .filter(|s| s.span_context.trace_id() == trace && s.span_kind == SpanKind::Client)
                .map(|s| s.end_time)
                .max()
                .expect("the reservation's statements");
            (recording.start_time, last_statement)
        })
        .collect();
    transactions.sort();
    assert_eq!(transactions.len(), 6);
    transactions
}

fn overlapping_pairs(intervals: &[(SystemTime, SystemTime)]) -> usize {
    intervals.windows(2).filter(|p| p[1].0 < p[0].1).count()
}

#[tokio::test]
async fn the_lock_fix_lets_reservations_overlap() {
    let planted = Shop::start(Options::default());
    let held = six_reservations(planted, None).await;
    assert_eq!(
        overlapping_pairs(&held),
        0,
        "without the fix, the seat lock is held across each reservation's transaction, so they queue"
    );
    let fixed = Shop::start(Options {
        fixes: Fixes {
            fix_lock: true,
            ..Fixes::default()
        },
        ..Options::default()
    });
    let hold = fixed.hold_inventory_database().await;
    let released = six_reservations(fixed, Some(hold)).await;
    assert_eq!(
        overlapping_pairs(&released),
        5,
        "with the fix, the seat counts answer while transactions wait, and all six are in flight together"
    );
}

/// The pricing spans of one order.
async fn pricing_spans(fixes: Fixes) -> Spans {
    let shop = Shop::start(Options {
        fixes,
        ..Options::default()
    });
    let mut body = order(&[(8, 1)]);
    body["coupon"] = json!("workshop20");
    let (status, body) = post(&shop, "/orders", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["total_cents"], 9_600);
    shop.stop()
}

#[tokio::test]
async fn the_hotspot_fix_stops_indexing_coupons_on_every_quote() {
    let slow = pricing_spans(Fixes::default()).await;
    let quote = slow
        .named("pricing", "price")
        .next()
        .expect("a `price` action span");
    let indexing: Vec<&SpanData> = slow.named("pricing", "index_coupons").collect();
    assert_eq!(indexing.len(), 1);
    assert_eq!(
        indexing[0].parent_span_id,
        quote.span_context.span_id(),
        "without the fix, the coupon book is indexed inside every quote"
    );
    let fast = pricing_spans(Fixes {
        fix_hotspot: true,
        ..Fixes::default()
    })
    .await;
    assert_eq!(
        fast.named("pricing", "index_coupons").count(),
        0,
        "with the fix, the index is built at start-up, outside any request"
    );
}

/// The charge of one order against a processor that always fails.
async fn failing_charge(fixes: Fixes) -> (StatusCode, Value, Spans) {
    let shop = Shop::start(Options {
        fixes,
        processor: payments::Processor {
            failure_rate: 1.0,
            ..payments::Processor::default()
        },
        ..Options::default()
    });
    let (status, body) = post(&shop, "/orders", &order(&[(1, 1)])).await;
    (status, body, shop.stop())
}

#[tokio::test]
async fn the_retries_fix_backs_off_between_payment_attempts() {
    let (status, body, eager) = failing_charge(Fixes::default()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["peer"], "payments");
    let charge = eager
        .named("gateway", "charge")
        .next()
        .expect("a charge span");
    assert_eq!(attr(charge, "attempts").as_deref(), Some("4"));
    assert_eq!(eager.named("payments", "POST /charges").count(), 4);
    assert_eq!(
        eager.named("gateway", "back_off").count(),
        0,
        "without the fix, no pause between attempts"
    );

    let (status, _, patient) = failing_charge(Fixes {
        fix_retries: true,
        ..Fixes::default()
    })
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let pauses: Vec<&SpanData> = patient.named("gateway", "back_off").collect();
    assert_eq!(pauses.len(), 3, "with the fix, a pause before each retry");
    for pause in pauses {
        let planned: u64 = attr(pause, "delay_ms").expect("delay_ms").parse().unwrap();
        assert!(planned >= gateway::BACKOFF_BASE.as_millis() as u64);
    }
    // The order failed to pay: its seats are given back, cleanly.
    assert_eq!(patient.named("inventory", "release").count(), 1);
    for span in patient
        .of("gateway")
        .iter()
        .filter(|s| s.name == "release" || s.name == "DELETE inventory")
    {
        assert!(
            !matches!(span.status, opentelemetry::trace::Status::Error { .. }),
            "releasing the seats succeeded: {} is not an error",
            span.name
        );
    }
}

#[tokio::test]
async fn bad_input_gets_the_documented_4xx_with_a_reason() {
    let shop = Shop::start(Options::default());
    let client = reqwest::Client::new();
    let gateway = shop.url("gateway");
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        (status, body)
    };
    let mut declined = order(&[(1, 1)]);
    declined["card_number"] = json!("4000000000000002");
    let mut bad_card = order(&[(1, 1)]);
    bad_card["card_number"] = json!("12ab");
    let cases = [
        (
            "malformed JSON",
            client
                .post(format!("{gateway}/orders"))
                .header("content-type", "application/json")
                .body("{\"customer\":"),
            400,
        ),
        (
            "wrong content type",
            client.post(format!("{gateway}/orders")).body("{}"),
            415,
        ),
        (
            "wrong shape",
            client
                .post(format!("{gateway}/orders"))
                .json(&json!({"customer": 7})),
            422,
        ),
        (
            "oversized body",
            client
                .post(format!("{gateway}/orders"))
                .header("content-type", "application/json")
                .body(vec![b' '; shop::server::MAX_BODY_BYTES + 1]),
            413,
        ),
        (
            "unknown talk",
            client
                .post(format!("{gateway}/orders"))
                .json(&order(&[(99, 1)])),
            404,
        ),
        (
            "zero seats",
            client
                .post(format!("{gateway}/orders"))
                .json(&order(&[(1, 0)])),
            422,
        ),
        (
            "too many seats",
            client
                .post(format!("{gateway}/orders"))
                .json(&order(&[(1, 11)])),
            422,
        ),
        (
            "no lines",
            client.post(format!("{gateway}/orders")).json(&order(&[])),
            422,
        ),
        (
            "more seats than left",
            client.post(format!("{gateway}/orders")).json(&order(&[
                (8, 10),
                (8, 10),
                (8, 10),
                (8, 10),
            ])),
            409,
        ),
        (
            "declined card",
            client.post(format!("{gateway}/orders")).json(&declined),
            402,
        ),
        (
            "malformed card",
            client.post(format!("{gateway}/orders")).json(&bad_card),
            422,
        ),
        (
            "non-numeric id",
            client.get(format!("{gateway}/orders/abc")),
            400,
        ),
        (
            "unknown order",
            client.get(format!("{gateway}/orders/12345")),
            404,
        ),
        ("unknown route", client.get(format!("{gateway}/nope")), 404),
        (
            "wrong method",
            client.delete(format!("{gateway}/orders")),
            405,
        ),
    ];
    for (what, request, expected) in cases {
        let (status, body) = send(request).await;
        assert_eq!(status.as_u16(), expected, "{what}: {body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|reason| !reason.is_empty()),
            "{what}: the body gives a reason: {body}"
        );
    }
    drop(shop.stop());
}

#[tokio::test]
async fn a_peer_down_or_slow_is_named_in_a_5xx_never_a_hang() {
    // A peer that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let slow = shop::Peer::with_timeout("catalog", silent_url, Duration::from_millis(200));
    // Far beyond the peer's 200 ms: a timeout that does not fire fails
    // here, rather than hanging the test.
    let err = tokio::time::timeout(Duration::from_secs(10), slow.get::<Value>("/talks"))
        .await
        .expect("the peer's timeout fired (a silent peer must not hang the call)")
        .expect_err("a timeout");
    assert_eq!(err.status.as_u16(), 504);
    assert_eq!(err.peer.as_deref(), Some("catalog"));

    let mut shop = Shop::start(Options::default());
    shop.stop_service("inventory");
    let response = reqwest::get(format!("{}/talks", shop.url("gateway")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["peer"], "inventory", "{body}");
    drop(shop.stop());
    drop(silent);
}

#[tokio::test]
async fn no_span_is_lost_when_the_services_shut_down() {
    const ORDERS: usize = 20;
    // Every order is held at the payments service, its last hop: by then
    // the gateway has read it and called the other three services.
    let gate = Gate::default();
    let options = Options::default();
    let mut shop = Shop::start(Options {
        payments_gate: Some(gate.clone()),
        // Room for every held charge at once, so that none is refused as
        // "busy" when the gate opens (a planted problem of its own).
        processor: payments::Processor {
            capacity: ORDERS,
            ..options.processor
        },
        ..options
    });
    let client = reqwest::Client::new();
    let url = format!("{}/orders", shop.url("gateway"));
    let in_flight: Vec<_> = (0..ORDERS)
        .map(|i| {
            let request = client.post(&url).json(&order(&[(i as u32 % 8 + 1, 1)]));
            tokio::spawn(async move {
                let response = request.send().await?;
                Ok::<_, reqwest::Error>((response.status(), response.text().await?))
            })
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(60), gate.arrived(ORDERS))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "only {} of {ORDERS} orders reached payments in a minute",
                gate.count()
            )
        });

    // The gateway is told to stop while all of them are in flight: it
    // refuses anything new at once, and lets them finish.
    shop.begin_stop("gateway").await;
    assert!(
        client
            .post(&url)
            .json(&order(&[(1, 1)]))
            .send()
            .await
            .is_err(),
        "a stopping gateway refuses new orders"
    );
    gate.open();
    for request in in_flight {
        let (status, body) = request
            .await
            .expect("the request task ran")
            .expect("an order in flight when the gateway stopped is answered");
        assert_eq!(
            status,
            StatusCode::CREATED,
            "an order in flight when the gateway stopped was confirmed: {body}"
        );
    }

    let spans = shop.stop();
    let orders: Vec<&SpanData> = spans.named("gateway", "POST /orders").collect();
    assert_eq!(orders.len(), ORDERS, "one server span per confirmed order");
    for order in orders {
        let trace = order.span_context.trace_id();
        for (service, expected) in [
            ("catalog", 1),
            ("inventory", 2),
            ("pricing", 1),
            ("payments", 1),
        ] {
            let servers = spans
                .of(service)
                .iter()
                .filter(|s| {
                    s.span_context.trace_id() == trace
                        && s.span_kind == opentelemetry::trace::SpanKind::Server
                })
                .count();
            assert_eq!(
                servers, expected,
                "{service}'s spans of an order all arrived"
            );
        }
        // The gateway's own spans too: each call it made for the order (a
        // talk, its seats, a quote, a reservation, a charge), and every
        // span of the order with its parent beside it.
        let in_order: Vec<&SpanData> = spans
            .all()
            .map(|(_, span)| span)
            .filter(|span| span.span_context.trace_id() == trace)
            .collect();
        let calls = client_calls(&spans)
            .into_iter()
            .filter(|call| call.span_context.trace_id() == trace)
            .count();
        assert_eq!(calls, 5, "the gateway's calls for an order of one line");
        for span in &in_order {
            assert!(
                span.parent_span_id == SpanId::INVALID
                    || in_order
                        .iter()
                        .any(|parent| parent.span_context.span_id() == span.parent_span_id),
                "{}'s parent was lost",
                span.name
            );
        }
    }
}

#[tokio::test]
async fn business_operations_are_actions_with_outcomes_and_statistics() {
    let shop = Shop::start(Options::default());
    let (status, _) = post(&shop, "/orders", &order(&[(2, 1)])).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut declined = order(&[(2, 1)]);
    declined["card_number"] = json!("4000000000000002");
    let (status, _) = post(&shop, "/orders", &declined).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let stats: Value = reqwest::get(format!("{}/stats", shop.url("payments")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let spans = shop.stop();

    let outcomes: Vec<String> = spans
        .named("payments", "charge")
        .filter_map(|s| attr(s, "action.outcome"))
        .collect();
    assert_eq!(
        outcomes,
        ["success", "failure"],
        "a declined card is the charge's failure, not an exception"
    );
    let reserve = spans
        .named("inventory", "reserve")
        .next()
        .expect("a `reserve` action");
    assert!(
        attr(reserve, "action.data").is_some_and(|data| data.contains("reservation_id")),
        "the action's data is on its span, as `action.data`"
    );
    // Statistics are per process, and tests share the process: at least ours.
    let charge = stats
        .as_array()
        .and_then(|all| all.iter().find(|s| s["action"] == "charge"))
        .unwrap_or_else(|| panic!("GET /stats lists the charge action: {stats}"));
    assert!(
        charge["success"].as_u64() >= Some(1) && charge["failure"].as_u64() >= Some(1),
        "{charge}"
    );
    assert!(charge["p99_us"].as_u64() >= Some(1), "{charge}");
}
