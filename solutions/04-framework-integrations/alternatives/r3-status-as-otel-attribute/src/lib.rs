//! Lab 04, another correct design: the status as an OpenTelemetry attribute.
//!
//! The server and client spans declare no `http.response.status_code`
//! field: once a response exists, the status is set on the span's
//! OpenTelemetry side with `OpenTelemetrySpanExt::set_attribute`, as an
//! integer. A request whose caller gives up before any answer never gets
//! one. Everything else is the reference's: the service's state, the talk
//! list and the seats lookup are taken from it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use axum::routing::get;
use http::Extensions;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reference::{Talks, list_talks, seats_of};
use reqwest_middleware::{ClientBuilder, Middleware, Next};
use shop::db::Db;
use tower_http::trace::TraceLayer;
use tracing::{Instrument, Span, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use lab04_given::{Seats, Talk, open, programme, seats_app};

/// The talks service, on `db` (see [`open`]), asking the seats service at
/// `seats_url`.
pub fn app(db: Db, seats_url: String) -> Router {
    let talks = Talks {
        db,
        seats_url,
        client: ClientBuilder::new(reqwest::Client::new())
            .with(ClientSpans)
            .build(),
    };
    Router::new()
        .route("/talks", get(list_talks))
        .route("/talks/{talk_id}/seats", get(seats_of))
        .with_state(Arc::new(talks))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(server_span)
                .on_response(record_status),
        )
}

/// A request's server span: named after the route template, not the raw
/// path, with OpenTelemetry's HTTP attributes, continuing the caller's
/// trace.
fn server_span(request: &Request<Body>) -> Span {
    let method = request.method();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let span = info_span!(
        "request",
        otel.name = %route.map_or_else(|| method.to_string(), |route| format!("{method} {route}")),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        url.path = request.uri().path(),
    );
    let caller = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    // A request without a (valid) `traceparent` starts a trace of its own.
    let _ = span.set_parent(caller);
    span
}

/// The status, known once the response exists, as an integer attribute.
fn record_status(response: &Response<Body>, _latency: Duration, span: &Span) {
    span.set_attribute(
        "http.response.status_code",
        i64::from(response.status().as_u16()),
    );
}

/// A client span around each outgoing call, its context in the request's
/// `traceparent`.
struct ClientSpans;

#[async_trait::async_trait]
impl Middleware for ClientSpans {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let url = request.url();
        let span = info_span!(
            "call",
            otel.name = %request.method(),
            otel.kind = "client",
            http.request.method = %request.method(),
            url.full = %url,
            server.address = url.host_str(),
            server.port = url.port_or_known_default(),
        );
        TraceContextPropagator::new()
            .inject_context(&span.context(), &mut HeaderInjector(request.headers_mut()));
        let response = next.run(request, extensions).instrument(span.clone()).await;
        if let Ok(response) = &response {
            span.set_attribute(
                "http.response.status_code",
                i64::from(response.status().as_u16()),
            );
        }
        response
    }
}
