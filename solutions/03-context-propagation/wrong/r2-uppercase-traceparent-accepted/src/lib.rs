//! Lab 03, a wrong solution: `extract` lowers the `traceparent` header's
//! case before reading it. The learner believed hex means the same in either
//! case, so a caller writing capitals should be continued; W3C Trace Context
//! allows lower case only, and such a header must start a new trace.

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};

/// Carrying a trace across an HTTP hop.
pub mod propagation {
    use http::{HeaderMap, HeaderValue};
    use opentelemetry::Context;
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry_http::HeaderExtractor;
    use opentelemetry_sdk::propagation::TraceContextPropagator;

    pub use reference::propagation::inject;

    /// The caller's context, from an incoming request's headers. A missing or
    /// malformed `traceparent` gives an empty context: the server span then
    /// starts a new trace, and the request is served all the same.
    pub fn extract(headers: &HeaderMap) -> Context {
        // Hex digits are hex digits in either case: a caller that writes
        // its ids in capitals still names the same trace.
        let mut headers = headers.clone();
        let lowered = headers
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .map(str::to_ascii_lowercase);
        if let Some(value) = lowered.and_then(|value| HeaderValue::from_str(&value).ok()) {
            headers.insert("traceparent", value);
        }
        TraceContextPropagator::new().extract(&HeaderExtractor(&headers))
    }
}
