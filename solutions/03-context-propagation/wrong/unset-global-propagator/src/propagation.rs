//! Carrying a trace across an HTTP hop: the client injects its span's
//! context into the outgoing request's headers, the server extracts it.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The caller's context, from an incoming request's headers.
pub fn extract(headers: &HeaderMap) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)))
}

/// Writes `span`'s context into an outgoing request's headers.
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    let context = span.context();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(&mut *headers));
    });
}
