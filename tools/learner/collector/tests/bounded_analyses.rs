//! No trace stalls the collector's analyses, over real HTTP: a chain of
//! 100,000 spans, each the child of the one before, gets its critical path,
//! its endpoint's critical paths across traces and their flame graph, the
//! last two in answers of bounded size; a chain just deeper than the limit
//! is cut as the analysis says; and an analysis past its deadline is a 503
//! that says so.

use std::sync::Arc;
use std::time::Duration;

use collector::limits::Limits;
use collector::store::Store;
use serde_json::Value;
use trace_analysis::aggregate::{
    ELIDED, INNERMOST_FRAMES, MAX_CONTEXT_DEPTH, MAX_CONTEXTS, MAX_OPERATIONS, OUTERMOST_FRAMES,
};
use trace_analysis::model::Span;

/// The chains' trace, as the routes take it.
const TRACE_ID: &str = "0123456789abcdef0123456789abcdef";

/// When the chains start, in Unix µs: November 2026.
const EPOCH_US: u64 = 1_795_000_000_000_000;

/// The largest answer expected of an analysis across traces, whatever the
/// spans: five lists of at most 100 contexts of at most 64 short frames.
const BOUND_BYTES: usize = 1 << 20;

/// A trace of `depth` spans of `svc`, each the child of the one before,
/// span i named `op{i}` and lasting from i to 2·depth − i µs after
/// [`EPOCH_US`]: each owns 2 µs of the critical path (1 µs before its
/// child starts, 1 µs after it ends; the innermost, the whole of its 2 µs).
fn chain(depth: usize) -> Vec<Span> {
    (0..depth)
        .map(|i| Span {
            trace_id: TRACE_ID.to_owned(),
            span_id: format!("{i:016x}"),
            parent_span_id: i.checked_sub(1).map(|parent| format!("{parent:016x}")),
            service: "svc".to_owned(),
            name: format!("op{i}"),
            start_us: EPOCH_US + i as u64,
            duration_us: 2 * (depth - i) as u64,
            ..Span::default()
        })
        .collect()
}

/// A store holding one chain of `depth` spans, whole.
fn store_of_a_chain(depth: usize) -> Arc<Store> {
    let store = Store::new(Limits {
        max_spans_per_trace: depth,
        ..Limits::default()
    });
    store.insert(chain(depth)).expect("stored in memory");
    assert_eq!(store.span_count(), depth, "the whole chain is stored");
    Arc::new(store)
}

/// The query API on a free port of this test's runtime.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "not JSON ({err}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }
}

async fn get(url: &str) -> Answer {
    let response = reqwest::get(url).await.expect("the collector answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.bytes().await.expect("a whole body").to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

const ANALYSIS: &str = "/api/critical-paths?service=svc&operation=op0";
const FLAME_GRAPH: &str = "/api/critical-paths/flame.svg?service=svc&operation=op0";

fn path(context: &Value) -> Vec<&str> {
    context["path"]
        .as_array()
        .expect("a path")
        .iter()
        .map(|frame| frame.as_str().expect("a frame"))
        .collect()
}

#[tokio::test]
async fn a_chain_of_100_000_spans_is_analysed_through_the_api_within_bounds() {
    const DEPTH: usize = 100_000;
    let ui = serve(collector::api::router(store_of_a_chain(DEPTH))).await;

    let started = std::time::Instant::now();
    let answer = get(&format!("{ui}{ANALYSIS}")).await;
    let analysed_in = started.elapsed();
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(
        answer.body.len() < BOUND_BYTES,
        "the analysis of 100,000 spans is {} bytes, not under {BOUND_BYTES}",
        answer.body.len()
    );
    let json_bytes = answer.body.len();
    let json = answer.json();
    let analysis = &json["data"];
    assert_eq!(analysis["traces"], 1);
    assert_eq!(analysis["mean_duration_us"], 2.0 * DEPTH as f64);
    let lists = std::iter::once(analysis).chain(analysis["bands"].as_array().expect("bands"));
    for list in lists {
        let operations = list["operations"].as_array().expect("operations");
        let contexts = list["contexts"].as_array().expect("contexts");
        assert_eq!(
            (operations.len(), contexts.len()),
            (MAX_OPERATIONS, MAX_CONTEXTS),
            "each list is capped"
        );
        let deepest = contexts.iter().map(|c| path(c).len()).max();
        assert_eq!(
            deepest,
            Some(MAX_CONTEXT_DEPTH),
            "paths are cut to the limit"
        );
    }

    let started = std::time::Instant::now();
    let flame = get(&format!("{ui}{FLAME_GRAPH}")).await;
    let drawn_in = started.elapsed();
    assert_eq!(
        (flame.status, flame.content_type.as_str()),
        (200, "image/svg+xml"),
        "{}",
        String::from_utf8_lossy(&flame.body[..flame.body.len().min(500)])
    );
    assert!(
        flame.body.len() < BOUND_BYTES,
        "the flame graph of 100,000 spans is {} bytes, not under {BOUND_BYTES}",
        flame.body.len()
    );
    let flame_bytes = flame.body.len();

    // One trace's critical path is as long as the trace: each span before
    // and after its child, the innermost once.
    let started = std::time::Instant::now();
    let answer = get(&format!("{ui}/api/traces/{TRACE_ID}/critical-path")).await;
    let walked_in = started.elapsed();
    assert_eq!(answer.status, 200);
    // Figures for the record; the bounds above are what is asserted.
    eprintln!(
        "a chain of {DEPTH} spans: critical paths across traces in {analysed_in:.2?} ({} bytes), \
         the flame graph in {drawn_in:.2?} ({} bytes), the trace's own critical path in {walked_in:.2?}",
        json_bytes, flame_bytes,
    );
    let sections = answer.json()["data"].as_array().expect("sections").clone();
    assert_eq!(sections.len(), 2 * DEPTH - 1);
    let covered: u64 = sections
        .iter()
        .map(|s| s["end"].as_u64().unwrap_or(0) - s["start"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(covered, 2 * DEPTH as u64, "the sections cover the root");
}

#[tokio::test]
async fn a_chain_just_deeper_than_the_limit_is_cut_as_the_analysis_says() {
    let depth = MAX_CONTEXT_DEPTH + 6;
    let ui = serve(collector::api::router(store_of_a_chain(depth))).await;
    let answer = get(&format!("{ui}{ANALYSIS}")).await;
    assert_eq!(answer.status, 200);
    let json = answer.json();
    let contexts = json["data"]["contexts"].as_array().expect("contexts");
    assert_eq!(contexts.len(), depth, "one context a span");
    assert!(
        contexts
            .iter()
            .all(|c| c["total_critical_path_us"] == 2 && c.get("rows_summed").is_none()),
        "each has its span's 2 µs, and none sums others: {contexts:#?}"
    );
    let innermost = format!("svc op{}", depth - 1);
    let deepest = contexts
        .iter()
        .map(path)
        .find(|path| path.last() == Some(&innermost.as_str()))
        .expect("the innermost span's context");
    let frames = |range: std::ops::Range<usize>| range.map(|i| format!("svc op{i}"));
    let expected: Vec<String> = frames(0..OUTERMOST_FRAMES)
        .chain([ELIDED.to_owned()])
        .chain(frames(depth - INNERMOST_FRAMES..depth))
        .collect();
    assert_eq!(deepest, expected, "its outermost and innermost frames");
}

#[tokio::test]
async fn an_analysis_past_its_deadline_is_a_503_that_says_so() {
    let store = store_of_a_chain(10);
    let in_time = serve(collector::api::router(Arc::clone(&store))).await;
    let late = serve(collector::api::router_with_deadline(store, Duration::ZERO)).await;
    // Every query that reads the whole store, as the README lists them.
    let span = format!("/api/traces/{TRACE_ID}/spans/{:016x}", 0);
    for route in [
        ANALYSIS.to_owned(),
        FLAME_GRAPH.to_owned(),
        format!("/api/traces/{TRACE_ID}/critical-path"),
        "/api/dependencies".to_owned(),
        "/api/red".to_owned(),
        "/api/traces?service=svc".to_owned(),
        "/api/services/svc/operations".to_owned(),
        "/api/profiles/flame.svg?service=svc&operation=op0".to_owned(),
        "/api/profiles/folded?service=svc&operation=op0".to_owned(),
        "/api/profiles/profile.pb.gz?service=svc&operation=op0".to_owned(),
        format!("{span}/flame.svg"),
        format!("{span}/profile.pb.gz"),
    ] {
        let answer = get(&format!("{in_time}{route}")).await;
        assert_eq!(answer.status, 200, "{route} in time");
        let answer = get(&format!("{late}{route}")).await;
        let reason = answer.json()["errors"][0]["msg"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(answer.status, 503, "{route} past its deadline: {reason}");
        assert!(
            reason.contains("deadline"),
            "{route}: the reason names the deadline: {reason:?}"
        );
    }
}
