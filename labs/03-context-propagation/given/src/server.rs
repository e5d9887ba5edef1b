//! The server side of every request: one span per request, a child of the
//! caller's span when the request says who the caller is.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::{Instrument, field, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::Propagation;

/// Axum middleware: a `server` span named after the route, continuing the
/// caller's trace (with your `extract`).
pub async fn trace_requests(
    State(propagation): State<Propagation>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", MatchedPath::as_str)
        .to_owned();
    let span = info_span!(
        "http.server",
        otel.name = %format!("{} {route}", request.method()),
        otel.kind = "server",
        http.route = route,
        http.response.status_code = field::Empty,
    );
    // An empty context leaves the span a root: a new trace starts.
    let _ = span.set_parent((propagation.extract)(request.headers()));
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}
