//! Carrying a trace across an HTTP hop: the client injects its span's
//! context into the outgoing request's headers, the server extracts it.

pub use reference::propagation::inject;

use std::str::FromStr;

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

/// The caller's context, from an incoming request's headers: `traceparent`
/// is `version-traceid-spanid-flags`, `tracestate` the vendors' entries.
pub fn extract(headers: &HeaderMap) -> Context {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let Some(traceparent) = header("traceparent") else {
        return Context::new();
    };
    let mut fields = traceparent.trim().split('-');
    let (Some(_version), Some(trace_id), Some(span_id), Some(flags)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Context::new();
    };
    let (Ok(trace_id), Ok(span_id), Ok(flags)) = (
        TraceId::from_hex(trace_id),
        SpanId::from_hex(span_id),
        u8::from_str_radix(flags, 16),
    ) else {
        return Context::new();
    };
    let trace_state = header("tracestate")
        .and_then(|value| TraceState::from_str(value).ok())
        .unwrap_or_default();
    let parent = SpanContext::new(trace_id, span_id, TraceFlags::new(flags), true, trace_state);
    if !parent.is_valid() {
        return Context::new();
    }
    Context::new().with_remote_span_context(parent)
}
