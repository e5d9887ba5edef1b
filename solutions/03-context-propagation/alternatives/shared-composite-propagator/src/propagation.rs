//! Carrying a trace across an HTTP hop.
//!
//! The client side *injects* its span's context into the outgoing request's
//! headers; the server side *extracts* it and makes its own span a child of
//! it. One propagator, made once and shared by both sides: W3C Trace Context
//! (`traceparent`, `tracestate`) composed with W3C Baggage, as a service
//! that carries both would configure it.

use std::sync::LazyLock;

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing_opentelemetry::OpenTelemetrySpanExt;

static PROPAGATOR: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
});

/// The caller's context, from an incoming request's headers. A missing or
/// malformed `traceparent` gives an empty context: the server span then
/// starts a new trace, and the request is served all the same.
pub fn extract(headers: &HeaderMap) -> Context {
    // Read onto an empty context, not whatever happens to be current here.
    PROPAGATOR.extract_with_context(&Context::new(), &HeaderExtractor(headers))
}

/// Writes `span`'s context into an outgoing request's headers.
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    let context = span.context();
    PROPAGATOR.inject_context(&context, &mut HeaderInjector(headers));
}
