//! The collector's own span record, and how OTLP's become one.
//!
//! OTLP nests spans under their resource and scope; the collector flattens
//! each span with what it needs from those (the service name, the resource
//! attributes), in microseconds like Jaeger, with ids as lowercase hex.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub service: String,
    pub name: String,
    pub kind: Kind,
    pub start_us: u64,
    pub duration_us: u64,
    pub attributes: Vec<(String, Value)>,
    pub events: Vec<Event>,
    pub status: Status,
    /// Spans this one follows from (OTLP links).
    pub links: Vec<(String, String)>,
    /// The resource's attributes other than `service.name`, shared by every
    /// span of one export (cloning them per span was the costliest part of
    /// ingestion).
    pub resource: Arc<Vec<(String, Value)>>,
}

impl Span {
    pub fn end_us(&self) -> u64 {
        self.start_us + self.duration_us
    }

    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn is_error(&self) -> bool {
        self.status == Status::Error
    }

    /// The memory this span holds, estimated: its own struct, and each
    /// string and list it owns on the heap, by its length, plus what the
    /// allocator keeps beside each block. Not its resource, which the spans
    /// of one export share: [`Span::resource_estimated_bytes`] is counted
    /// once for them all.
    pub fn estimated_bytes(&self) -> usize {
        let events: usize = self
            .events
            .iter()
            .map(|event| heap(event.name.len()) + attributes_estimated_bytes(&event.attributes))
            .sum();
        let links: usize = self
            .links
            .iter()
            .map(|(trace_id, span_id)| heap(trace_id.len()) + heap(span_id.len()))
            .sum();
        size_of::<Span>()
            + heap(self.trace_id.len())
            + heap(self.span_id.len())
            + self.parent_span_id.as_ref().map_or(0, |id| heap(id.len()))
            + heap(self.service.len())
            + heap(self.name.len())
            + attributes_estimated_bytes(&self.attributes)
            + heap(self.events.len() * size_of::<Event>())
            + events
            + heap(self.links.len() * size_of::<(String, String)>())
            + links
    }

    /// The memory the span's resource holds, estimated as
    /// [`Span::estimated_bytes`] is: its shared block (two counts and the
    /// list) and its attributes.
    pub fn resource_estimated_bytes(&self) -> usize {
        heap(2 * size_of::<usize>() + size_of::<Vec<(String, Value)>>())
            + attributes_estimated_bytes(&self.resource)
    }
}

/// What the allocator keeps beside a block and rounds it up by, on
/// average: glibc's malloc keeps 8 bytes of header and rounds blocks to 16.
const ALLOCATION_OVERHEAD_BYTES: usize = 16;

/// A block of `len` bytes on the heap; nothing when empty, since an empty
/// `String` or `Vec` allocates nothing.
fn heap(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        len + ALLOCATION_OVERHEAD_BYTES
    }
}

fn attributes_estimated_bytes(attributes: &[(String, Value)]) -> usize {
    let owned: usize = attributes
        .iter()
        .map(|(key, value)| {
            heap(key.len())
                + match value {
                    Value::Str(text) => heap(text.len()),
                    Value::Bool(_) | Value::Int(_) | Value::Float(_) => 0,
                }
        })
        .sum();
    heap(std::mem::size_of_val(attributes)) + owned
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// OTLP's value when a span does not say.
    #[default]
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl Kind {
    /// The `span.kind` tag value Jaeger uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Unspecified | Kind::Internal => "internal",
            Kind::Server => "server",
            Kind::Client => "client",
            Kind::Producer => "producer",
            Kind::Consumer => "consumer",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Unset,
    Ok,
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time_us: u64,
    pub name: String,
    pub attributes: Vec<(String, Value)>,
}

/// An attribute value. Arrays and maps are kept as their JSON text: every
/// view of the collector shows them as text anyway.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

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
        let mut service = "unknown_service".to_owned();
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

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
