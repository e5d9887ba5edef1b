//! Services under test, for the labs with services: the harness the shop's
//! system tests use too (`in_process`: each service on its own port, thread
//! and tracer, spans in memory), and its spans as the workshop's collector
//! would hold them.

pub use in_process::{Service, Spans, attr, overlap};

/// The spans as the workshop's collector would hold them, for its views:
/// the critical path, the terminal waterfall.
pub fn to_collector(spans: &Spans) -> Vec<trace_analysis::model::Span> {
    use opentelemetry::trace::{SpanId, SpanKind};
    use trace_analysis::model::{Kind, Span, Status, Value};
    let micros = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64)
    };
    spans
        .all()
        .map(|(service, span)| Span {
            trace_id: span.span_context.trace_id().to_string(),
            span_id: span.span_context.span_id().to_string(),
            parent_span_id: (span.parent_span_id != SpanId::INVALID)
                .then(|| span.parent_span_id.to_string()),
            service: service.to_owned(),
            name: span.name.to_string(),
            kind: match span.span_kind {
                SpanKind::Server => Kind::Server,
                SpanKind::Client => Kind::Client,
                SpanKind::Producer => Kind::Producer,
                SpanKind::Consumer => Kind::Consumer,
                SpanKind::Internal => Kind::Internal,
            },
            start_us: micros(span.start_time),
            duration_us: micros(span.end_time).saturating_sub(micros(span.start_time)),
            attributes: span
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), Value::Str(kv.value.to_string())))
                .collect(),
            events: Vec::new(),
            status: match span.status {
                opentelemetry::trace::Status::Error { .. } => Status::Error,
                opentelemetry::trace::Status::Ok => Status::Ok,
                opentelemetry::trace::Status::Unset => Status::Unset,
            },
            links: Vec::new(),
            resource: Default::default(),
        })
        .collect()
}
