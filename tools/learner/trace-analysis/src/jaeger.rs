//! Jaeger's HTTP JSON shape, so that tools that read Jaeger read us.
//!
//! `{"data": [{"traceID", "spans": [...], "processes": {...}}]}`, times in
//! microseconds, the span kind in the `span.kind` tag, an error as the
//! `error` tag. A consumer span whose parent is a producer refers to it as
//! `FOLLOWS_FROM` (it does not block its parent: [`span_view::reference`]),
//! and OTLP links become `FOLLOWS_FROM` references too.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::cpu_time::{self, CPU_TIME_ATTRIBUTE};
use crate::critical_path;
use crate::model::{Kind, Span, Status, Value};
use crate::span_view::{self, SpanView};

/// The envelope of every answer: `{"data": …}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Response<T> {
    pub data: T,
    #[serde(default)]
    pub total: usize,
    #[serde(default)]
    pub limit: usize,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub errors: Option<Vec<ErrorEntry>>,
}

impl<T> Response<T> {
    pub fn new(data: T, total: usize) -> Self {
        Self {
            data,
            total,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorEntry {
    pub code: u16,
    pub msg: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trace {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    pub spans: Vec<JaegerSpan>,
    pub processes: BTreeMap<String, Process>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JaegerSpan {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
    pub operation_name: String,
    #[serde(default)]
    pub references: Vec<Reference>,
    pub start_time: u64,
    pub duration: u64,
    #[serde(rename = "processID", default)]
    pub process_id: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub logs: Vec<Log>,
    #[serde(default)]
    pub flags: u32,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

impl JaegerSpan {
    pub fn tag(&self, key: &str) -> Option<&Json> {
        self.tags.iter().find(|t| t.key == key).map(|t| &t.value)
    }

    /// The span's own time on a CPU, in nanoseconds, where its telemetry
    /// recorded it ([`CPU_TIME_ATTRIBUTE`], a number or its text); `None`
    /// where it did not.
    pub fn cpu_time_ns(&self) -> Option<u64> {
        self.tag(CPU_TIME_ATTRIBUTE)
            .and_then(cpu_time::nanos_of_json)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefType {
    ChildOf,
    FollowsFrom,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "refType")]
    pub ref_type: RefType,
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    pub value: Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Log {
    pub timestamp: u64,
    pub fields: Vec<Tag>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    pub service_name: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A resource's attributes, as every span of one export shares them.
type ResourceAttributes = Vec<(String, Value)>;

fn tag(key: &str, value: &Value) -> Tag {
    let (kind, json) = match value {
        Value::Bool(b) => ("bool", Json::from(*b)),
        Value::Int(i) => ("int64", Json::from(*i)),
        Value::Float(x) => ("float64", Json::from(*x)),
        Value::Str(s) => ("string", Json::from(s.as_str())),
    };
    Tag {
        key: key.to_owned(),
        kind: kind.to_owned(),
        value: json,
    }
}

/// One trace's spans in Jaeger's shape, spans in start order.
pub fn trace(spans: &[Span]) -> Trace {
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut ordered: Vec<&Span> = spans.iter().collect();
    ordered.sort_by_key(|s| (s.start_us, std::cmp::Reverse(s.duration_us)));
    let mut processes = Processes::default();
    let jaeger_spans = ordered
        .into_iter()
        .map(|span| {
            let process_id = processes.id_of(span);
            let parent_kind =
                |parent: &str| by_id.get(parent).map_or(Kind::Unspecified, |p| p.kind);
            jaeger_span(span, process_id, parent_kind)
        })
        .collect();
    Trace {
        trace_id: spans
            .first()
            .map(|s| s.trace_id.clone())
            .unwrap_or_default(),
        spans: jaeger_spans,
        processes: processes.by_id,
        warnings: None,
    }
}

/// The processes of one trace: one per distinct (service, resource), as
/// Jaeger has them, numbered `p1`, `p2`… in the order spans name them.
#[derive(Default)]
struct Processes<'a> {
    by_id: BTreeMap<String, Process>,
    by_resource: HashMap<(&'a str, String), String>,
    /// The spans of one export share their resource: it is written out as
    /// a key once per export, not once per span (a large resource on
    /// thousands of spans was formatted thousands of times).
    by_shared_resource: HashMap<(&'a str, *const ResourceAttributes), String>,
}

impl<'a> Processes<'a> {
    fn id_of(&mut self, span: &'a Span) -> String {
        let shared = (span.service.as_str(), Arc::as_ptr(&span.resource));
        if let Some(process_id) = self.by_shared_resource.get(&shared) {
            return process_id.clone();
        }
        let resource_key = format!("{:?}", span.resource);
        let next = self.by_resource.len() + 1;
        let by_id = &mut self.by_id;
        let process_id = self
            .by_resource
            .entry((span.service.as_str(), resource_key))
            .or_insert_with(|| {
                let process_id = format!("p{next}");
                by_id.insert(
                    process_id.clone(),
                    Process {
                        service_name: span.service.clone(),
                        tags: span.resource.iter().map(|(k, v)| tag(k, v)).collect(),
                    },
                );
                process_id
            })
            .clone();
        self.by_shared_resource.insert(shared, process_id.clone());
        process_id
    }
}

/// A stored span in Jaeger's shape: its parent a reference whose type
/// follows the span kinds (`parent_kind` tells the parent's), its links
/// `FOLLOWS_FROM`, its kind and error as tags, its events as logs.
fn jaeger_span(span: &Span, process_id: String, parent_kind: impl Fn(&str) -> Kind) -> JaegerSpan {
    let mut references = Vec::new();
    if let Some(parent) = &span.parent_span_id {
        references.push(Reference {
            ref_type: span_view::reference(None, span.kind, parent_kind(parent)),
            trace_id: span.trace_id.clone(),
            span_id: parent.clone(),
        });
    }
    references.extend(span.links.iter().map(|(trace_id, span_id)| Reference {
        ref_type: RefType::FollowsFrom,
        trace_id: trace_id.clone(),
        span_id: span_id.clone(),
    }));
    let mut tags: Vec<Tag> = span.attributes.iter().map(|(k, v)| tag(k, v)).collect();
    tags.push(tag("span.kind", &Value::Str(span.kind.as_str().to_owned())));
    if span.status == Status::Error {
        tags.push(tag("error", &Value::Bool(true)));
        tags.push(tag("otel.status_code", &Value::Str("ERROR".to_owned())));
    }
    let logs = span
        .events
        .iter()
        .map(|e| {
            let mut fields = vec![tag("event", &Value::Str(e.name.clone()))];
            fields.extend(e.attributes.iter().map(|(k, v)| tag(k, v)));
            Log {
                timestamp: e.time_us,
                fields,
            }
        })
        .collect();
    JaegerSpan {
        trace_id: span.trace_id.clone(),
        span_id: span.span_id.clone(),
        operation_name: span.name.clone(),
        references,
        start_time: span.start_us,
        duration: span.duration_us,
        process_id,
        tags,
        logs,
        flags: 1,
        warnings: None,
    }
}

impl Trace {
    pub fn service_of(&self, span: &JaegerSpan) -> &str {
        self.processes
            .get(&span.process_id)
            .map_or("unknown", |p| p.service_name.as_str())
    }

    /// The span without a parent in this trace that starts first (then
    /// the longest): the one the critical path starts from
    /// ([`critical_path::root`]).
    pub fn root(&self) -> Option<&JaegerSpan> {
        critical_path::root(&critical_path::timings(&self.views())).map(|root| &self.spans[root])
    }

    /// Each span as the timing analyses read it ([`SpanView`]): its parent
    /// is its first reference, of the type that reference states.
    pub fn views(&self) -> Vec<SpanView<'_>> {
        self.spans
            .iter()
            .map(|span| SpanView {
                span_id: &span.span_id,
                parent: span
                    .references
                    .first()
                    .map(|reference| (reference.span_id.as_str(), Some(reference.ref_type))),
                kind: span
                    .tag("span.kind")
                    .and_then(Json::as_str)
                    .map_or(Kind::Unspecified, Kind::from_tag),
                start_us: span.start_time,
                end_us: span.start_time + span.duration,
                service: self.service_of(span),
                operation: &span.operation_name,
                cpu_time_ns: span.cpu_time_ns(),
            })
            .collect()
    }

    /// From the first start to the last end.
    pub fn duration(&self) -> u64 {
        let start = self.spans.iter().map(|s| s.start_time).min().unwrap_or(0);
        let end = self
            .spans
            .iter()
            .map(|s| s.start_time + s.duration)
            .max()
            .unwrap_or(0);
        end - start
    }

    pub fn errors(&self) -> usize {
        self.spans
            .iter()
            .filter(|s| s.tag("error") == Some(&Json::Bool(true)))
            .count()
    }
}

/// A span for the unit tests: `id` in trace `t`, named `operation`, in
/// process `process_id`, a child of `parent`, from `start` to `end` µs.
#[cfg(test)]
pub(crate) fn test_span(
    id: &str,
    parent: Option<&str>,
    process_id: &str,
    operation: &str,
    start: u64,
    end: u64,
) -> JaegerSpan {
    JaegerSpan {
        trace_id: "t".to_owned(),
        span_id: id.to_owned(),
        operation_name: operation.to_owned(),
        references: parent
            .map(|p| Reference {
                ref_type: RefType::ChildOf,
                trace_id: "t".to_owned(),
                span_id: p.to_owned(),
            })
            .into_iter()
            .collect(),
        start_time: start,
        duration: end - start,
        process_id: process_id.to_owned(),
        tags: Vec::new(),
        logs: Vec::new(),
        flags: 1,
        warnings: None,
    }
}

/// A trace for the unit tests: `id`, of `spans` (made by [`test_span`]),
/// each span's process a service of the same name.
#[cfg(test)]
pub(crate) fn test_trace(id: &str, spans: Vec<JaegerSpan>) -> Trace {
    let processes: BTreeMap<String, Process> = spans
        .iter()
        .map(|s| {
            (
                s.process_id.clone(),
                Process {
                    service_name: s.process_id.clone(),
                    tags: Vec::new(),
                },
            )
        })
        .collect();
    Trace {
        trace_id: id.to_owned(),
        spans,
        processes,
        warnings: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, service: &str, resource: &Arc<ResourceAttributes>) -> Span {
        Span {
            trace_id: "t".to_owned(),
            span_id: id.to_owned(),
            service: service.to_owned(),
            name: id.to_owned(),
            resource: Arc::clone(resource),
            ..Span::default()
        }
    }

    #[test]
    fn one_process_per_service_and_resource_shared_or_equal() {
        let host = |name: &str| Arc::new(vec![("host.name".to_owned(), Value::Str(name.into()))]);
        let (shared, equal, other) = (host("a"), host("a"), host("b"));
        let trace = trace(&[
            span("1", "svc", &shared),
            span("2", "svc", &shared),
            span("3", "svc", &equal),
            span("4", "svc", &other),
            span("5", "db", &shared),
        ]);
        let processes: Vec<&str> = trace.spans.iter().map(|s| s.process_id.as_str()).collect();
        assert_eq!(
            processes,
            ["p1", "p1", "p1", "p2", "p3"],
            "{:#?}",
            trace.processes
        );
        assert_eq!(trace.processes.len(), 3);
        assert_eq!(trace.processes["p3"].service_name, "db");
        assert_eq!(trace.processes["p2"].tags[0].value, "b");
    }
}
