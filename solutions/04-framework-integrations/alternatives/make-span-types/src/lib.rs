//! Lab 04, instrument the framework: another correct design. The server
//! span is made by types implementing tower-http's `MakeSpan` and
//! `OnResponse` instead of functions, and the spans carry other tracing
//! names (`http.server`, `http.client`) under their `otel.name`.
//!
//! The talks service answers `GET /talks` from its database and `GET
//! /talks/{talk_id}/seats` by asking the seats service. Its spans come from
//! three integration points and nowhere else: tower-http's `TraceLayer`
//! (a server span per request), a reqwest middleware (a client span per
//! call, its context in the request), and sqlx's statement log (a database
//! span per statement, made by the workshop's telemetry layer).
//!
//! The service's state and its two handlers are the reference solution's.

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
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::{Instrument, Span, field, info_span};
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
                .make_span_with(ServerSpan)
                .on_response(RecordStatus),
        )
}

/// A request's server span, continuing the caller's trace.
#[derive(Clone, Copy)]
struct ServerSpan;

impl MakeSpan<Body> for ServerSpan {
    fn make_span(&mut self, request: &Request<Body>) -> Span {
        let method = request.method();
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or_default();
        let span = info_span!(
            "http.server",
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            http.request.method = method.as_str(),
            http.route = route,
            url.path = request.uri().path(),
            http.response.status_code = field::Empty,
        );
        let headers = HeaderExtractor(request.headers());
        if span
            .set_parent(TraceContextPropagator::new().extract(&headers))
            .is_err()
        {
            tracing::debug!("no subscriber to set the parent in");
        }
        span
    }
}

#[derive(Clone, Copy)]
struct RecordStatus;

impl OnResponse<Body> for RecordStatus {
    fn on_response(self, response: &Response<Body>, _latency: Duration, span: &Span) {
        span.record("http.response.status_code", response.status().as_u16());
    }
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
            "http.client",
            otel.name = %request.method(),
            otel.kind = "client",
            http.request.method = %request.method(),
            url.full = %url,
            server.address = url.host_str(),
            server.port = url.port_or_known_default(),
            http.response.status_code = field::Empty,
        );
        TraceContextPropagator::new()
            .inject_context(&span.context(), &mut HeaderInjector(request.headers_mut()));
        let response = next.run(request, extensions).instrument(span.clone()).await;
        if let Ok(response) = &response {
            span.record("http.response.status_code", response.status().as_u16());
        }
        response
    }
}
