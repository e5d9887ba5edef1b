//! CPU samples linked to spans (OTLP profiles) over real HTTP: posted as a
//! service with profiling on posts them, next to its spans, and read back
//! as an operation's folded stacks and flame graphs, as one span's flame
//! graph, and on `/metrics`. An operation's samples are its own spans'
//! only, a band's its traces' only; the store keeps the newest within its
//! bound; every malformed export is refused with the reason.

#[allow(
    dead_code,
    reason = "each test binary uses a part of the shared helpers"
)]
mod common;

use std::io::Write;

use collector::limits::Limits;
use common::profiles::{ProfileExport, frames, share, widest_frame};
use common::{Collector, request, span};
use opentelemetry_proto::tonic::collector::profiles::v1development::{
    ExportProfilesServiceRequest, ExportProfilesServiceResponse,
};
use prost::Message;

const PROTOBUF: &str = "application/x-protobuf";

async fn post(
    url: &str,
    content_type: &str,
    coding: Option<&str>,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body);
    if let Some(coding) = coding {
        request = request.header("content-encoding", coding);
    }
    let response = request.send().await.expect("the collector answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("a body").to_vec())
}

/// Posts an export of samples; what the collector answered.
async fn post_samples(
    collector: &Collector,
    export: ProfileExport,
) -> ExportProfilesServiceResponse {
    let (status, body) = post(
        &format!("{}/v1development/profiles", collector.otlp),
        PROTOBUF,
        None,
        export.encoded(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    ExportProfilesServiceResponse::decode(body.as_slice()).expect("an OTLP answer, protobuf")
}

async fn post_spans(collector: &Collector, service: &str, spans: Vec<common::Span>) {
    let (status, body) = post(
        &format!("{}/v1/traces", collector.otlp),
        PROTOBUF,
        None,
        request(service, spans).encode_to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

/// A GET of the query API: its status, its content type and its body.
async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.expect("the collector answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("text"))
}

/// The folded stacks of an operation (`query` after `service=svc&`), each
/// line as its stack and its weight, sorted.
async fn folded(collector: &Collector, query: &str) -> Vec<(String, u64)> {
    let (status, content_type, text) = get(&format!(
        "{}/api/profiles/folded?service=svc&{query}",
        collector.ui
    ))
    .await;
    assert_eq!(status, 200, "{query}: {text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let mut lines: Vec<(String, u64)> = text
        .lines()
        .map(|line| {
            let (stack, weight) = line.rsplit_once(' ').expect("`stack weight`");
            (stack.to_owned(), weight.parse().expect("a whole weight"))
        })
        .collect();
    lines.sort();
    lines
}

fn lines(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut lines: Vec<(String, u64)> = expected
        .iter()
        .map(|&(stack, weight)| (stack.to_owned(), weight))
        .collect();
    lines.sort();
    lines
}

/// The collector's `/metrics`, read as a scraper reads them: a sample's
/// value by its name (and labels, as written).
async fn metric(collector: &Collector, name: &str) -> f64 {
    let (status, _, text) = get(&format!("{}/metrics", collector.ui)).await;
    assert_eq!(status, 200);
    let exposition =
        openmetrics::parse(&text).unwrap_or_else(|err| panic!("not OpenMetrics: {err}\n{text}"));
    exposition
        .samples
        .iter()
        .find(|sample| sample.name == name)
        .map(|sample| sample.value)
        .unwrap_or_else(|| panic!("{name} in\n{text}"))
}

/// Trace `trace` of `svc`: root `op1` (span 1), under it `op2` (span 2),
/// under that `op3` (span 3), each a server span.
fn three_deep(trace: u8, root_us: u64) -> Vec<common::Span> {
    vec![
        span(trace, 1, None, 0, root_us, 2),
        span(trace, 2, Some(1), 10, root_us - 10, 2),
        span(trace, 3, Some(2), 20, 30, 2),
    ]
}

#[tokio::test]
async fn an_operations_stacks_hold_its_own_spans_samples_weights_added_up() {
    let collector = common::start(1_000).await;
    post_spans(&collector, "svc", three_deep(1, 100)).await;
    post_spans(&collector, "svc", three_deep(2, 200)).await;
    // Another service's spans of the same names.
    post_spans(&collector, "other", three_deep(3, 100)).await;
    let quote = ["main", "serve", "quote"];
    let parse = ["main", "serve", "parse"];
    let answer = post_samples(
        &collector,
        ProfileExport::new("svc")
            // op2's spans, in both traces, in each shape of a sample: a
            // value, timestamps (4), neither (1).
            .sample(1, 2, &quote, 3)
            .sample(1, 2, &parse, 1)
            .sample(2, 2, &quote, 2)
            .sample_of(
                Some((vec![2; 16], vec![2; 8])),
                &parse,
                Vec::new(),
                vec![1, 2, 3, 4],
            )
            .sample_of(
                Some((vec![2; 16], vec![2; 8])),
                &quote,
                Vec::new(),
                Vec::new(),
            )
            // Its child's (op3) and its parent's (op1): theirs, not op2's.
            .sample(1, 3, &["main", "serve", "quote", "db_call"], 5)
            .sample(1, 1, &["main", "accept"], 7)
            // In no span.
            .sample_of(None, &["main", "idle"], vec![9], Vec::new()),
    )
    .await;
    post_samples(
        &collector,
        ProfileExport::new("other").sample(3, 2, &["main", "elsewhere"], 8),
    )
    .await;
    let warning = answer.partial_success.expect("the dropped sample is told");
    assert_eq!(warning.rejected_profiles, 0, "no profile is rejected");
    assert!(
        warning.error_message.starts_with("1 of 8 samples dropped"),
        "{}",
        warning.error_message
    );

    let op2 = lines(&[("main;serve;quote", 3 + 2 + 1), ("main;serve;parse", 1 + 4)]);
    assert_eq!(folded(&collector, "operation=op2").await, op2, "anywhere");
    assert_eq!(
        folded(
            &collector,
            "operation=op2&endpointService=svc&endpointOperation=op1"
        )
        .await,
        op2,
        "in the endpoint's traces"
    );
    assert_eq!(
        folded(&collector, "operation=op3").await,
        lines(&[("main;serve;quote;db_call", 5)])
    );
    assert_eq!(
        folded(
            &collector,
            "operation=op2&endpointService=other&endpointOperation=op1"
        )
        .await,
        Vec::new(),
        "another endpoint's traces hold no span of svc"
    );
    assert_eq!(
        folded(&collector, "operation=op2&end=1").await,
        Vec::new(),
        "a window with no span: every span starts in 2026"
    );

    assert_eq!(
        metric(&collector, "collector_profile_samples_received_total").await,
        9.0
    );
    assert_eq!(
        metric(&collector, "collector_profile_samples_dropped_total").await,
        1.0
    );
    assert_eq!(
        metric(&collector, "collector_profile_samples_stored").await,
        8.0
    );
    assert_eq!(
        metric(&collector, "collector_profile_samples_evicted_total").await,
        0.0
    );
    assert!(metric(&collector, "collector_profile_store_size_bytes").await > 0.0);
}

#[tokio::test]
async fn a_band_reads_the_traces_the_critical_paths_rank_into_it() {
    let collector = common::start(1_000).await;
    // Twenty traces, trace t lasting 1,000 + 10 t µs: ranks 10 to 17
    // (traces 11 to 18) are the p50 band, trace 19 the p90, trace 20 the
    // p95 and p99. Each trace's op2 span took one sample in a function of
    // its own.
    let mut export = ProfileExport::new("svc");
    for trace in 1..=20u8 {
        post_spans(
            &collector,
            "svc",
            three_deep(trace, 1_000 + 10 * u64::from(trace)),
        )
        .await;
        export = export.sample(trace, 2, &["main", &format!("trace_{trace:02}")], 1);
    }
    post_samples(&collector, export).await;
    let endpoint = "operation=op2&endpointService=svc&endpointOperation=op1";
    let in_traces = |traces: std::ops::RangeInclusive<u8>| -> Vec<(String, u64)> {
        let mut lines: Vec<(String, u64)> = traces
            .map(|trace| (format!("main;trace_{trace:02}"), 1))
            .collect();
        lines.sort();
        lines
    };
    for (band, traces) in [
        ("p50", 11..=18),
        ("p90", 19..=19),
        ("p95", 20..=20),
        ("p99", 20..=20),
        ("all", 1..=20),
    ] {
        assert_eq!(
            folded(&collector, &format!("{endpoint}&band={band}")).await,
            in_traces(traces),
            "{band}"
        );
    }
    // As many traces as the analysis counts in the band.
    let (_, _, analysis) = get(&format!(
        "{}/api/critical-paths?service=svc&operation=op1",
        collector.ui
    ))
    .await;
    let analysis: serde_json::Value = serde_json::from_str(&analysis).unwrap();
    assert_eq!(analysis["data"]["bands"][0]["traces"], 8, "{analysis}");

    let unknown_band = format!("{endpoint}&band=p100");
    for (query, reason) in [
        (
            "operation=op2&band=p99",
            "band p99 is a band of an endpoint's traces",
        ),
        (unknown_band.as_str(), "band \"p100\" is not"),
        (
            "operation=op2&endpointService=svc",
            "say both endpointService",
        ),
        (
            "endpointService=svc&endpointOperation=op1",
            "say which operation",
        ),
    ] {
        for route in ["folded", "flame.svg"] {
            let url = format!("{}/api/profiles/{route}?service=svc&{query}", collector.ui);
            let (status, _, body) = get(&url).await;
            assert_eq!(status, 400, "{url}: {body}");
            let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let said = answer["errors"][0]["msg"].as_str().unwrap_or_default();
            assert!(said.contains(reason), "{url}: {reason:?} in {body}");
        }
    }
}

#[tokio::test]
async fn a_flame_graphs_widest_frame_is_the_function_with_the_most_samples() {
    let collector = common::start(1_000).await;
    post_spans(&collector, "svc", three_deep(1, 100)).await;
    post_spans(&collector, "svc", three_deep(2, 100)).await;
    post_samples(
        &collector,
        ProfileExport::new("svc")
            .in_nanoseconds()
            .sample(1, 2, &["compute_prices", "apply_coupons"], 40_000_000)
            .sample(2, 2, &["compute_prices", "round"], 20_000_000)
            .sample(1, 2, &["parse_request"], 30_000_000)
            .sample(2, 2, &["render"], 10_000_000)
            // The child span's, much hotter, is not op2's.
            .sample(1, 3, &["hash_everything"], 900_000_000),
    )
    .await;
    let (status, content_type, svg) = get(&format!(
        "{}/api/profiles/flame.svg?service=svc&operation=op2&endpointService=svc&endpointOperation=op1&band=all",
        collector.ui
    ))
    .await;
    assert_eq!(status, 200, "{svg}");
    assert_eq!(content_type, "image/svg+xml");
    let frames = frames(&svg);
    let widest = widest_frame(&frames).unwrap_or_else(|| panic!("frames in {svg}"));
    assert!(
        widest.starts_with("compute_prices (60,000,000 ns, 60.00%)"),
        "{widest} in {frames:?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.starts_with("parse_request ") && share(f) == 30.0),
        "{frames:?}"
    );
    assert!(
        !frames.iter().any(|f| f.contains("hash_everything")),
        "the child span's samples are its own: {frames:?}"
    );

    // An operation whose spans took no sample: a picture that says so.
    let (status, content_type, svg) = get(&format!(
        "{}/api/profiles/flame.svg?service=svc&operation=op1",
        collector.ui
    ))
    .await;
    assert_eq!((status, content_type.as_str()), (200, "image/svg+xml"));
    assert!(
        svg.contains("no CPU samples in these spans") && svg.contains("PROFILE=1"),
        "{svg}"
    );
}

#[tokio::test]
async fn one_spans_flame_graph_holds_its_own_samples() {
    let collector = common::start(1_000).await;
    post_spans(&collector, "svc", three_deep(1, 100)).await;
    post_samples(
        &collector,
        ProfileExport::new("svc")
            .sample(1, 2, &["main", "quote"], 3)
            .sample(1, 3, &["main", "db_call"], 5),
    )
    .await;
    let span_graph = |span: &str| {
        format!(
            "{}/api/traces/{}/spans/{span}/flame.svg",
            collector.ui,
            "01".repeat(16)
        )
    };
    let (status, content_type, svg) = get(&span_graph(&"02".repeat(8))).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "image/svg+xml"),
        "{svg}"
    );
    let frames = frames(&svg);
    assert!(
        frames.iter().any(|f| f.starts_with("quote (3 samples")),
        "{frames:?}"
    );
    assert!(!frames.iter().any(|f| f.contains("db_call")), "{frames:?}");
    assert!(
        svg.contains("svc op2: CPU samples"),
        "titled by its span: {svg}"
    );

    let (status, _, svg) = get(&span_graph(&"01".repeat(8))).await;
    assert_eq!(status, 200);
    assert!(svg.contains("no CPU samples in these spans"), "{svg}");

    let (status, _, body) = get(&span_graph("not-a-span")).await;
    assert_eq!(status, 400);
    assert!(body.contains("is not a span id"), "{body}");
}

#[tokio::test]
async fn past_the_bound_the_newest_samples_stay_and_the_rest_are_counted() {
    const BOUND: usize = 10;
    const SENT: u8 = 25;
    let collector = common::start_within(Limits {
        max_samples: BOUND,
        ..Limits::default()
    })
    .await;
    // One sample a span, in exports of five.
    for first in (1..=SENT).step_by(5) {
        let mut export = ProfileExport::new("svc");
        for span in first..first + 5 {
            export = export.sample(1, span, &["main", &format!("f{span}")], 1);
        }
        post_samples(&collector, export).await;
    }
    for span in 1..=SENT {
        let (status, _, svg) = get(&format!(
            "{}/api/traces/{}/spans/{}/flame.svg",
            collector.ui,
            "01".repeat(16),
            format!("{span:02x}").repeat(8)
        ))
        .await;
        assert_eq!(status, 200);
        let kept = usize::from(span) > usize::from(SENT) - BOUND;
        assert_eq!(
            frames(&svg)
                .iter()
                .any(|f| f.starts_with(&format!("f{span} "))),
            kept,
            "span {span}: {svg}"
        );
    }
    assert_eq!(
        metric(&collector, "collector_profile_samples_stored").await,
        BOUND as f64
    );
    assert_eq!(
        metric(&collector, "collector_profile_samples_evicted_total").await,
        f64::from(SENT) - BOUND as f64
    );
    assert_eq!(
        metric(&collector, "collector_profile_store_limit_samples").await,
        BOUND as f64
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn every_malformed_export_is_refused_with_its_reason() {
    let collector = common::start(1_000).await;
    let url = format!("{}/v1development/profiles", collector.otlp);
    let valid = || ProfileExport::new("svc").sample(1, 2, &["main", "quote"], 3);
    let broken = |change: fn(&mut ExportProfilesServiceRequest)| {
        let mut request = valid().request();
        change(&mut request);
        request.encode_to_vec()
    };
    /// What is wrong, content type, coding, body, status, words of the reason.
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Vec<u8>,
        u16,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "garbage",
            PROTOBUF,
            None,
            b"\xff\xff\xff not protobuf".to_vec(),
            400,
            "not an OTLP protobuf profiles export",
        ),
        (
            "a stack past the table",
            PROTOBUF,
            None,
            broken(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].stack_index = 40
            }),
            400,
            "stack_index 40",
        ),
        (
            "a link past the table",
            PROTOBUF,
            None,
            broken(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].link_index = 7
            }),
            400,
            "link_index 7",
        ),
        (
            "a trace id of 5 bytes",
            PROTOBUF,
            None,
            broken(|r| {
                if let Some(dictionary) = r.dictionary.as_mut() {
                    dictionary.link_table[1].trace_id = vec![1; 5];
                }
            }),
            400,
            "trace id of 5 bytes, not 16",
        ),
        (
            "a span id of 3 bytes",
            PROTOBUF,
            None,
            broken(|r| {
                if let Some(dictionary) = r.dictionary.as_mut() {
                    dictionary.link_table[1].span_id = vec![2; 3];
                }
            }),
            400,
            "span id of 3 bytes, not 8",
        ),
        (
            "a location past the table",
            PROTOBUF,
            None,
            broken(|r| {
                if let Some(dictionary) = r.dictionary.as_mut() {
                    dictionary.stack_table[1].location_indices.push(-1);
                }
            }),
            400,
            "location index -1",
        ),
        (
            "a negative value",
            PROTOBUF,
            None,
            broken(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].values = vec![-3]
            }),
            400,
            "value is -3",
        ),
        (
            "JSON",
            "application/json",
            None,
            b"{}".to_vec(),
            415,
            "application/x-protobuf only",
        ),
        (
            "bad gzip",
            PROTOBUF,
            Some("gzip"),
            b"not gzip".to_vec(),
            400,
            "not valid gzip",
        ),
        (
            "oversized",
            PROTOBUF,
            None,
            vec![0; collector::ingest::MAX_BODY_BYTES + 1],
            413,
            "",
        ),
    ];
    for (what, content_type, coding, body, expected, reason) in cases {
        let (status, body) = post(&url, content_type, coding, body).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, expected, "{what}: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let said = answer["error"].as_str().unwrap_or_default();
        assert!(
            !said.is_empty() && said.contains(reason),
            "{what}: {reason:?} in {body}"
        );
    }
    assert_eq!(
        metric(&collector, "collector_profile_samples_received_total").await,
        0.0,
        "a refused export stores nothing"
    );
    let (status, _) = post(&url, PROTOBUF, Some("gzip"), gzip(&valid().encoded())).await;
    assert_eq!(status, 200, "gzip, as for spans");
    assert_eq!(
        metric(&collector, "collector_profile_samples_stored").await,
        1.0
    );
}
