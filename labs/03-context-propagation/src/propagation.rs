//! Carrying a trace across an HTTP hop.
//!
//! The client side *injects* its current span's context into the outgoing
//! request's headers; the server side *extracts* it and makes its own span a
//! child of it. Both use OpenTelemetry's `TraceContextPropagator`, which
//! speaks W3C Trace Context (`traceparent`, `tracestate`).

use http::HeaderMap;
use opentelemetry::Context;

/// The caller's context, from an incoming request's headers. A missing or
/// malformed `traceparent` gives an empty context: the server span then
/// starts a new trace, and the request is served all the same.
#[expect(unused_variables, reason = "step 1 reads `headers`")]
pub fn extract(headers: &HeaderMap) -> Context {
    // TODO(step 1): read the context with `TraceContextPropagator::new()`
    // (from `opentelemetry_sdk::propagation`) and its `extract` method
    // (from the `opentelemetry::propagation::TextMapPropagator` trait). It
    // reads through an `Extractor`: `opentelemetry_http::HeaderExtractor(headers)`.
    Context::new()
}

/// Writes `span`'s context into an outgoing request's headers.
#[expect(
    unused_variables,
    reason = "step 2 writes `span`'s context into `headers`"
)]
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    // TODO(step 2): get the span's OpenTelemetry context with `span.context()`
    // (from `tracing_opentelemetry::OpenTelemetrySpanExt`), and write it with
    // the propagator's `inject_context` through an `Injector`:
    // `opentelemetry_http::HeaderInjector(headers)`.
}
