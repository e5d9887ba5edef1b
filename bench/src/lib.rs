//! What the benchmarks share: realistic inputs, and reading results back.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

pub mod headlines;
pub mod throughput;

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
