//! Carrying a trace across an HTTP hop: the client injects its span's
//! context into the outgoing request's headers, the server extracts it.

pub use reference::propagation::extract;

use http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::HeaderInjector;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Writes the current span's context into an outgoing request's headers.
pub fn inject(_span: &tracing::Span, headers: &mut HeaderMap) {
    let current = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&current, &mut HeaderInjector(headers));
}
