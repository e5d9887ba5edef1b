//! Lab 03, a wrong solution: `inject` makes a fresh child of the sending
//! span and writes that child's context. The learner believed each outgoing
//! request needs a span id of its own in its `traceparent`; the next
//! service's span must be a child of the client span that sends, not of a
//! span that ends before the request leaves.

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};

/// Carrying a trace across an HTTP hop.
pub mod propagation {
    use http::HeaderMap;
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry_http::HeaderInjector;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    pub use reference::propagation::extract;

    /// Writes `span`'s context into an outgoing request's headers, for the
    /// hop itself: a span id of its own, under `span`.
    pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
        let hop = tracing::info_span!(parent: span, "propagate");
        TraceContextPropagator::new().inject_context(&hop.context(), &mut HeaderInjector(headers));
    }
}
