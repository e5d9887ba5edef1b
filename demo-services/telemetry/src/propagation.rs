//! W3C Trace Context across HTTP hops, with OpenTelemetry's own propagator.
//!
//! Nothing here parses a header by hand: `TraceContextPropagator` reads and
//! writes `traceparent` and `tracestate`, and rejects what the specification
//! says to reject. A missing or malformed header yields an empty context, so
//! the receiving span simply starts a new trace: never an error.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The remote parent carried by these request headers, if any.
pub fn extract(headers: &HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Writes `span`'s context into outgoing request headers.
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    TraceContextPropagator::new().inject_context(&span.context(), &mut HeaderInjector(headers));
}

/// Makes `span` a child of the remote parent in `headers`. Without a valid
/// parent there, the span stays a root: a new trace starts.
pub fn continue_from(span: &tracing::Span, headers: &HeaderMap) {
    let parent = extract(headers);
    // Only fails when the span has already started, which a span that was
    // just created has not; nothing useful to do about it in any case.
    let _ = span.set_parent(parent);
}
