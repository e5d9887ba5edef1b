//! Carrying a trace across an HTTP hop, through a map of strings.
//!
//! OpenTelemetry's propagators read and write any `Extractor` and
//! `Injector`, and a `HashMap<String, String>` is both. Incoming, the headers
//! the W3C propagator reads (its `fields`: `traceparent`, `tracestate`) are
//! copied into a map and the propagator judges them there; outgoing, the
//! propagator writes the sending span's context into a map, whose entries
//! become headers.

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The caller's context, from an incoming request's headers. A missing or
/// malformed `traceparent` gives an empty context: the server span then
/// starts a new trace, and the request is served all the same.
pub fn extract(headers: &HeaderMap) -> Context {
    let propagator = TraceContextPropagator::new();
    // A header's first value, as `http` gives it; one that is not text is
    // left out, as if it were missing.
    let carrier: HashMap<String, String> = propagator
        .fields()
        .filter_map(|field| {
            let value = headers.get(field)?.to_str().ok()?;
            Some((field.to_owned(), value.to_owned()))
        })
        .collect();
    propagator.extract(&carrier)
}

/// Writes `span`'s context into an outgoing request's headers.
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    for (name, value) in carrier {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
}
