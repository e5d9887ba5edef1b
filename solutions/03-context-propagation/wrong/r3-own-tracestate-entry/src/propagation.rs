//! Carrying a trace across an HTTP hop: the reference's `extract`, and an
//! `inject` that writes the sending span's `traceparent` with a `tracestate`
//! of this service's own.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::HeaderInjector;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use reference::propagation::extract;

/// Writes `span`'s context into an outgoing request's headers, then this
/// service's own entry as the request's `tracestate`.
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    TraceContextPropagator::new().inject_context(&span.context(), &mut HeaderInjector(headers));
    headers.insert(
        HeaderName::from_static("tracestate"),
        HeaderValue::from_static("lab03=frontend"),
    );
}
