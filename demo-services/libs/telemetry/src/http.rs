//! A server span for every HTTP request, continuing the caller's trace.
//!
//! ```no_run
//! # let router: axum::Router = axum::Router::new();
//! let app = router.layer(axum::middleware::from_fn(telemetry::http::trace_requests));
//! ```

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::{Instrument, field, info_span};

use crate::propagation;

/// Axum middleware: one `server` span per request, named `METHOD /route`
/// after the route template (not the raw path, so that `/talks/1` and
/// `/talks/2` are one operation), child of the caller's span when the
/// request carries a `traceparent`.
pub async fn trace_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    // ANCHOR: server_span
    let span = info_span!(
        "http.server",
        otel.name = %format!("{method} {}", route.as_deref().unwrap_or("(unmatched)")),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        url.path = %request.uri().path(),
        http.response.status_code = field::Empty,
        otel.status_code = field::Empty,
    );
    propagation::continue_from(&span, request.headers());
    // ANCHOR_END: server_span

    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        // Only 5xx marks the span failed: a 4xx is the client's mistake,
        // answered correctly (OpenTelemetry's HTTP conventions agree).
        span.record("otel.status_code", "ERROR");
    }
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "response"
        );
    });
    response
}
