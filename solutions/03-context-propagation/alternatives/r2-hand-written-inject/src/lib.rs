//! Lab 03: context across services, another correct design. `inject` writes
//! the W3C headers itself, `traceparent` as `00-<trace id>-<span id>-<flags>`
//! and `tracestate` when there is one, from the sending span's
//! `SpanContext`; `extract` is the W3C propagator's, as in the reference.

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};

/// Carrying a trace across an HTTP hop.
pub mod propagation {
    use http::{HeaderMap, HeaderValue};
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    pub use reference::propagation::extract;

    /// Writes `span`'s context into an outgoing request's headers: version
    /// 00 of W3C Trace Context, its ids in lower-case hex, and only the
    /// sampled flag. A span with no valid context writes nothing.
    pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
        let context = span.context();
        let sender = context.span();
        let ids = sender.span_context();
        if !ids.is_valid() {
            return;
        }
        let flags = if ids.is_sampled() { "01" } else { "00" };
        let traceparent = format!("00-{}-{}-{flags}", ids.trace_id(), ids.span_id());
        if let Ok(value) = HeaderValue::from_str(&traceparent) {
            headers.insert("traceparent", value);
        }
        let tracestate = Some(ids.trace_state().header())
            .filter(|state| !state.is_empty())
            .and_then(|state| HeaderValue::from_str(&state).ok());
        if let Some(value) = tracestate {
            headers.insert("tracestate", value);
        }
    }
}
