//! Carrying a trace across an HTTP hop.
//!
//! The client side *injects* a span's context into the outgoing request's
//! headers; the server side *extracts* it and makes its own span a child of
//! it. Both sides speak W3C Trace Context; README steps 1 and 2 say where
//! to look.

use http::HeaderMap;
use opentelemetry::Context;

/// The caller's context, from an incoming request's headers. Whatever the
/// headers hold, the request is served all the same.
#[expect(unused_variables, reason = "step 1 reads `headers`")]
pub fn extract(headers: &HeaderMap) -> Context {
    // TODO(step 1): read the caller's context from the headers. Decide which
    // headers make up that context, and what a missing or malformed header
    // gives (README step 1). Where to look: the W3C Trace Context
    // specification, the W3C propagator in `opentelemetry_sdk::propagation`,
    // the `TextMapPropagator` trait it implements, and the crate
    // `opentelemetry_http`, which adapts an `http::HeaderMap` to what a
    // propagator reads.
    Context::new()
}

/// Writes into an outgoing request's headers the context of the span under
/// which the called server's work belongs.
#[expect(unused_variables, reason = "step 2 uses the arguments")]
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    // TODO(step 2): write a span's context into the headers, so that the
    // server continues this trace. Which span's: the one handed to `inject`,
    // or whichever is current (README step 2)? Where to look: how
    // `tracing_opentelemetry::OpenTelemetrySpanExt` turns a `tracing` span
    // into an OpenTelemetry context, then the same propagator as in step 1,
    // writing this time, and `opentelemetry_http` again.
}
