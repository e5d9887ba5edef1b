//! What the benchmarks share: realistic inputs, and reading results back.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

pub mod crisp;
pub mod estimates;
pub mod headlines;
pub mod machine;
pub mod span_costs;
pub mod spread;
pub mod throughput;
pub mod throughput_table;

/// Spans in one [`export_request`]: what a batch exporter sends at a time.
pub const SPANS_PER_REQUEST: usize = 1_000;

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// An OTLP export of [`SPANS_PER_REQUEST`] spans shaped like the shop's: 50
/// traces of 20 spans, each with a few attributes.
pub fn export_request(seed: u8) -> ExportTraceServiceRequest {
    let spans = (0..SPANS_PER_REQUEST)
        .map(|i| {
            let trace = (i / 20) as u8;
            let start = 1_795_000_000_000_000_000 + i as u64 * 1_000;
            Span {
                trace_id: [[seed, trace].as_slice(), &[7; 14]].concat(),
                span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                parent_span_id: if i % 20 == 0 {
                    Vec::new()
                } else {
                    ((i - i % 20) as u64 + 1).to_be_bytes().to_vec()
                },
                name: "POST /orders".to_owned(),
                kind: 2,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 250_000,
                attributes: vec![
                    text("http.request.method", "POST"),
                    text("http.route", "/orders"),
                    text("peer.service", "inventory"),
                ],
                ..Span::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "gateway")],
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

/// `count` traces shaped like the demo's `POST /orders` (20 to 48 spans,
/// about 30, with their real attributes and events), as the collector
/// stores them: the 30 traces recorded from a demo run in `trace-analysis`'s
/// test fixtures, again and again, each copy with its own trace id, its
/// own start, and its times stretched by a factor from 0.5 to 2 so that the
/// durations spread into a tail.
pub fn demo_traces(count: usize) -> Vec<Vec<trace_analysis::model::Span>> {
    let folder =
        demo::workspace_root().join("tools/learner/trace-analysis/tests/fixtures/crisp-orders");
    let mut recorded: Vec<trace_analysis::jaeger::Trace> = std::fs::read_dir(&folder)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", folder.display()))
        .map(|entry| {
            let path = entry.expect("a readable folder").path();
            let text = std::fs::read_to_string(&path).expect("a readable file");
            let answer: trace_analysis::jaeger::Response<Vec<trace_analysis::jaeger::Trace>> =
                serde_json::from_str(&text).expect("a recorded trace");
            answer.data.into_iter().next().expect("one trace per file")
        })
        .collect();
    recorded.sort_by(|a, b| a.trace_id.cmp(&b.trace_id));
    (0..count)
        .map(|i| {
            let stretch = 0.5 + 1.5 * ((i * 7919) % 1000) as f64 / 1000.0;
            stored(&recorded[i % recorded.len()], i, stretch)
        })
        .collect()
}

/// One recorded trace as the collector stores it, as copy number `copy`.
fn stored(
    trace: &trace_analysis::jaeger::Trace,
    copy: usize,
    stretch: f64,
) -> Vec<trace_analysis::model::Span> {
    use std::sync::Arc;
    use trace_analysis::model::{Event, Kind, Span, Status, Value};
    let value = |json: &serde_json::Value| match json {
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        other => Value::Str(other.to_string()),
    };
    let origin = trace.spans.iter().map(|s| s.start_time).min().unwrap_or(0);
    let start = 1_795_000_000_000_000 + copy as u64 * 1_000_000;
    let at = |time: u64| start + ((time - origin) as f64 * stretch) as u64;
    let resource = Arc::new(Vec::new());
    trace
        .spans
        .iter()
        .map(|span| {
            let tag = |key: &str| span.tag(key).and_then(|v| v.as_str());
            let kind = match tag("span.kind") {
                Some("server") => Kind::Server,
                Some("client") => Kind::Client,
                Some("producer") => Kind::Producer,
                Some("consumer") => Kind::Consumer,
                _ => Kind::Internal,
            };
            Span {
                trace_id: format!("{copy:032x}"),
                span_id: span.span_id.clone(),
                parent_span_id: span.references.first().map(|r| r.span_id.clone()),
                service: trace.service_of(span).to_owned(),
                name: span.operation_name.clone(),
                kind,
                start_us: at(span.start_time),
                duration_us: (span.duration as f64 * stretch) as u64,
                attributes: span
                    .tags
                    .iter()
                    .filter(|t| {
                        !matches!(t.key.as_str(), "span.kind" | "error" | "otel.status_code")
                    })
                    .map(|t| (t.key.clone(), value(&t.value)))
                    .collect(),
                events: span
                    .logs
                    .iter()
                    .map(|log| Event {
                        time_us: at(log.timestamp),
                        name: log
                            .fields
                            .iter()
                            .find(|f| f.key == "event")
                            .map_or_else(String::new, |f| value(&f.value).to_string()),
                        attributes: log
                            .fields
                            .iter()
                            .filter(|f| f.key != "event")
                            .map(|f| (f.key.clone(), value(&f.value)))
                            .collect(),
                    })
                    .collect(),
                status: if span.tag("error") == Some(&serde_json::Value::Bool(true)) {
                    Status::Error
                } else {
                    Status::Unset
                },
                links: Vec::new(),
                resource: Arc::clone(&resource),
            }
        })
        .collect()
}
