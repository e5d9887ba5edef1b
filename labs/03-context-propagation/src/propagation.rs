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
    // TODO(step 1): read the caller's context from the W3C `traceparent`
    // and `tracestate` headers. Where to look: the W3C propagator in
    // `opentelemetry_sdk::propagation`, the `TextMapPropagator` trait it
    // implements, and the crate `opentelemetry_http`, which adapts an
    // `http::HeaderMap` to what a propagator reads.
    Context::new()
}

/// Writes `span`'s context into an outgoing request's headers.
#[expect(
    unused_variables,
    reason = "step 2 writes `span`'s context into `headers`"
)]
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    // TODO(step 2): write `span`'s context into the headers, so that the
    // server continues this trace. Where to look: how
    // `tracing_opentelemetry::OpenTelemetrySpanExt` turns a `tracing` span
    // into an OpenTelemetry context, then the same propagator as in step 1,
    // writing this time, and `opentelemetry_http` again.
}
