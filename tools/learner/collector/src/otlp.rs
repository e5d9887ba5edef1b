//! How OTLP's spans become the collector's own record
//! ([`trace_analysis::model::Span`]).
//!
//! OTLP nests spans under their resource and scope; each span is flattened
//! with what it needs from those (the service name, the resource
//! attributes), its times in microseconds like Jaeger's, its ids as
//! lowercase hex.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use trace_analysis::model::{Event, Kind, Span, Status, Value};

/// The service of a resource that names none, as OpenTelemetry's SDKs
/// name it.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// Why a batch was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum InvalidSpan {
    TraceId(usize),
    SpanId(usize),
    Times,
}

impl std::fmt::Display for InvalidSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvalidSpan::TraceId(len) => write!(f, "a trace id has {len} bytes, not 16"),
            InvalidSpan::SpanId(len) => write!(f, "a span id has {len} bytes, not 8"),
            InvalidSpan::Times => f.write_str("a span ends before it starts"),
        }
    }
}

/// Flattens an OTLP export request into spans. A malformed span (an id of
/// the wrong length, an end before its start) refuses the whole batch,
/// so that a sender learns of its bug rather than losing spans silently.
pub fn from_otlp(request: ExportTraceServiceRequest) -> Result<Vec<Span>, InvalidSpan> {
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let resource_attributes = resource_spans
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default();
        let mut service = UNKNOWN_SERVICE.to_owned();
        let mut resource = Vec::new();
        for (key, value) in attributes(resource_attributes) {
            match (key.as_str(), value) {
                ("service.name", Value::Str(name)) => service = name,
                (_, value) => resource.push((key, value)),
            }
        }
        let resource = Arc::new(resource);
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                if span.trace_id.len() != 16 {
                    return Err(InvalidSpan::TraceId(span.trace_id.len()));
                }
                if span.span_id.len() != 8 {
                    return Err(InvalidSpan::SpanId(span.span_id.len()));
                }
                if span.end_time_unix_nano < span.start_time_unix_nano {
                    return Err(InvalidSpan::Times);
                }
                let status = match span.status.map(|s| s.code) {
                    Some(code) if code == StatusCode::Error as i32 => Status::Error,
                    Some(code) if code == StatusCode::Ok as i32 => Status::Ok,
                    _ => Status::Unset,
                };
                spans.push(Span {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: (span.parent_span_id.len() == 8
                        && span.parent_span_id.iter().any(|b| *b != 0))
                    .then(|| hex(&span.parent_span_id)),
                    service: service.clone(),
                    name: span.name,
                    kind: kind(span.kind),
                    start_us: span.start_time_unix_nano / 1_000,
                    duration_us: (span.end_time_unix_nano - span.start_time_unix_nano) / 1_000,
                    attributes: attributes(span.attributes),
                    events: span
                        .events
                        .into_iter()
                        .map(|e| Event {
                            time_us: e.time_unix_nano / 1_000,
                            name: e.name,
                            attributes: attributes(e.attributes),
                        })
                        .collect(),
                    status,
                    links: span
                        .links
                        .into_iter()
                        .filter(|l| l.trace_id.len() == 16 && l.span_id.len() == 8)
                        .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                        .collect(),
                    resource: Arc::clone(&resource),
                });
            }
        }
    }
    Ok(spans)
}

fn kind(value: i32) -> Kind {
    match SpanKind::try_from(value) {
        Ok(SpanKind::Internal) => Kind::Internal,
        Ok(SpanKind::Server) => Kind::Server,
        Ok(SpanKind::Client) => Kind::Client,
        Ok(SpanKind::Producer) => Kind::Producer,
        Ok(SpanKind::Consumer) => Kind::Consumer,
        _ => Kind::Unspecified,
    }
}

fn attributes(list: Vec<KeyValue>) -> Vec<(String, Value)> {
    list.into_iter()
        .filter_map(|kv| Some((kv.key, value(kv.value?)?)))
        .collect()
}

fn value(any: AnyValue) -> Option<Value> {
    Some(match any.value? {
        any_value::Value::StringValue(s) => Value::Str(s),
        any_value::Value::BoolValue(b) => Value::Bool(b),
        any_value::Value::IntValue(i) => Value::Int(i),
        any_value::Value::DoubleValue(x) => Value::Float(x),
        any_value::Value::BytesValue(bytes) => Value::Str(hex(&bytes)),
        any_value::Value::ArrayValue(array) => {
            let items: Vec<String> = array
                .values
                .into_iter()
                .filter_map(value)
                .map(|v| v.to_string())
                .collect();
            Value::Str(format!("[{}]", items.join(", ")))
        }
        // An index into a profile's string table: meaningless in a trace.
        any_value::Value::StringValueStrindex(_) => return None,
        any_value::Value::KvlistValue(list) => {
            let items: Vec<String> = attributes(list.values)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            Value::Str(format!("{{{}}}", items.join(", ")))
        }
    })
}

/// Bytes as lowercase hex, as ids are shown.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
