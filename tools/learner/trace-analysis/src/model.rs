//! The collector's own span record.
//!
//! OTLP nests spans under their resource and scope; the collector flattens
//! each span with what it needs from those (the service name, the resource
//! attributes), in microseconds like Jaeger, with ids as lowercase hex. The
//! store keeps these, and the analyses read them through
//! [`Span::view`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cpu_time::{self, CPU_TIME_ATTRIBUTE};
use crate::span_view::SpanView;

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

    /// The span's own time on a CPU, in nanoseconds, where its telemetry
    /// recorded it ([`CPU_TIME_ATTRIBUTE`]); `None` where it did not.
    pub fn cpu_time_ns(&self) -> Option<u64> {
        self.attribute(CPU_TIME_ATTRIBUTE)
            .and_then(cpu_time::nanos_of_value)
    }

    pub fn is_error(&self) -> bool {
        self.status == Status::Error
    }

    /// The span as the timing analyses read it: its parent is OTLP's, of
    /// no stated reference type, which the kinds decide
    /// ([`crate::span_view::reference`]).
    pub fn view(&self) -> SpanView<'_> {
        SpanView {
            span_id: &self.span_id,
            parent: self.parent_span_id.as_deref().map(|id| (id, None)),
            kind: self.kind,
            start_us: self.start_us,
            end_us: self.end_us(),
            service: &self.service,
            operation: &self.name,
            cpu_time_ns: self.cpu_time_ns(),
        }
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

    /// The kind a `span.kind` tag names, in Jaeger's spelling
    /// ([`Kind::as_str`]); any other text is unspecified.
    pub fn from_tag(tag: &str) -> Kind {
        match tag {
            "internal" => Kind::Internal,
            "server" => Kind::Server,
            "client" => Kind::Client,
            "producer" => Kind::Producer,
            "consumer" => Kind::Consumer,
            _ => Kind::Unspecified,
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
