//! CPU samples linked to spans (OTLP profiles) over real HTTP: posted as a
//! service with profiling on posts them, next to its spans, and read back
//! as an operation's folded stacks, flame graphs and pprof profiles, as
//! one span's flame graph and profile, and on `/metrics`. An operation's
//! samples are its own spans' only, a band's its traces' only; a pprof
//! profile agrees with the folded stacks, and `go tool pprof`, the format's
//! reference reader, and speedscope, in headless Chromium, read it; the store keeps the newest within its
//! bound; every malformed export is refused with the reason.

#[allow(
    dead_code,
    reason = "each test binary uses a part of the shared helpers"
)]
mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use collector::limits::Limits;
use collector::pprof;
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
        for route in ["folded", "flame.svg", "profile.pb.gz"] {
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

/// A collector holding trace 1's three spans (`three_deep`) and samples
/// in two of them: three of `main;quote` in span 2 (op2), five of
/// `main;db_call` in its child, span 3; span 1 took none.
async fn one_trace_sampled_in_two_spans() -> common::Collector {
    let collector = common::start(1_000).await;
    post_spans(&collector, "svc", three_deep(1, 100)).await;
    post_samples(
        &collector,
        ProfileExport::new("svc")
            .sample(1, 2, &["main", "quote"], 3)
            .sample(1, 3, &["main", "db_call"], 5),
    )
    .await;
    collector
}

/// The address of one of trace 1's spans' samples, as `file`.
fn span_url(collector: &common::Collector, span: &str, file: &str) -> String {
    format!(
        "{}/api/traces/{}/spans/{span}/{file}",
        collector.ui,
        "01".repeat(16)
    )
}

#[tokio::test]
async fn one_spans_flame_graph_holds_its_own_samples() {
    let collector = one_trace_sampled_in_two_spans().await;
    let span_graph = |span: &str| span_url(&collector, span, "flame.svg");
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

/// A download of the query API: its status, its headers and its body.
async fn download(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = reqwest::get(url).await.expect("the collector answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.bytes().await.expect("a body").to_vec(),
    )
}

/// A header's value, as text.
fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// A `.pb.gz` file's profile, as a pprof reader decodes it.
fn decoded(file: &[u8]) -> pprof::Profile {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .expect("a gzip file");
    pprof::Profile::decode(bytes.as_slice()).expect("a pprof profile")
}

/// A sample of a pprof profile, read as its fields point.
#[derive(Debug)]
struct PprofSample {
    /// Its functions' names, the leaf first, as the profile lists them.
    leaf_first: Vec<String>,
    count: i64,
    cpu_ns: i64,
    /// Its labels, by key.
    trace_id: String,
    span_id: String,
}

impl PprofSample {
    /// Its stack as a folded line's: root first, `;` between.
    fn stack(&self) -> String {
        let mut root_first = self.leaf_first.clone();
        root_first.reverse();
        root_first.join(";")
    }
}

fn samples_of(profile: &pprof::Profile) -> Vec<PprofSample> {
    let text = |index: i64| profile.string_table[usize::try_from(index).unwrap()].clone();
    let function = |location_id: u64| {
        let location = profile
            .location
            .iter()
            .find(|location| location.id == location_id)
            .expect("each location id is a location's");
        let [line] = location.line.as_slice() else {
            panic!("one line a location: {location:?}");
        };
        let function = profile
            .function
            .iter()
            .find(|function| function.id == line.function_id)
            .expect("each function id is a function's");
        assert_eq!(function.system_name, function.name);
        text(function.name)
    };
    let label = |sample: &pprof::Sample, key: &str| {
        let values: Vec<String> = sample
            .label
            .iter()
            .filter(|label| text(label.key) == key)
            .map(|label| text(label.str))
            .collect();
        let [value] = values.as_slice() else {
            panic!("one {key} label a sample: {sample:?}");
        };
        value.clone()
    };
    profile
        .sample
        .iter()
        .map(|sample| {
            let [count, cpu_ns] = sample.value.as_slice() else {
                panic!("two values a sample: {sample:?}");
            };
            PprofSample {
                leaf_first: sample.location_id.iter().map(|&id| function(id)).collect(),
                count: *count,
                cpu_ns: *cpu_ns,
                trace_id: label(sample, "trace_id"),
                span_id: label(sample, "span_id"),
            }
        })
        .collect()
}

/// The profile's strings at `value_type`'s indices.
fn value_type(profile: &pprof::Profile, value_type: &pprof::ValueType) -> (String, String) {
    let text = |index: i64| profile.string_table[usize::try_from(index).unwrap()].clone();
    (text(value_type.r#type), text(value_type.unit))
}

/// The CPU time between two samples of a service: 100 samples a second.
const TEN_MS: i64 = 10_000_000;

#[tokio::test]
async fn an_operations_pprof_profile_holds_its_own_spans_samples_as_the_folded_stacks_do() {
    let collector = common::start(1_000).await;
    post_spans(&collector, "svc", three_deep(1, 100)).await;
    post_spans(&collector, "svc", three_deep(2, 200)).await;
    let quote = ["main", "serve", "quote"];
    let parse = ["main", "serve", "parse"];
    post_samples(
        &collector,
        ProfileExport::new("svc")
            .in_nanoseconds()
            .every_ns(TEN_MS)
            // op2's spans, in both traces; trace 2's quote in two samples.
            .sample(1, 2, &quote, 3 * TEN_MS)
            .sample(1, 2, &parse, TEN_MS)
            .sample(2, 2, &quote, 2 * TEN_MS)
            .sample(2, 2, &quote, TEN_MS)
            // Its child's (op3) and its parent's (op1): theirs, not op2's.
            .sample(1, 3, &["main", "serve", "quote", "db_call"], 5 * TEN_MS)
            .sample(1, 1, &["main", "accept"], 7 * TEN_MS),
    )
    .await;

    for query in [
        "operation=op2",
        "operation=op2&endpointService=svc&endpointOperation=op1&band=all",
    ] {
        let (status, headers, file) = download(&format!(
            "{}/api/profiles/profile.pb.gz?service=svc&{query}",
            collector.ui
        ))
        .await;
        assert_eq!(status, 200, "{query}: {}", String::from_utf8_lossy(&file));
        assert_eq!(header(&headers, "content-type"), "application/octet-stream");
        assert_eq!(
            header(&headers, "content-disposition"),
            "attachment; filename=\"svc-op2.pb.gz\""
        );
        assert!(headers.get("x-no-samples").is_none(), "{headers:?}");
        let profile = decoded(&file);
        assert_eq!(profile.string_table[0], "", "pprof's first string");
        let types: Vec<(String, String)> = profile
            .sample_type
            .iter()
            .map(|sample_type| value_type(&profile, sample_type))
            .collect();
        assert_eq!(
            types,
            [
                ("samples".to_owned(), "count".to_owned()),
                ("cpu".to_owned(), "nanoseconds".to_owned())
            ]
        );
        let period_type = profile.period_type.as_ref().expect("a period type");
        assert_eq!(
            value_type(&profile, period_type),
            ("cpu".to_owned(), "nanoseconds".to_owned())
        );
        assert_eq!(profile.period, TEN_MS, "the services' period, as sent");
        // Spans of op2 from 10 µs after the tests' instant (2026) to 190.
        assert_eq!(
            (profile.time_nanos, profile.duration_nanos),
            (1_795_000_000_000_010_000, 180_000)
        );

        let samples = samples_of(&profile);
        // Each sample is one span's, labelled with its ids; op2's only.
        let spans: BTreeSet<(String, String)> = samples
            .iter()
            .map(|sample| (sample.trace_id.clone(), sample.span_id.clone()))
            .collect();
        assert_eq!(
            spans,
            BTreeSet::from([
                ("01".repeat(16), "02".repeat(8)),
                ("02".repeat(16), "02".repeat(8)),
            ]),
            "{query}"
        );
        for sample in &samples {
            assert!(
                ["quote", "parse"].contains(&sample.leaf_first[0].as_str()),
                "the leaf first: {sample:?}"
            );
        }
        let trace_2_quote = samples
            .iter()
            .find(|sample| sample.trace_id == "02".repeat(16) && sample.leaf_first[0] == "quote")
            .expect("trace 2's quote");
        assert_eq!(
            (trace_2_quote.count, trace_2_quote.cpu_ns),
            (3, 3 * TEN_MS),
            "one span's samples of a stack, added up"
        );

        // Frame by frame, as many samples and as much CPU time as the
        // folded stacks of the same spans say.
        let mut by_stack: Vec<(String, u64)> = Vec::new();
        let mut counts: Vec<(String, i64)> = Vec::new();
        for sample in &samples {
            let stack = sample.stack();
            match by_stack.iter().position(|(known, _)| *known == stack) {
                Some(at) => {
                    by_stack[at].1 += u64::try_from(sample.cpu_ns).unwrap();
                    counts[at].1 += sample.count;
                }
                None => {
                    by_stack.push((stack.clone(), u64::try_from(sample.cpu_ns).unwrap()));
                    counts.push((stack, sample.count));
                }
            }
        }
        by_stack.sort();
        counts.sort();
        let folded = folded(&collector, query).await;
        assert_eq!(by_stack, folded, "{query}: CPU time by stack");
        let counted: Vec<(String, i64)> = folded
            .iter()
            .map(|(stack, cpu_ns)| (stack.clone(), i64::try_from(*cpu_ns).unwrap() / TEN_MS))
            .collect();
        assert_eq!(counts, counted, "{query}: samples by stack");
        assert_eq!(
            counted,
            [
                ("main;serve;parse".to_owned(), 1),
                ("main;serve;quote".to_owned(), 6)
            ]
        );
    }

    // No span in the window: a profile still, with no sample, and why.
    let (status, headers, file) = download(&format!(
        "{}/api/profiles/profile.pb.gz?service=svc&operation=op2&end=1",
        collector.ui
    ))
    .await;
    assert_eq!(status, 200);
    assert!(
        header(&headers, "x-no-samples")
            .starts_with("no CPU samples in these spans: no span of svc op2"),
        "{headers:?}"
    );
    let empty = decoded(&file);
    assert!(empty.sample.is_empty());
    assert_eq!(empty.sample_type.len(), 2);
    assert!(
        empty
            .comment
            .iter()
            .any(|&line| empty.string_table[usize::try_from(line).unwrap()].contains("PROFILE=1")),
        "the profile says why: {empty:?}"
    );
}

/// `go`, whose `go tool pprof` is pprof's reference reader. As with the
/// browser tests: on CI (`$CI` set) it must be there (.ci/run installs
/// Debian's golang-go); elsewhere the test says it is skipped.
fn go_or_skip() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join("go"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Go: .ci/run installs Debian's golang-go"
        );
        eprintln!("SKIPPED: no `go` here to read the pprof profile (install Debian's golang-go)");
    }
    found
}

/// `go tool pprof -raw` on `file`, with `options` first: its output.
fn pprof_raw(go: &Path, file: &Path, options: &[&str]) -> String {
    let output = Command::new(go)
        .args(["tool", "pprof", "-symbolize=none", "-raw"])
        .args(options)
        .arg(file)
        .output()
        .expect("go runs");
    assert!(
        output.status.success(),
        "go tool pprof failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("text")
}

/// What `go tool pprof -raw` prints of a profile's samples: each one's
/// count (its first value) and its leaf function. Samples are lines
/// `COUNT CPU: LOCATION…`, the leaf first; locations are lines
/// `ID: ADDRESS M=MAPPING NAME …`.
fn raw_samples(raw: &str) -> Vec<(u64, String)> {
    let (samples, rest) = raw
        .split_once("\nSamples:\n")
        .and_then(|(_, rest)| rest.split_once("\nLocations\n"))
        .unwrap_or_else(|| panic!("samples and locations in {raw}"));
    let locations: Vec<(&str, &str)> = rest
        .lines()
        .take_while(|line| !line.starts_with("Mappings"))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let id = words.next()?.strip_suffix(':')?;
            let _address = words.next()?;
            let name = words.find(|word| !word.starts_with("M="))?;
            Some((id, name))
        })
        .collect();
    samples
        .lines()
        .filter_map(|line| {
            let (values, location_ids) = line.split_once(':')?;
            let count = values.split_whitespace().next()?.parse().ok()?;
            let leaf = location_ids.split_whitespace().next()?;
            let name = locations
                .iter()
                .find(|(id, _)| *id == leaf)
                .map(|(_, name)| (*name).to_owned())
                .unwrap_or_else(|| panic!("location {leaf} in {raw}"));
            Some((count, name))
        })
        .collect()
}

/// The pprof profile of `op2` in two traces, 0a… and 0b… (ids with
/// letters, which `go tool pprof -tagfocus` reads as text: an id of digits
/// only, it reads as a number): 6 samples of `compute_prices` and 2 of
/// `parse` in 0a…, 3 of `render` in 0b…, 10 ms each.
async fn op2_profile(collector: &Collector) -> Vec<u8> {
    post_spans(collector, "svc", three_deep(0x0a, 100)).await;
    post_spans(collector, "svc", three_deep(0x0b, 200)).await;
    post_samples(
        collector,
        ProfileExport::new("svc")
            .in_nanoseconds()
            .every_ns(TEN_MS)
            .sample(0x0a, 2, &["main", "serve", "compute_prices"], 6 * TEN_MS)
            .sample(0x0a, 2, &["main", "serve", "parse"], 2 * TEN_MS)
            .sample(0x0b, 2, &["main", "serve", "render"], 3 * TEN_MS),
    )
    .await;
    let (status, _, profile) = download(&format!(
        "{}/api/profiles/profile.pb.gz?service=svc&operation=op2",
        collector.ui
    ))
    .await;
    assert_eq!(status, 200);
    profile
}

#[tokio::test]
async fn go_tool_pprof_reads_the_profile_and_narrows_it_to_a_trace() {
    let Some(go) = go_or_skip() else { return };
    let collector = common::start(1_000).await;
    let profile = op2_profile(&collector).await;
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pprof");
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    let file = scratch.join(format!("svc-op2-{}.pb.gz", std::process::id()));
    std::fs::write(&file, profile).expect("the profile written");

    let read = raw_samples(&pprof_raw(&go, &file, &[]));
    let total: u64 = read.iter().map(|(count, _)| count).sum();
    assert_eq!(total, 6 + 2 + 3, "every sample: {read:?}");
    let hottest = read
        .iter()
        .max_by_key(|(count, _)| *count)
        .expect("samples");
    assert_eq!(hottest, &(6, "compute_prices".to_owned()), "{read:?}");

    let trace = format!("trace_id={}", "0b".repeat(16));
    let in_trace = raw_samples(&pprof_raw(&go, &file, &["-tagfocus", &trace]));
    assert_eq!(in_trace, [(3, "render".to_owned())], "trace 0b… alone");
    std::fs::remove_file(&file).expect("the profile removed");
}

/// speedscope's web app: the `dist/release` folder of its npm package,
/// which `.ci/run` installs in `tools/maintainer/speedscope`. As with the
/// browser tests: on CI (`$CI` set) it must be there; elsewhere the test
/// says it is skipped.
fn speedscope_or_skip() -> Option<PathBuf> {
    let release = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../maintainer/speedscope/node_modules/speedscope/dist/release");
    if release.join("index.html").is_file() {
        return Some(release);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have speedscope: .ci/run installs it (npm ci --prefix tools/maintainer/speedscope)"
    );
    eprintln!(
        "SKIPPED: no speedscope here to read the pprof profile \
         (npm ci --prefix tools/maintainer/speedscope)"
    );
    None
}

/// What speedscope's page runs first, as served here: it says why it cannot
/// read a profile with `alert()`, which headless Chromium cannot dismiss
/// and would wait on forever; the message goes into the page instead.
const ALERT_INTO_THE_PAGE: &str = "<head><script>window.alert = message => { \
    const said = document.createElement('pre'); said.id = 'alerted'; \
    said.textContent = message; document.documentElement.appendChild(said); };</script>";

/// Serves speedscope's files from `release`, and `profile` at
/// `/profile.pb.gz`, on loopback: speedscope fetches a profile named in its
/// URL only over HTTP, and from its own origin here. Its page gets
/// [`ALERT_INTO_THE_PAGE`]. Its address.
async fn serve_speedscope(release: PathBuf, profile: Vec<u8>) -> String {
    use axum::extract::Path as UrlPath;
    use axum::http::{StatusCode, header};
    use axum::routing::get;

    let files = move |UrlPath(name): UrlPath<String>| {
        let (release, profile) = (release.clone(), profile.clone());
        async move {
            if name == "profile.pb.gz" {
                return Ok((
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    profile,
                ));
            }
            // speedscope's files only: no `/` in the name, so nothing
            // outside its folder.
            if name.contains('/') || name.starts_with('.') {
                return Err(StatusCode::NOT_FOUND);
            }
            let content_type = match name.rsplit('.').next() {
                Some("html") => "text/html",
                Some("js") => "text/javascript",
                Some("css") => "text/css",
                Some("wasm") => "application/wasm",
                _ => "application/octet-stream",
            };
            let mut bytes =
                std::fs::read(release.join(&name)).map_err(|_| StatusCode::NOT_FOUND)?;
            if name == "index.html" {
                let page =
                    String::from_utf8_lossy(&bytes).replacen("<head>", ALERT_INTO_THE_PAGE, 1);
                bytes = page.into_bytes();
            }
            Ok(([(header::CONTENT_TYPE, content_type)], bytes))
        }
    };
    let app = axum::Router::new().route("/{name}", get(files));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// The rows of speedscope's sandwich table, as it shows them: the self
/// time's share in percent, and the function's name.
fn sandwich_rows(dom: &str) -> Vec<(f64, String)> {
    // Its header is a table of its own, of `<th>` cells: only rows of three
    // `<td>` cells are the functions'.
    dom.split("<tr")
        .filter_map(|row| {
            let cells: Vec<String> = row.split("<td").skip(1).map(text_of).collect();
            let [_total, own, name] = cells.as_slice() else {
                return None;
            };
            // "60.00ms (55%)": the share between the brackets.
            let share = own.rsplit_once('(')?.1.strip_suffix("%)")?.parse().ok()?;
            Some((share, name.clone()))
        })
        .collect()
}

/// A cell's text: what lies outside its tags, up to its end.
fn text_of(cell: &str) -> String {
    let cell = cell.split("</td>").next().unwrap_or("");
    let mut text = String::new();
    let mut in_tag = true; // the cell starts inside its own `<td …>`
    for c in cell.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speedscope_reads_the_profile_as_the_collector_counted_it() {
    let Some(release) = speedscope_or_skip() else {
        return;
    };
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("speedscope");
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    let Some(browser) = chromium::Chromium::find_or_skip(scratch.join("profile")) else {
        return;
    };
    let collector = common::start(1_000).await;
    let profile = op2_profile(&collector).await;
    // The same file torn in half: speedscope must refuse it, so that a
    // table read back from the whole one is speedscope's reading of it.
    let torn = profile[..profile.len() / 2].to_vec();
    let whole = serve_speedscope(release.clone(), profile).await;
    let broken = serve_speedscope(release, torn).await;
    let page =
        |server: &str| format!("{server}/index.html#profileURL=/profile.pb.gz&view=sandwich");
    let (read, refused) = (page(&whole), page(&broken));
    let (read, refused) = tokio::task::spawn_blocking(move || {
        let dom = |url: &str| browser.dump_dom(url).expect("chromium dumps the DOM");
        (dom(&read), dom(&refused))
    })
    .await
    .expect("chromium ran");

    let rows = sandwich_rows(&read);
    let names: Vec<&str> = rows.iter().map(|(_, name)| name.as_str()).collect();
    // speedscope draws with WebGL: without it (a Chromium that cannot fall
    // back to software), its page says only that something went wrong.
    assert!(
        !read.contains("Something went wrong"),
        "speedscope's page failed to render (WebGL in headless Chromium?): {read}"
    );
    assert_eq!(
        names.get(..3),
        Some(&["compute_prices", "render", "parse"][..]),
        "the functions by their own time, as speedscope ranks them: {rows:?}"
    );
    // 6, 3 and 2 of 11 samples of 10 ms each.
    for ((share, name), expected) in rows.iter().zip([54.5, 27.3, 18.2]) {
        assert!(
            (share - expected).abs() <= 1.0,
            "{name}: {share}% of the time in speedscope, {expected}% sent: {rows:?}"
        );
    }
    assert!(
        !read.contains("id=\"alerted\""),
        "speedscope read the whole profile without complaint: {read}"
    );
    assert!(
        sandwich_rows(&refused).is_empty() && refused.contains("Unrecognized format"),
        "speedscope says it cannot read a torn profile, and shows no table: {refused}"
    );
}

#[tokio::test]
async fn one_spans_pprof_profile_holds_its_own_samples() {
    let collector = one_trace_sampled_in_two_spans().await;
    let span_profile = |span: &str| span_url(&collector, span, "profile.pb.gz");
    let (status, headers, file) = download(&span_profile(&"02".repeat(8))).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&file));
    assert_eq!(
        header(&headers, "content-disposition"),
        format!("attachment; filename=\"svc-op2-{}.pb.gz\"", "02".repeat(8))
    );
    let profile = decoded(&file);
    let samples = samples_of(&profile);
    let [sample] = samples.as_slice() else {
        panic!("one sample, op2's: {samples:?}");
    };
    assert_eq!(sample.stack(), "main;quote");
    assert_eq!(
        (sample.count, sample.cpu_ns),
        (3, 0),
        "counted, with no period sent"
    );
    assert_eq!(
        (sample.trace_id.as_str(), sample.span_id.as_str()),
        ("01".repeat(16).as_str(), "02".repeat(8).as_str())
    );
    assert_eq!(
        profile.string_table[usize::try_from(profile.default_sample_type).unwrap()],
        "samples",
        "with no CPU time known, the count is what a reader shows"
    );
    // The span's own time: 10 to 90 µs after the tests' instant.
    assert_eq!(
        (profile.time_nanos, profile.duration_nanos),
        (1_795_000_000_000_010_000, 80_000)
    );

    let (status, headers, file) = download(&span_profile(&"01".repeat(8))).await;
    assert_eq!(status, 200);
    assert!(decoded(&file).sample.is_empty());
    assert!(
        header(&headers, "x-no-samples").contains("no CPU samples in these spans"),
        "{headers:?}"
    );

    let (status, _, body) = download(&span_profile("not-a-span")).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("is not a span id"));
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
