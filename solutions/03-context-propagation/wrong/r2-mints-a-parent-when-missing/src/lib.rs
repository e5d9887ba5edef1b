//! Lab 03, a wrong solution: a request without a valid `traceparent` is
//! given a caller's context made up on the spot, with fresh ids. The learner
//! believed every server span needs a parent to join, as behind an edge
//! proxy; such a request must start a new trace, its server span a root.

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};

/// Carrying a trace across an HTTP hop.
pub mod propagation {
    use http::HeaderMap;
    use opentelemetry::Context;
    use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

    pub use reference::propagation::inject;

    /// The caller's context, from an incoming request's headers. A request
    /// that says nothing valid about its caller gets one with fresh ids, so
    /// that every server span continues some caller.
    pub fn extract(headers: &HeaderMap) -> Context {
        let caller = reference::propagation::extract(headers);
        if caller.span().span_context().is_valid() {
            return caller;
        }
        let ids = RandomIdGenerator::default();
        let edge = SpanContext::new(
            ids.new_trace_id(),
            ids.new_span_id(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        Context::new().with_remote_span_context(edge)
    }
}
