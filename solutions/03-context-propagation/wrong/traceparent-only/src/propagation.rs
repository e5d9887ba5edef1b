//! Carrying a trace across an HTTP hop: the client injects its span's
//! context into the outgoing request's headers, the server extracts it.

pub use reference::propagation::extract;

use http::{HeaderMap, HeaderValue};
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Writes `span`'s position in the trace into an outgoing request's
/// `traceparent` header: version, trace id, span id, flags.
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if !span_context.is_valid() {
        return;
    }
    let traceparent = format!(
        "00-{}-{}-{:02x}",
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags().to_u8()
    );
    if let Ok(value) = HeaderValue::from_str(&traceparent) {
        headers.insert("traceparent", value);
    }
}
