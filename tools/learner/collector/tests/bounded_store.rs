//! The collector is bounded in bytes, not only in spans: what arrives is
//! trimmed (long strings cut, attributes, events and links past a count
//! dropped), a trace takes at most so many spans, the store keeps its
//! estimated bytes within a budget by evicting whole oldest traces, and
//! every cut, drop and eviction is counted and logged. Exports go through
//! the real ingestion router, called in process as `axum::serve` calls it;
//! the query API answers over HTTP on loopback.

#[allow(
    dead_code,
    reason = "each test binary uses a part of the shared helpers"
)]
mod common;
mod logs;

use common::scratch_file;
use logs::logged;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::handler::Handler;
use axum::http::{Method, Request, StatusCode, header};
use axum::routing::MethodRouter;
use collector::limits::{self, Limits, TRUNCATION_MARK, WARNING_INTERVAL};
use collector::otlp;
use collector::store::Store;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use trace_analysis::model::{Span as StoredSpan, Value};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// The ingestion router, called in process: `any_service` makes a
/// `MethodRouter` of it, which is an axum `Handler`.
struct Ingest(MethodRouter);

impl Ingest {
    fn new(store: &Arc<Store>) -> Self {
        Self(axum::routing::any_service(collector::ingest::router(
            Arc::clone(store),
        )))
    }

    /// Posts an export as protobuf, as the SDK's exporter does; the
    /// collector's answer, which must be a 200.
    async fn export(&self, export: &ExportTraceServiceRequest) -> ExportTraceServiceResponse {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/v1/traces")
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .body(Body::from(export.encode_to_vec()))
            .expect("an OTLP request");
        let response = <MethodRouter as Handler<(), ()>>::call(self.0.clone(), request, ()).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body in memory is read whole");
        assert_eq!(
            status,
            StatusCode::OK,
            "the export is accepted: {}",
            String::from_utf8_lossy(&body)
        );
        ExportTraceServiceResponse::decode(body.as_ref())
            .unwrap_or_else(|err| panic!("not an OTLP answer ({err}): {body:?}"))
    }
}

/// The query API on a free port of loopback; its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port on loopback");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// Span `id` (from 1) of trace `trace`, a server span of half a
/// millisecond in November 2026.
fn span(trace: u8, id: u64, attributes: Vec<KeyValue>, events: Vec<Event>) -> Span {
    const EPOCH_NS: u64 = 1_795_000_000_000_000_000;
    Span {
        trace_id: vec![trace; 16],
        span_id: id.to_be_bytes().to_vec(),
        name: format!("op{id}"),
        kind: 2,
        start_time_unix_nano: EPOCH_NS + id * 1_000,
        end_time_unix_nano: EPOCH_NS + id * 1_000 + 500_000,
        attributes,
        events,
        ..Span::default()
    }
}

/// An export of service `flood`, its resource with `resource` besides.
fn export(resource: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    let mut attributes = vec![text("service.name", "flood")];
    attributes.extend(resource);
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes,
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn trace_id(trace: u8) -> String {
    format!("{trace:02x}").repeat(16)
}

/// Every string a stored span holds, its resource's included.
fn strings(span: &StoredSpan) -> Vec<&str> {
    fn of_attributes(attributes: &[(String, Value)]) -> impl Iterator<Item = &str> {
        attributes.iter().flat_map(|(key, value)| {
            let value = match value {
                Value::Str(text) => Some(text.as_str()),
                Value::Bool(_) | Value::Int(_) | Value::Float(_) => None,
            };
            std::iter::once(key.as_str()).chain(value)
        })
    }
    let mut all = vec![
        span.trace_id.as_str(),
        span.span_id.as_str(),
        span.service.as_str(),
        span.name.as_str(),
    ];
    all.extend(span.parent_span_id.as_deref());
    all.extend(of_attributes(&span.attributes));
    all.extend(of_attributes(&span.resource));
    for event in &span.events {
        all.push(&event.name);
        all.extend(of_attributes(&event.attributes));
    }
    for (trace_id, span_id) in &span.links {
        all.extend([trace_id.as_str(), span_id.as_str()]);
    }
    all
}

/// The batches of a data file, one a line.
fn batches_in(path: &Path) -> Vec<Vec<StoredSpan>> {
    std::fs::read_to_string(path)
        .expect("the data file")
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("a line of the data file is no batch ({err})"))
        })
        .collect()
}

#[tokio::test]
async fn a_flood_of_huge_attributes_stays_within_the_byte_budget_each_value_cut() {
    const BUDGET: usize = MIB;
    const EXPORTS: u8 = 200;
    let store = Arc::new(Store::new(Limits {
        max_bytes: BUDGET,
        ..Limits::default()
    }));
    let ingest = Ingest::new(&store);
    // One- and three-byte characters: a cut can fall inside one.
    let payload = "ab€".repeat(MIB / 5);
    for trace in 1..=EXPORTS {
        let dump = Event {
            time_unix_nano: 1,
            name: "dump".to_owned(),
            attributes: vec![text("body", &payload)],
            ..Event::default()
        };
        let attributes = vec![
            text("request.body", &payload),
            text("response.body", &payload),
            text("http.route", "/orders"),
        ];
        let answer = ingest
            .export(&export(
                Vec::new(),
                vec![span(trace, 1, attributes, vec![dump])],
            ))
            .await;
        assert_eq!(
            answer.partial_success, None,
            "export {trace}: its span is accepted, cut"
        );
        let stats = store.stats();
        assert!(
            stats.bytes_stored <= BUDGET as u64,
            "after export {trace}, over the budget of {BUDGET}: {stats:?}"
        );
    }

    let stats = store.stats();
    let stored = store.spans_where(|_| true);
    // The checks below read what is stored: a store that evicted
    // everything would pass them all.
    assert!(
        stats.bytes_stored > BUDGET as u64 / 2,
        "eviction keeps the newest traces that fit, not none: {} bytes of {BUDGET} held, \
         {} spans",
        stats.bytes_stored,
        stored.len()
    );
    for span in &stored {
        for string in strings(span) {
            assert!(
                string.len() <= limits::MAX_VALUE_BYTES,
                "a string of {} bytes is stored in span {} of trace {}",
                string.len(),
                span.span_id,
                span.trace_id
            );
        }
        let values = span
            .attributes
            .iter()
            .chain(span.events.iter().flat_map(|event| &event.attributes));
        for (key, value) in values.filter(|(key, _)| key != "http.route") {
            let Value::Str(cut) = value else {
                panic!("{key} is no longer a string: {value:?}");
            };
            let kept = cut.strip_suffix(TRUNCATION_MARK).unwrap_or_else(|| {
                panic!(
                    "{key} is cut without a mark: {} bytes ending in {:?}",
                    cut.len(),
                    cut.chars().last()
                )
            });
            assert!(
                payload.starts_with(kept) && kept.len() + 8 > limits::MAX_VALUE_BYTES,
                "{key} keeps the start of the value, nearly the limit of it: {} bytes",
                kept.len()
            );
        }
    }
    assert_eq!(stats.spans_received, u64::from(EXPORTS), "{stats:?}");
    assert_eq!(
        stats.strings_truncated,
        3 * u64::from(EXPORTS),
        "two attributes and an event's a span: {stats:?}"
    );
    assert!(
        stats.traces_evicted > 0,
        "200 spans of some 12 KiB each do not fit in 1 MiB: {stats:?}"
    );
    assert_eq!(
        (
            stats.traces_evicted + stats.traces_stored,
            stats.spans_evicted,
            stats.spans_stored
        ),
        (
            u64::from(EXPORTS),
            stats.traces_evicted,
            stored.len() as u64
        ),
        "every trace is stored or evicted, one span each: {stats:?}"
    );
    let kept: BTreeSet<String> = stored.iter().map(|span| span.trace_id.clone()).collect();
    let newest: BTreeSet<String> = (1..=EXPORTS)
        .rev()
        .take(stored.len())
        .map(trace_id)
        .collect();
    assert_eq!(kept, newest, "the newest traces are the ones kept");
    // The total is an estimate of memory, not a number beside it: it counts
    // at least every byte of every string held.
    let held: usize = stored
        .iter()
        .map(|span| strings(span).iter().map(|s| s.len()).sum::<usize>())
        .sum();
    assert!(
        stats.bytes_stored >= held as u64,
        "{held} bytes of strings are held, {} counted",
        stats.bytes_stored
    );
}

#[tokio::test]
async fn a_trace_over_its_span_limit_keeps_exactly_the_limit_and_the_file_only_those() {
    const FULL: u8 = 7;
    const OTHER: u8 = 8;
    const PER_EXPORT: u64 = 1_050;
    // The default, said here: the figures below follow from it.
    let bounds = Limits {
        max_spans_per_trace: 10_000,
        ..Limits::default()
    };
    let limit = bounds.max_spans_per_trace as u64;
    let path = scratch_file("bounded-store", "full-trace");
    let store = Arc::new(Store::open(&path, bounds).expect("a new data file"));
    let ingest = Ingest::new(&store);
    let mut rejected = Vec::new();
    for export_number in 0..10 {
        let first = export_number * PER_EXPORT + 1;
        let mut spans: Vec<Span> = (first..first + PER_EXPORT)
            .map(|id| span(FULL, id, Vec::new(), Vec::new()))
            .collect();
        spans.push(span(OTHER, export_number + 1, Vec::new(), Vec::new()));
        let answer = ingest.export(&export(Vec::new(), spans)).await;
        rejected.push(answer.partial_success.map_or(0, |p| p.rejected_spans));
    }
    // 9 exports hold 9,450 of its spans; the 10th has room for 550 more.
    assert_eq!(
        rejected,
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 500],
        "spans rejected per export"
    );
    let last = ingest
        .export(&export(
            Vec::new(),
            vec![span(FULL, 10 * PER_EXPORT + 1, Vec::new(), Vec::new())],
        ))
        .await;
    let partial = last.partial_success.expect("a rejection is told");
    assert_eq!(partial.rejected_spans, 1, "{partial:?}");
    assert!(
        partial.error_message.contains("per trace"),
        "the reason is given: {partial:?}"
    );

    let full = store.trace(&trace_id(FULL)).expect("the full trace");
    let ids: BTreeSet<u64> = full
        .iter()
        .map(|span| u64::from_str_radix(&span.span_id, 16).expect("a hex span id"))
        .collect();
    assert_eq!(
        ids,
        (1..=limit).collect::<BTreeSet<u64>>(),
        "exactly its first {limit} spans"
    );
    assert_eq!(
        store.trace(&trace_id(OTHER)).map(|spans| spans.len()),
        Some(10),
        "another trace in the same exports is whole"
    );
    let stats = store.stats();
    assert_eq!(
        (
            stats.spans_received,
            stats.spans_dropped_trace_full,
            stats.spans_stored
        ),
        (10 * (PER_EXPORT + 1) + 1, 501, limit + 10),
        "{stats:?}"
    );

    // What is appended is what was stored.
    drop(ingest);
    drop(store);
    let written: Vec<StoredSpan> = batches_in(&path).into_iter().flatten().collect();
    let written_full = written
        .iter()
        .filter(|span| span.trace_id == trace_id(FULL))
        .count();
    assert_eq!(
        (written.len(), written_full),
        (limit as usize + 10, limit as usize),
        "the data file holds the stored spans, not the dropped ones"
    );
    let reloaded = Store::open(&path, bounds).expect("the data file, reloaded");
    assert_eq!(
        reloaded.trace(&trace_id(FULL)).map(|spans| spans.len()),
        Some(limit as usize)
    );
    assert_eq!(
        reloaded.stats().spans_dropped_trace_full,
        0,
        "the file holds nothing past the limit"
    );
    drop(reloaded);
    std::fs::remove_file(&path).expect("the scratch file removed");
}

#[tokio::test]
async fn eviction_by_bytes_removes_whole_oldest_traces() {
    const BUDGET: usize = 128 * KIB;
    // Four spans of at most 3 KiB of text each, and well under 1 KiB of
    // the rest each.
    const TRACE_AT_MOST: usize = 16 * KIB;
    const TRACES: u8 = 120;
    let store = Arc::new(Store::new(Limits {
        max_bytes: BUDGET,
        ..Limits::default()
    }));
    let ingest = Ingest::new(&store);
    // Sizes that differ from span to span, all under the length limit.
    let sized = |trace: u8, id: u64| {
        let bytes = 1_000 + (usize::from(trace) * 37 + id as usize * 101) % 2_000;
        span(
            trace,
            id,
            vec![text("note", &"n".repeat(bytes))],
            Vec::new(),
        )
    };
    // Each trace arrives in two exports, its first half beside the previous
    // trace's second half, interleaved as concurrent requests' traces are.
    for step in 1..=TRACES + 1 {
        let mut spans = Vec::new();
        if step > 1 {
            spans.extend((3..=4).map(|id| sized(step - 1, id)));
        }
        if step <= TRACES {
            spans.extend((1..=2).map(|id| sized(step, id)));
        }
        ingest.export(&export(Vec::new(), spans)).await;

        let newest = step.min(TRACES);
        let stats = store.stats();
        assert!(
            stats.bytes_stored <= BUDGET as u64,
            "step {step}: over the budget: {stats:?}"
        );
        let stored: Vec<u8> = (1..=newest)
            .filter(|trace| store.trace(&trace_id(*trace)).is_some())
            .collect();
        let oldest = *stored.first().expect("the newest trace at least");
        assert_eq!(
            stored,
            (oldest..=newest).collect::<Vec<u8>>(),
            "step {step}: the oldest are gone, and only they"
        );
        for trace in stored {
            let arrived = if trace == step { 2 } else { 4 };
            assert_eq!(
                store.trace(&trace_id(trace)).map(|spans| spans.len()),
                Some(arrived),
                "step {step}: trace {trace} has every span that arrived"
            );
        }
        assert_eq!(
            (stats.traces_evicted, stats.spans_evicted),
            (u64::from(oldest - 1), 4 * u64::from(oldest - 1)),
            "step {step}: whole traces are evicted: {stats:?}"
        );
    }
    let stats = store.stats();
    assert_eq!(stats.strings_truncated, 0, "nothing was cut: {stats:?}");
    assert!(
        stats.traces_evicted > 0 && stats.spans_stored < 1_000,
        "the bytes evicted them, far under the span bound: {stats:?}"
    );
    assert!(
        stats.bytes_stored > (BUDGET - TRACE_AT_MOST) as u64,
        "eviction stops as soon as the store is within its budget: {stats:?}"
    );
}

#[tokio::test]
async fn the_newest_trace_of_huge_spans_is_answered_in_a_bounded_body() {
    const SPANS: u64 = 3;
    const ATTRIBUTES: usize = 8;
    const EXPORTS: u8 = 20;
    let store = Arc::new(Store::new(Limits::default()));
    let ingest = Ingest::new(&store);
    let ui = serve(collector::api::router(Arc::clone(&store))).await;
    let payload = "x".repeat(256 * KIB);
    for trace in 1..=EXPORTS {
        let spans = (1..=SPANS)
            .map(|id| {
                let attributes = (0..ATTRIBUTES)
                    .map(|i| text(&format!("blob.{i}"), &payload))
                    .collect();
                span(trace, id, attributes, Vec::new())
            })
            .collect();
        let resource = vec![text("host.description", &payload)];
        ingest.export(&export(resource, spans)).await;
    }

    let response = reqwest::get(format!("{ui}/api/traces?limit=1"))
        .await
        .expect("the query API answers");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("the whole answer");
    let value = limits::MAX_VALUE_BYTES as u64;
    // Each attribute at its limit, the resource's once (one process), and
    // well under 1 KiB of the rest a span (ids, times, kind, tag names) and
    // a trace. Stored whole, the answer would be over 6 MiB.
    let bound = SPANS * (ATTRIBUTES as u64 * value + 1_024) + value + 1_024;
    assert!(
        (body.len() as u64) <= bound,
        "{} bytes answered, over {bound}",
        body.len()
    );
    assert!(
        body.len() as u64 >= SPANS * ATTRIBUTES as u64 * (value - 8),
        "{} bytes answered: the cut attributes are missing",
        body.len()
    );
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        answer["data"][0]["traceID"],
        trace_id(EXPORTS),
        "the newest trace"
    );
    assert_eq!(
        answer["data"][0]["spans"].as_array().map(Vec::len),
        Some(SPANS as usize),
        "the newest trace's spans"
    );
}

#[tokio::test]
async fn the_data_file_holds_spans_as_trimmed_and_reloads_them_alike() {
    let path = scratch_file("bounded-store", "trimmed");
    let store = Arc::new(Store::open(&path, Limits::default()).expect("a new data file"));
    let ingest = Ingest::new(&store);
    // 16 KiB of two-byte characters.
    let long = "é".repeat(8 * KIB);
    let many_attributes: Vec<KeyValue> = (0..limits::MAX_ATTRIBUTES + 20)
        .map(|i| {
            text(
                &format!("key.{i}"),
                if i.is_multiple_of(10) {
                    long.as_str()
                } else {
                    "short"
                },
            )
        })
        .collect();
    let many_events: Vec<Event> = (0..limits::MAX_EVENTS as u64 + 5)
        .map(|i| Event {
            time_unix_nano: i,
            name: format!("event {i}"),
            attributes: vec![text("detail", &long)],
            ..Event::default()
        })
        .collect();
    let spans = vec![
        span(1, 1, many_attributes, many_events),
        span(1, 2, vec![text("ok", "yes")], Vec::new()),
    ];
    ingest
        .export(&export(vec![text("host.description", &long)], spans))
        .await;

    let stored = store.trace(&trace_id(1)).expect("the trace");
    let stats = store.stats();
    assert_eq!(
        (
            stats.attributes_dropped,
            stats.events_dropped,
            // Every tenth of 128 attributes, 128 events, the resource's one.
            stats.strings_truncated
        ),
        (20, 5, 13 + 128 + 1),
        "{stats:?}"
    );
    assert_eq!(stored[0].attributes.len(), limits::MAX_ATTRIBUTES);
    assert_eq!(
        stored[0].events.first().map(|event| event.name.as_str()),
        Some("event 0"),
        "the first events are kept"
    );
    drop(ingest);
    drop(store);

    let batches = batches_in(&path);
    assert_eq!(
        batches,
        std::slice::from_ref(&stored),
        "the one batch, written as it was stored"
    );
    let reloaded = Store::open(&path, Limits::default()).expect("the data file, reloaded");
    assert_eq!(
        reloaded.trace(&trace_id(1)),
        Some(stored),
        "reloaded as it was"
    );
    let again = reloaded.stats();
    assert_eq!(
        (
            again.strings_truncated,
            again.attributes_dropped,
            again.events_dropped
        ),
        (0, 0, 0),
        "nothing in the file is over a limit: {again:?}"
    );
    drop(reloaded);
    std::fs::remove_file(&path).expect("the scratch file removed");
}

#[test]
fn each_kind_is_logged_at_once_then_at_most_once_an_interval() {
    const TRACES: u8 = 50;
    let store = Store::new(Limits {
        max_spans: 1,
        max_value_bytes: 16,
        ..Limits::default()
    });
    let started = Instant::now();
    let ((), logs) = logged(|| {
        for trace in 1..=TRACES {
            let attributes = vec![text("note", "longer than sixteen bytes")];
            let batch = otlp::from_otlp(export(
                Vec::new(),
                vec![span(trace, 1, attributes, Vec::new())],
            ))
            .expect("valid spans");
            store.insert(batch).expect("stored in memory");
        }
    });
    // A line a kind at once, and one more for each interval the flood took.
    let allowed = 1 + (started.elapsed().as_secs() / WARNING_INTERVAL.as_secs()) as usize;
    let evictions: Vec<&str> = logs.lines().filter(|l| l.contains("evicted")).collect();
    let cuts: Vec<&str> = logs.lines().filter(|l| l.contains("cut ")).collect();
    for (kind, found) in [("eviction", &evictions), ("cut", &cuts)] {
        assert!(
            (1..=allowed).contains(&found.len()),
            "{} {kind} lines for {TRACES} {kind}s, {allowed} allowed:\n{logs}",
            found.len()
        );
    }
    assert!(
        evictions[0].contains("evicted 1 trace (1 span) to stay within 512 MiB and 1 span"),
        "the first eviction is told as it happens: {logs}"
    );
    assert!(
        cuts[0].contains("cut 1 string longer than 16 bytes"),
        "the first cut is told as it happens: {logs}"
    );
    let stats = store.stats();
    assert_eq!(
        (stats.traces_evicted, stats.strings_truncated),
        (u64::from(TRACES) - 1, u64::from(TRACES)),
        "the counters hold what the log lines sum up: {stats:?}"
    );
}
