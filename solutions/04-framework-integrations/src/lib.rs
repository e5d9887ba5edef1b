//! Lab 04, instrument the framework: the reference solution.
//!
//! The talks service answers `GET /talks` from its database and `GET
//! /talks/{talk_id}/seats` by asking the seats service. Its spans come from
//! three integration points and nowhere else: tower-http's `TraceLayer`
//! (a server span per request), a reqwest middleware (a client span per
//! call, its context in the request), and sqlx's statement log (a database
//! span per statement, made by the workshop's telemetry layer).
//!
//! Its parts are public for the other designs the grader accepts
//! (`alternatives/`), which reuse those they do not change.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Path, State};
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use http::Extensions;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use shop::db::Db;
use sqlx::Row;
use tower_http::trace::TraceLayer;
use tracing::{Instrument, Span, field, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use lab04_given::{Seats, Talk, open, programme, seats_app};

/// The talks service's state: its database, where the seats service is,
/// and the client that asks it.
pub struct Talks {
    pub db: Db,
    pub seats_url: String,
    pub client: ClientWithMiddleware,
}

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
pub fn server_span(request: &Request<Body>) -> Span {
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
        http.response.status_code = field::Empty,
    );
    let caller = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    // A request without a (valid) `traceparent` starts a trace of its own.
    let _ = span.set_parent(caller);
    span
}

/// The response's status, on the server span.
pub fn record_status(response: &Response<Body>, _latency: Duration, span: &Span) {
    span.record("http.response.status_code", response.status().as_u16());
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

/// Every talk with its speaker, in one statement: the database joins.
pub async fn list_talks(State(talks): State<Arc<Talks>>) -> Result<Json<Vec<Talk>>, StatusCode> {
    let rows = sqlx::query(
        "SELECT t.id, t.title, s.name FROM talks t JOIN speakers s ON s.id = t.speaker_id \
         ORDER BY t.id",
    )
    .fetch_all(&talks.db)
    .await
    .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let talk = |row: &sqlx::any::AnyRow| -> Result<Talk, sqlx::Error> {
        Ok(Talk {
            id: row.try_get(0)?,
            title: row.try_get(1)?,
            speaker: row.try_get(2)?,
        })
    };
    rows.iter()
        .map(talk)
        .collect::<Result<_, _>>()
        .map(Json)
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)
}

/// The seats left for a talk, from the seats service.
pub async fn seats_of(
    State(talks): State<Arc<Talks>>,
    Path(talk_id): Path<i64>,
) -> Result<Json<Seats>, StatusCode> {
    let response = talks
        .client
        .get(format!("{}/seats/{talk_id}", talks.seats_url))
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Err(StatusCode::NOT_FOUND);
    }
    response
        .error_for_status()
        .map_err(|_| StatusCode::BAD_GATEWAY)?
        .json()
        .await
        .map(Json)
        .map_err(|_| StatusCode::BAD_GATEWAY)
}
