//! Carrying a trace across an HTTP hop.
//!
//! The client side *injects* its current span's context into the outgoing
//! request's headers; the server side *extracts* it and makes its own span a
//! child of it. Both use OpenTelemetry's `TraceContextPropagator`, which
//! speaks W3C Trace Context (`traceparent`, `tracestate`).

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A propagator reads and writes text by key: these adapt a `HeaderMap`.
struct Headers<'a>(&'a HeaderMap);
struct HeadersMut<'a>(&'a mut HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        // A key or value that is not a valid header is left out, not a panic.
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

/// The caller's context, from an incoming request's headers. A missing or
/// malformed `traceparent` gives an empty context: the server span then
/// starts a new trace, and the request is served all the same.
pub fn extract(headers: &HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&Headers(headers))
}

/// Writes `span`'s context into an outgoing request's headers.
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    TraceContextPropagator::new().inject_context(&span.context(), &mut HeadersMut(headers));
}
