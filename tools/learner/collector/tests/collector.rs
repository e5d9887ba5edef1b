//! The collector over real HTTP: what OpenTelemetry's own exporter sends
//! comes back in Jaeger's shape; bad payloads and bad queries get the right
//! status with a reason; critical paths are served. (The trace programs read
//! what it serves in `tools/learner/trace-tools/tests/against_a_collector.rs`.)

mod browser;
#[allow(
    dead_code,
    reason = "each test binary uses a part of the shared helpers"
)]
mod common;

use std::io::Write;

use common::{failed, request, span};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use prost::Message;
use serde_json::Value;
use trace_analysis::cpu_time::CPU_TIME_ATTRIBUTE;

/// Spans made with tracing and exported by the real OTLP exporter.
fn export_with_opentelemetry(endpoint: &str, service: &str, protocol: Protocol) {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .build()
        .expect("an exporter");
    let provider = telemetry::tracer_provider(service, Some(exporter));
    let (subscriber, _log_writers) =
        telemetry::subscriber(&telemetry::Settings::quiet(service), &provider);
    tracing::subscriber::with_default(subscriber, || {
        let server = tracing::info_span!("request", otel.name = "GET /talks", otel.kind = "server");
        server.in_scope(|| {
            let client = tracing::info_span!(
                "call",
                otel.name = "GET catalog",
                otel.kind = "client",
                otel.status_code = "ERROR"
            );
            client.in_scope(|| tracing::error!(reason = "timeout", "catalog did not answer"));
        });
    });
    provider.shutdown().expect("every span is flushed");
}

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("the collector answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_from_the_otlp_exporter_come_back_in_jaegers_shape() {
    let collector = common::start(10_000).await;
    for (service, protocol) in [
        ("shop-proto", Protocol::HttpBinary),
        ("shop-json", Protocol::HttpJson),
    ] {
        let endpoint = collector.otlp.clone();
        // The exporter blocks on HTTP: keep it off the runtime that serves it.
        tokio::task::spawn_blocking(move || {
            export_with_opentelemetry(&endpoint, service, protocol)
        })
        .await
        .unwrap();
    }
    let (_, services) = get(&format!("{}/api/services", collector.ui)).await;
    assert_eq!(
        services["data"],
        serde_json::json!(["shop-json", "shop-proto"])
    );

    for service in ["shop-proto", "shop-json"] {
        let (status, body) = get(&format!(
            "{}/api/traces?service={service}&limit=5",
            collector.ui
        ))
        .await;
        assert_eq!(status, 200);
        let traces = body["data"].as_array().unwrap();
        assert_eq!(traces.len(), 1, "{service}: one trace");
        let trace = &traces[0];
        let trace_id = trace["traceID"].as_str().unwrap();
        assert_eq!(trace_id.len(), 32);
        let spans = trace["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 2);
        let by_name = |name: &str| spans.iter().find(|s| s["operationName"] == name).unwrap();
        let (server, client) = (by_name("GET /talks"), by_name("GET catalog"));
        let tag = |span: &Value, key: &str| {
            span["tags"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["key"] == key)
                .map(|t| t["value"].clone())
        };
        assert_eq!(tag(server, "span.kind"), Some("server".into()));
        assert_eq!(tag(client, "span.kind"), Some("client".into()));
        assert_eq!(
            tag(client, "error"),
            Some(true.into()),
            "the failed span is marked"
        );
        assert_eq!(client["references"][0]["refType"], "CHILD_OF");
        assert_eq!(client["references"][0]["spanID"], server["spanID"]);
        assert!(
            server["startTime"].as_u64().unwrap() > 1_600_000_000_000_000,
            "microseconds since the epoch"
        );
        assert!(server["duration"].as_u64().unwrap() >= client["duration"].as_u64().unwrap());
        let process = &trace["processes"][server["processID"].as_str().unwrap()];
        assert_eq!(process["serviceName"], service);
        assert!(
            client["logs"][0]["fields"].as_array().unwrap().len() >= 2,
            "the event is a log"
        );

        let (status, one) = get(&format!("{}/api/traces/{trace_id}", collector.ui)).await;
        assert_eq!(status, 200);
        assert_eq!(one["data"][0]["traceID"], trace_id);
    }
}

async fn post(
    url: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.send().await.expect("the collector answers");
    (response.status().as_u16(), response.text().await.unwrap())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn payloads_are_accepted_in_every_encoding_and_refused_with_a_reason() {
    let collector = common::start(10_000).await;
    let url = format!("{}/v1/traces", collector.otlp);
    let export = request("svc", vec![span(1, 1, None, 0, 10, 2)]);
    let protobuf = export.encode_to_vec();
    let json = serde_json::to_vec(&export).unwrap();

    for (content_type, encoding, body) in [
        ("application/x-protobuf", None, protobuf.clone()),
        ("application/json", None, json.clone()),
        ("application/x-protobuf", Some("gzip"), gzip(&protobuf)),
        ("application/json; charset=utf-8", Some("gzip"), gzip(&json)),
    ] {
        let (status, body) = post(&url, content_type, encoding, body).await;
        assert_eq!(status, 200, "{content_type} {encoding:?}: {body}");
    }

    let bad_id = request(
        "svc",
        vec![common::Span {
            span_id: vec![1; 3],
            ..span(2, 1, None, 0, 1, 2)
        }],
    );
    let backwards = request("svc", vec![span(3, 1, None, 10, 5, 2)]);
    /// What is wrong, content type, content encoding, body, expected status.
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        ("no content type", "", None, protobuf.clone(), 415),
        ("text", "text/plain", None, protobuf.clone(), 415),
        (
            "unknown encoding",
            "application/x-protobuf",
            Some("br"),
            protobuf.clone(),
            415,
        ),
        (
            "garbage protobuf",
            "application/x-protobuf",
            None,
            b"\xff\xff\xff not protobuf".to_vec(),
            400,
        ),
        (
            "garbage JSON",
            "application/json",
            None,
            b"{\"resourceSpans\": 5}".to_vec(),
            400,
        ),
        (
            "bad gzip",
            "application/json",
            Some("gzip"),
            b"not gzip at all".to_vec(),
            400,
        ),
        (
            "span id of 3 bytes",
            "application/x-protobuf",
            None,
            bad_id.encode_to_vec(),
            400,
        ),
        (
            "end before start",
            "application/x-protobuf",
            None,
            backwards.encode_to_vec(),
            400,
        ),
        (
            "oversized",
            "application/x-protobuf",
            None,
            vec![0; collector::ingest::MAX_BODY_BYTES + 1],
            413,
        ),
        (
            "gzip bomb",
            "application/x-protobuf",
            Some("gzip"),
            gzip(&vec![0; collector::ingest::MAX_DECOMPRESSED_BYTES + 1]),
            413,
        ),
    ];
    for (what, content_type, encoding, body, expected) in cases {
        let (status, body) = post(&url, content_type, encoding, body).await;
        assert_eq!(status, expected, "{what}: {body}");
        let reason: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert!(
            reason["error"].as_str().is_some_and(|r| !r.is_empty()),
            "{what} gives a reason: {body}"
        );
    }
    // Refused batches store nothing.
    let (_, traces) = get(&format!("{}/api/traces", collector.ui)).await;
    assert_eq!(traces["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_queries_get_an_error_in_jaegers_shape() {
    let collector = common::start(100).await;
    for (path, expected) in [
        ("/api/traces/not-a-trace-id", 400),
        ("/api/traces/00000000000000000000000000000000", 404),
        (
            "/api/traces/00000000000000000000000000000000/critical-path",
            404,
        ),
        ("/api/traces?limit=many", 400),
        ("/api/red?service=gateway&since=yesterday", 400),
        ("/api/traces?minDuration=fast", 400),
        ("/api/traces?start=monday", 400),
        ("/api/traces?tags=error", 400),
        ("/api/critical-paths", 400),
        (
            "/api/critical-paths?service=gw&operation=op&lookback=ever",
            400,
        ),
    ] {
        let (status, body) = get(&format!("{}{path}", collector.ui)).await;
        assert_eq!(status, expected, "{path}");
        assert!(
            body["errors"][0]["msg"].as_str().is_some(),
            "{path}: {body}"
        );
    }
}

/// root 0–100: a 10–40 (with a1 15–25), b 20–90 (with b1 30–60), c 50–70.
fn known_trace() -> Vec<common::Span> {
    vec![
        span(7, 1, None, 0, 100, 2),
        span(7, 2, Some(1), 10, 40, 3),
        span(7, 3, Some(2), 15, 25, 2),
        failed(span(7, 4, Some(1), 20, 90, 3)),
        span(7, 5, Some(4), 30, 60, 2),
        span(7, 6, Some(1), 50, 70, 3),
    ]
}

#[tokio::test]
async fn the_critical_path_is_served() {
    let collector = common::start(100).await;
    let (status, _) = post(
        &format!("{}/v1/traces", collector.otlp),
        "application/x-protobuf",
        None,
        request("svc", known_trace()).encode_to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    let trace_id = "07".repeat(16);
    let (_, path) = get(&format!(
        "{}/api/traces/{trace_id}/critical-path",
        collector.ui
    ))
    .await;
    let sections: Vec<(String, u64)> = path["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["spanID"].as_str().unwrap()[..2].to_owned(),
                s["end"].as_u64().unwrap() - s["start"].as_u64().unwrap(),
            )
        })
        .collect();
    // root 90–100, b 60–90, b1 30–60, b 20–30, root 0–20 … in µs.
    assert_eq!(
        sections,
        [
            ("01".into(), 10),
            ("04".into(), 30),
            ("05".into(), 30),
            ("04".into(), 10),
            ("01".into(), 20)
        ]
    );
}

/// `count` traces of the known shape, trace ids 1.., the first one failed
/// at its root, each `i` ms longer than the one before (its span b grows).
async fn post_traces(collector: &common::Collector, count: u8) {
    for trace in 1..=count {
        let mut spans: Vec<common::Span> = known_trace()
            .into_iter()
            .map(|mut s| {
                s.trace_id = vec![trace; 16];
                s
            })
            .collect();
        let longer = u64::from(trace) * 1_000_000;
        spans[0].end_time_unix_nano += longer;
        spans[3].end_time_unix_nano += longer;
        if trace == 1 {
            spans[0] = failed(spans[0].clone());
        }
        let (status, _) = post(
            &format!("{}/v1/traces", collector.otlp),
            "application/x-protobuf",
            None,
            request("svc", spans).encode_to_vec(),
        )
        .await;
        assert_eq!(status, 200);
    }
}

fn trace_ids(answer: &Value) -> Vec<String> {
    let mut ids: Vec<String> = answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["traceID"].as_str().unwrap()[..2].to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn traces_are_searched_as_jaeger_searches_them() {
    let collector = common::start(1_000).await;
    post_traces(&collector, 4).await;
    let search = |query: &str| format!("{}/api/traces?service=svc&{query}", collector.ui);
    // Root spans (op1) last 1.1 ms, 2.1 ms, 3.1 ms and 4.1 ms.
    let (_, long) = get(&search("operation=op1&minDuration=2ms&maxDuration=3500us")).await;
    assert_eq!(trace_ids(&long), ["02", "03"]);
    // Span b failed in every trace, the root only in the first: the
    // conditions hold for one span together.
    let error = "tags=%7B%22error%22%3A%22true%22%7D";
    let (_, failed) = get(&search(error)).await;
    assert_eq!(trace_ids(&failed), ["01", "02", "03", "04"]);
    let (_, failed_root) = get(&search(&format!("operation=op1&{error}"))).await;
    assert_eq!(trace_ids(&failed_root), ["01"]);
    // Every span starts at the same fixed instant, long ago.
    let (_, recent) = get(&search("lookback=1h")).await;
    assert_eq!(trace_ids(&recent), Vec::<String>::new());
    let (_, all) = get(&search("start=1&limit=10")).await;
    assert_eq!(trace_ids(&all), ["01", "02", "03", "04"]);
}

#[tokio::test]
async fn critical_paths_across_traces_are_served() {
    let collector = common::start(1_000).await;
    post_traces(&collector, 4).await;
    let (status, answer) = get(&format!(
        "{}/api/critical-paths?service=svc&operation=op1",
        collector.ui
    ))
    .await;
    assert_eq!(status, 200, "{answer}");
    let analysis = &answer["data"];
    assert_eq!(analysis["traces"], 4);
    // Span b (op4) grows by a millisecond per trace and owns its growth,
    // beside its own 40 µs of the known trace's path: 1 + 2 + 3 + 4 ms
    // plus 4 × 40 µs.
    let op4 = analysis["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["operation"] == "op4")
        .unwrap();
    assert_eq!(op4["total_critical_path_us"], 10_000 + 4 * 40);
    assert_eq!(analysis["bands"][3]["band"], "p99");
    assert_eq!(analysis["bands"][3]["max_duration_us"], 4_100);
    // Another endpoint, or a window with nothing in it: no traces.
    let (_, other) = get(&format!(
        "{}/api/critical-paths?service=svc&operation=op4",
        collector.ui
    ))
    .await;
    assert_eq!(other["data"]["traces"], 0);
}

/// Trace 9: a root of 100 µs that records its own CPU time, 30 µs, as the
/// workshop's telemetry does, and a client span under it that records none.
fn trace_on_cpu() -> Vec<common::Span> {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    let mut root = span(9, 1, None, 0, 100, 2);
    root.attributes.push(KeyValue {
        key: CPU_TIME_ATTRIBUTE.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(30_000)),
        }),
        ..KeyValue::default()
    });
    vec![root, span(9, 2, Some(1), 10, 90, 3)]
}

#[tokio::test]
async fn a_spans_cpu_time_is_served_as_its_tag_and_beside_its_operations_critical_path() {
    let collector = common::start(100).await;
    let (status, _) = post(
        &format!("{}/v1/traces", collector.otlp),
        "application/x-protobuf",
        None,
        request("svc", trace_on_cpu()).encode_to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    let (_, trace) = get(&format!("{}/api/traces/{}", collector.ui, "09".repeat(16))).await;
    let root = trace["data"][0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["operationName"] == "op1")
        .unwrap();
    let tag = root["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == CPU_TIME_ATTRIBUTE)
        .unwrap_or_else(|| panic!("the CPU time among the root's tags: {root}"));
    assert_eq!(
        (&tag["type"], &tag["value"]),
        (&Value::from("int64"), &Value::from(30_000))
    );

    let (status, answer) = get(&format!(
        "{}/api/critical-paths?service=svc&operation=op1",
        collector.ui
    ))
    .await;
    assert_eq!(status, 200, "{answer}");
    let operations = answer["data"]["operations"].as_array().unwrap();
    let row = |operation: &str| {
        operations
            .iter()
            .find(|o| o["operation"] == operation)
            .unwrap_or_else(|| panic!("{operation} in {answer}"))
    };
    assert_eq!(row("op1")["mean_cpu_us"], 30.0);
    assert!(
        row("op2").get("mean_cpu_us").is_none(),
        "no figure where no span records one: {answer}"
    );
}
