//! What arrives from outside never panics the collector nor makes it fail:
//! any query string on any route of the query API (a property test, the
//! router called in process), numbers past what 64 bits hold, OTLP media
//! types and content codings in any case, and a data file whose last line
//! a crash or a full disk cut short.

#[allow(
    dead_code,
    reason = "each test binary uses a part of the shared helpers"
)]
mod common;
mod logs;

use logs::logged;

use std::cell::Cell;
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::handler::Handler;
use axum::http::{Method, Request, StatusCode, header};
use axum::routing::MethodRouter;
use collector::otlp;
use collector::store::Store;
use collector_client::routes;
use common::{failed, request, scratch_file, span};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use prost::Message;
use serde_json::{Value, json};
use trace_analysis::model::Span as StoredSpan;

/// A router called in process, as `axum::serve` calls it, with no socket:
/// `any_service` makes a `MethodRouter` of it, which is an axum `Handler`,
/// so axum's own trait calls it (`tower::ServiceExt` is no dependency of
/// the workspace).
#[derive(Clone)]
struct InProcess(MethodRouter);

impl InProcess {
    fn new(router: axum::Router) -> Self {
        Self(axum::routing::any_service(router))
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Bytes) {
        let response = <MethodRouter as Handler<(), ()>>::call(self.0.clone(), request, ()).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body in memory is read whole");
        (status, body)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Bytes) {
        let request = Request::builder()
            .uri(uri)
            .body(Body::empty())
            .unwrap_or_else(|err| panic!("GET {uri:?} is no request: {err}"));
        self.send(request).await
    }
}

/// An answer as JSON, or as its text when it is not JSON.
fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Trace 1: gateway's `op1` (server) calls catalog with its client span
/// `op2`, under which catalog's `op3` serves; trace 2: a failed `op1` of
/// gateway alone. All of them in November 2026.
fn small_store() -> Arc<Store> {
    let store = Store::in_memory(100);
    for (service, spans) in [
        (
            "gateway",
            vec![span(1, 1, None, 0, 100, 2), span(1, 2, Some(1), 10, 60, 3)],
        ),
        ("catalog", vec![span(1, 3, Some(2), 20, 50, 2)]),
        ("gateway", vec![failed(span(2, 1, None, 0, 40, 2))]),
    ] {
        let batch = otlp::from_otlp(request(service, spans)).expect("valid spans");
        store.insert(batch).expect("stored in memory");
    }
    Arc::new(store)
}

/// Trace 1's id, as the routes take it.
const TRACE_ID: &str = "01010101010101010101010101010101";

/// Every GET route of the query API and of the UI, as the router mounts
/// them: each `{…}` is a path segment.
const ROUTES: [&str; 20] = [
    routes::SERVICES,
    routes::OPERATIONS,
    routes::TRACES,
    routes::TRACE,
    routes::TRACE_CRITICAL_PATH,
    routes::SPAN_FLAME_GRAPH,
    routes::SPAN_PPROF,
    routes::CRITICAL_PATHS,
    routes::CRITICAL_PATHS_FLAME_GRAPH,
    routes::PROFILE_FLAME_GRAPH,
    routes::PROFILE_FOLDED,
    routes::PROFILE_PPROF,
    routes::DEPENDENCIES,
    routes::RED,
    routes::METRICS,
    routes::UI_SEARCH,
    routes::UI_TRACE,
    routes::UI_COMPARE,
    routes::UI_DEPENDENCIES,
    routes::UI_CRITICAL_PATHS,
];

/// `route` with each of its `{…}` segments replaced by `segment`.
fn with_segments(route: &str, segment: &str) -> String {
    let mut path = String::new();
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map_or(rest.len(), |at| open + at + 1);
        path.push_str(&rest[..open]);
        path.push_str(segment);
        rest = &rest[close..];
    }
    path.push_str(rest);
    path
}

/// The query parameters the routes read.
const PARAMETERS: &[&str] = &[
    "service",
    "operation",
    "start",
    "end",
    "lookback",
    "minDuration",
    "maxDuration",
    "tags",
    "limit",
    "band",
    "endTs",
    "since",
    "endpointService",
    "endpointOperation",
];

/// Numbers, or nearly, at the edges of what integers and floats hold.
const EDGE_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "+1",
    "-1",
    "1.5",
    " 7 ",
    "0x10",
    "1e3",
    "1e400",
    "NaN",
    "inf",
    "-inf",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "18446744073709551615000",
    // u64::MAX / 1000 and one more: milliseconds whose microseconds do not fit.
    "18446744073709551",
    "18446744073709552",
    "340282366920938463463374607431768211456",
];

/// Units after a number, as durations are written, and some that are not.
const UNITS: &[&str] = &[
    "us", "µs", "μs", "ms", "s", "m", "h", "", "ns", "d", "MS", "S", "µ", "s5", ".", "e9s",
];

/// Words the routes know: names in the store, bands, `tags` JSON.
const WORDS: &[&str] = &[
    "",
    "all",
    "p50",
    "p90",
    "p95",
    "p99",
    "p100",
    "gateway",
    "catalog",
    "op1",
    "op3",
    TRACE_ID,
    r#"{"error":"true"}"#,
    r#"{"error":true}"#,
    r#"{"span.kind":"server"}"#,
    "{}",
    "[]",
    "null",
    "{",
    r#"{"a":1e999}"#,
    r#"{"a":18446744073709551616}"#,
    r#"{"a":-9223372036854775809}"#,
    r#"{"a":{"b":[1,2]}}"#,
];

/// Query text sent as it is: stray and broken percent escapes, separators.
const RAW: &[&str] = &[
    "%", "%G1", "%FF", "%C3", "%C3%28", "+", "%2B", "%00", "=", "==", "&", ";",
];

/// Percent-encodes all but the unreserved characters, so that any text, or
/// any bytes, make a valid URI.
fn encode(bytes: &[u8]) -> String {
    let mut encoded = String::with_capacity(bytes.len() * 3);
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        (0..1_000u64).prop_map(|below| (u64::MAX - below).to_string()),
        "[0-9]{1,30}",
        "[0-9]{0,5}\\.[0-9]{0,5}",
    ]
}

/// A parameter's value, encoded for a query string.
fn value() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (0..1_000u64).prop_map(|below| (u64::MAX - below).to_string()),
        (0..1_000u64).prop_map(|above| (u128::from(u64::MAX) + 1 + u128::from(above)).to_string()),
        (0..1_000u64).prop_map(|offset| (u64::MAX / 1_000 - 500 + offset).to_string()),
        any::<f64>().prop_map(|x| x.to_string()),
        (number(), prop::sample::select(UNITS)).prop_map(|(n, unit)| format!("{n}{unit}")),
        "[0-9]{19,300}",
        "-[0-9]{1,40}",
        prop::sample::select(EDGE_NUMBERS).prop_map(str::to_owned),
        prop::sample::select(WORDS).prop_map(str::to_owned),
        (1..300usize).prop_map(|depth| format!(
            "{{\"a\":{}{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        )),
        any::<String>(),
    ];
    prop_oneof![
        8 => text.prop_map(|text| encode(text.as_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..24).prop_map(|bytes| encode(&bytes)),
        1 => prop::sample::select(RAW).prop_map(str::to_owned),
    ]
}

/// A query string of a few parameters, the routes' own mostly, often one
/// twice, sometimes with no `=value`.
fn query() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        9 => prop::sample::select(PARAMETERS).prop_map(str::to_owned),
        1 => any::<String>().prop_map(|name| encode(name.as_bytes())),
    ];
    let parameter =
        (name, prop::option::weighted(0.9, value())).prop_map(|(name, value)| match value {
            Some(value) => format!("{name}={value}"),
            None => name,
        });
    prop::collection::vec(parameter, 0..6).prop_map(|parameters| parameters.join("&"))
}

/// A path segment: a trace id, a service, or anything, encoded.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(TRACE_ID.to_owned()),
        prop::sample::select(&["gateway", "catalog", "00000000000000000000000000000000"][..])
            .prop_map(str::to_owned),
        "[0-9a-fA-F]{32}",
        any::<String>().prop_map(|text| encode(text.as_bytes())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| encode(&bytes)),
    ]
}

/// Requests the property test makes at the least, over all routes.
const MIN_REQUESTS: usize = 100_000;

/// Sends `query` to every route, `segment` in their paths; fails on an
/// answer that is not 2xx or 4xx, or a 400 with no reason.
async fn every_route(
    api: &InProcess,
    query: &str,
    segment: &str,
    sent: &Cell<usize>,
) -> Result<(), TestCaseError> {
    for route in ROUTES {
        let uri = format!("{}?{query}", with_segments(route, segment));
        let (status, body) = api.get(&uri).await;
        sent.set(sent.get() + 1);
        let body = String::from_utf8_lossy(&body);
        prop_assert!(
            status.is_success() || status.is_client_error(),
            "GET {uri}: {status}: {body}"
        );
        prop_assert!(
            status != StatusCode::BAD_REQUEST || !body.trim().is_empty(),
            "GET {uri}: a 400 with no reason"
        );
    }
    Ok(())
}

#[test]
fn no_query_string_panics_the_api_or_makes_it_fail() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let api = InProcess::new(collector::api::router(small_store()));
    let sent = Cell::new(0);
    let config = Config {
        cases: u32::try_from(MIN_REQUESTS.div_ceil(ROUTES.len())).expect("some thousand cases"),
        // No regression files in the source tree: a failure names its request.
        failure_persistence: None,
        ..Config::default()
    };
    let result = TestRunner::new(config).run(&(query(), segment()), |(query, segment)| {
        runtime.block_on(every_route(&api, &query, &segment, &sent))
    });
    eprintln!("{} requests, over {} routes", sent.get(), ROUTES.len());
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert!(
        sent.get() >= MIN_REQUESTS,
        "only {} requests were made",
        sent.get()
    );
}

#[tokio::test]
async fn numbers_past_64_bits_saturate_and_negative_ones_are_refused_by_name() {
    let api = InProcess::new(collector::api::router(small_store()));
    // An end or a lookback past every span is no bound: every call counts.
    for query in [
        "endTs=18446744073709551615",
        "endTs=18446744073709551616",
        "lookback=18446744073709551615",
        "endTs=18446744073709551615&lookback=18446744073709551615",
        "lookback=99999999999999999999999h",
    ] {
        let (status, body) = api.get(&format!("/api/dependencies?{query}")).await;
        let answer = json_of(&body);
        assert_eq!(status, StatusCode::OK, "{query}: {answer}");
        assert_eq!(
            answer["data"],
            json!([{"parent": "gateway", "child": "catalog", "callCount": 1, "errorCount": 0}]),
            "{query}: the one call, from every span"
        );
    }
    // Both traces, or neither, as the saturated bound says.
    for (query, traces) in [
        ("end=18446744073709551616", 2),
        ("start=18446744073709551616", 0),
        ("lookback=99999999999999999999999h", 2),
        ("maxDuration=99999999999999999999999999h", 2),
        ("minDuration=99999999999999999999999999h", 0),
        ("limit=18446744073709551616", 2),
    ] {
        let (status, body) = api.get(&format!("/api/traces?{query}")).await;
        let answer = json_of(&body);
        assert_eq!(status, StatusCode::OK, "{query}: {answer}");
        assert_eq!(
            answer["data"].as_array().map(Vec::len),
            Some(traces),
            "{query}: {answer}"
        );
    }
    let (status, body) = api
        .get("/api/critical-paths?service=gateway&operation=op1&lookback=99999999999999999999h")
        .await;
    let answer = json_of(&body);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["data"]["traces"], 2,
        "a lookback past the epoch: {answer}"
    );
    let (status, body) = api.get("/api/red?since=18446744073709551616").await;
    let answer = json_of(&body);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["data"],
        json!([]),
        "nothing started after the end of time"
    );

    for (path, parameter) in [
        ("/api/dependencies?endTs=-1", "endTs"),
        ("/api/dependencies?lookback=-5m", "lookback"),
        ("/api/traces?start=-1", "start"),
        ("/api/traces?end=1.5", "end"),
        ("/api/traces?lookback=-1h", "lookback"),
        ("/api/traces?minDuration=-1ms", "minDuration"),
        ("/api/traces?maxDuration=1e400s", "maxDuration"),
        ("/api/traces?limit=-1", "limit"),
        // JSON, but a number where an object belongs.
        ("/api/traces?tags=18446744073709551616", "tags"),
        (
            "/api/critical-paths?service=gateway&operation=op1&start=-1",
            "start",
        ),
        (
            "/api/critical-paths/flame.svg?service=gateway&operation=op1&band=p100",
            "band",
        ),
        (
            "/api/profiles/folded?service=gateway&operation=op1&start=-1",
            "start",
        ),
        (
            "/api/profiles/flame.svg?service=gateway&operation=op1&endpointService=gateway&endpointOperation=op1&band=p100",
            "band",
        ),
        ("/api/red?since=-1", "since"),
    ] {
        let (status, body) = api.get(path).await;
        let answer = json_of(&body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        let reason = answer["errors"][0]["msg"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with(parameter),
            "{path}: the reason names {parameter}: {answer}"
        );
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn post_otlp(content_type: &str, coding: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/v1/traces")
        .header(header::CONTENT_TYPE, content_type);
    if let Some(coding) = coding {
        request = request.header(header::CONTENT_ENCODING, coding);
    }
    request
        .body(Body::from(body))
        .unwrap_or_else(|err| panic!("{content_type} {coding:?} is no request: {err}"))
}

#[tokio::test]
async fn otlp_media_types_and_codings_are_read_in_any_case() {
    let store = Arc::new(Store::in_memory(1_000));
    let otlp = InProcess::new(collector::ingest::router(store.clone()));
    /// Content type, content encoding, whether the body is JSON, whether gzipped.
    type Case<'a> = (&'a str, Option<&'a str>, bool, bool);
    let accepted: [Case; 6] = [
        ("Application/X-Protobuf", Some("GZIP"), false, true),
        (
            "APPLICATION/X-PROTOBUF; charset=utf-8",
            Some("Gzip"),
            false,
            true,
        ),
        (
            "application/x-protobuf ; Charset=UTF-8",
            Some("x-gzip"),
            false,
            true,
        ),
        ("Application/Json;charset=UTF-8", Some("gzip"), true, true),
        ("application/JSON", Some("Identity"), true, false),
        (
            "application/x-protobuf",
            Some("identity, GZip"),
            false,
            true,
        ),
    ];
    for (trace, (content_type, coding, is_json, gzipped)) in (1u8..).zip(accepted) {
        let export = request("svc", vec![span(trace, 1, None, 0, 10, 2)]);
        let body = if is_json {
            serde_json::to_vec(&export).expect("OTLP JSON")
        } else {
            export.encode_to_vec()
        };
        let body = if gzipped { gzip(&body) } else { body };
        let (status, answer) = otlp.send(post_otlp(content_type, coding, body)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{content_type} {coding:?}: {}",
            String::from_utf8_lossy(&answer)
        );
        let trace_id = format!("{trace:02x}").repeat(16);
        assert!(
            store.trace(&trace_id).is_some(),
            "{content_type} {coding:?}: accepted, but trace {trace_id} is not stored"
        );
    }

    let protobuf = request("svc", vec![span(9, 1, None, 0, 10, 2)]).encode_to_vec();
    let refused: [(&str, Option<&str>); 4] = [
        ("text/plain", None),
        ("application/x-protobuf-ish", None),
        ("application/x-protobuf", Some("br")),
        ("application/x-protobuf", Some("gzip, gzip")),
    ];
    for (content_type, coding) in refused {
        let (status, answer) = otlp
            .send(post_otlp(content_type, coding, protobuf.clone()))
            .await;
        let answer = json_of(&answer);
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type} {coding:?}: {answer}"
        );
        assert!(
            answer["error"].as_str().is_some_and(|r| !r.is_empty()),
            "{content_type} {coding:?} gives a reason: {answer}"
        );
    }
    assert_eq!(store.trace_count(), 6, "refused batches store nothing");
}

/// A batch as the collector stores it: trace `trace` of `service`, a root
/// and a child.
fn stored_batch(service: &str, trace: u8) -> Vec<StoredSpan> {
    let spans: Vec<common::Span> = vec![
        span(trace, 1, None, 0, 10, 2),
        span(trace, 2, Some(1), 2, 8, 3),
    ];
    otlp::from_otlp(request(service, spans)).expect("valid spans")
}

fn trace_id(trace: u8) -> String {
    format!("{trace:02x}").repeat(16)
}

#[test]
fn a_torn_last_line_is_skipped_and_the_next_batch_starts_a_line_of_its_own() {
    // serde_json writes "café" as it is, its é in two bytes.
    let third = serde_json::to_string(&stored_batch("café", 3)).expect("JSON");
    let inside_character = third.find('é').expect("é in the batch") + 1;
    let mid_json = third.find("\"name\"").expect("a name in the batch");
    for (how, torn) in [
        (
            "inside a multi-byte character",
            &third.as_bytes()[..inside_character],
        ),
        ("in the middle of the JSON", &third.as_bytes()[..mid_json]),
    ] {
        let path = scratch_file("untrusted-input", "torn");
        {
            let store = Store::with_file(&path, 1_000).expect("a new data file");
            for trace in [1, 2] {
                store
                    .insert(stored_batch("gateway", trace))
                    .expect("a batch written");
            }
        }
        OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(torn))
            .expect("the torn write");

        let (reloaded, logs) = logged(|| Store::with_file(&path, 1_000));
        let reloaded = reloaded
            .unwrap_or_else(|err| panic!("torn {how}: the collector does not start: {err}"));
        for trace in [1, 2] {
            assert_eq!(
                reloaded.trace(&trace_id(trace)).map(|spans| spans.len()),
                Some(2),
                "torn {how}: batch {trace} is reloaded whole"
            );
        }
        assert_eq!(
            reloaded.trace_count(),
            2,
            "torn {how}: nothing of the torn batch is stored"
        );
        assert_eq!(reloaded.lines_skipped(), 1, "torn {how}: {logs}");
        let bytes = format!("bytes={}", torn.len());
        assert!(
            logs.contains("last line") && logs.contains("line=3") && logs.contains(&bytes),
            "torn {how}: the warning names line 3 and its {bytes}: {logs}"
        );

        reloaded
            .insert(stored_batch("gateway", 4))
            .expect("a batch appended after the reload");
        drop(reloaded);
        let written = std::fs::read(&path).expect("the data file");
        let lines: Vec<&[u8]> = written.split(|byte| *byte == b'\n').collect();
        assert_eq!(
            lines.len(),
            5,
            "torn {how}: four lines, each ended: {}",
            String::from_utf8_lossy(&written)
        );
        assert_eq!(lines[2], torn, "torn {how}: the torn bytes keep their line");
        assert_eq!(
            serde_json::from_slice::<Vec<StoredSpan>>(lines[3]).ok(),
            Some(stored_batch("gateway", 4)),
            "torn {how}: the new batch has a line of its own"
        );
        let again = Store::with_file(&path, 1_000).expect("the data file, reloaded again");
        for trace in [1, 2, 4] {
            assert!(
                again.trace(&trace_id(trace)).is_some(),
                "torn {how}: batch {trace} survives a second restart"
            );
        }
        assert_eq!(
            again.lines_skipped(),
            1,
            "torn {how}: the torn line, now in the middle"
        );
        std::fs::remove_file(&path).expect("the scratch file removed");
    }
}

#[test]
fn bad_lines_in_the_middle_are_skipped_and_counted_and_the_others_kept() {
    let path = scratch_file("untrusted-input", "damaged");
    let line = |batch: &Vec<StoredSpan>| serde_json::to_vec(batch).expect("JSON");
    let mut endless = stored_batch("gateway", 6);
    endless[0].start_us = u64::MAX;
    let lines: [Vec<u8>; 6] = [
        line(&stored_batch("gateway", 1)),
        b"\xff\xfe not UTF-8".to_vec(),
        br#"{"not": "spans"}"#.to_vec(),
        line(&endless),
        // A blank line: nothing in it to lose.
        Vec::new(),
        line(&stored_batch("gateway", 2)),
    ];
    let mut content = lines.join(&b'\n');
    content.push(b'\n');
    std::fs::write(&path, &content).expect("the data file");

    let (store, logs) = logged(|| Store::with_file(&path, 1_000));
    let store = store.unwrap_or_else(|err| panic!("the collector does not start: {err}"));
    for trace in [1, 2] {
        assert_eq!(
            store.trace(&trace_id(trace)).map(|spans| spans.len()),
            Some(2),
            "batch {trace}, around the bad lines, is loaded whole"
        );
    }
    assert!(
        store.trace(&trace_id(6)).is_none(),
        "a span that ends past u64 µs is not loaded"
    );
    assert_eq!(store.lines_skipped(), 3, "{logs}");
    for number in [2, 3, 4] {
        assert!(
            logs.contains(&format!("line={number} ")),
            "bad line {number} is named: {logs}"
        );
    }
    assert!(!logs.contains("last line"), "the last line is good: {logs}");
    drop(store);
    assert_eq!(
        std::fs::read(&path).expect("the data file"),
        content,
        "a file that ends with a newline is not touched by loading it"
    );
    std::fs::remove_file(&path).expect("the scratch file removed");
}
