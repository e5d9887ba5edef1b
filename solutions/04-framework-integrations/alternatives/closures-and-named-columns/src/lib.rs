//! Lab 04, instrument the framework: another correct design. The server
//! span is made and completed by closures given to `TraceLayer` in place;
//! the client middleware records the status with `inspect`; the talk list's
//! one statement joins from the speakers' side and its columns are read by
//! name.
//!
//! The talks service answers `GET /talks` from its database and `GET
//! /talks/{talk_id}/seats` by asking the seats service. Its spans come from
//! three integration points and nowhere else: tower-http's `TraceLayer`
//! (a server span per request), a reqwest middleware (a client span per
//! call, its context in the request), and sqlx's statement log (a database
//! span per statement, made by the workshop's telemetry layer).
//!
//! The service's state and `seats_of` are the reference solution's.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use http::Extensions;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reference::{Talks, seats_of};
use reqwest_middleware::{ClientBuilder, Middleware, Next};
use shop::db::Db;
use sqlx::Row;
use tower_http::trace::TraceLayer;
use tracing::{Instrument, Span, field, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use lab04_given::{Seats, Talk, open, programme, seats_app};

/// The talks service, on `db` (see [`open`]), asking the seats service at
/// `seats_url`.
pub fn app(db: Db, seats_url: String) -> Router {
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(ClientSpans)
        .build();
    let server_spans = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<Body>| {
            let method = request.method().as_str();
            // The route template, so that every talk's requests are one
            // operation; a request no route matched has none.
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str);
            let name = match route {
                Some(route) => format!("{method} {route}"),
                None => method.to_owned(),
            };
            let span = info_span!(
                "http.server.request",
                otel.name = name,
                otel.kind = "server",
                http.request.method = method,
                http.route = route,
                url.path = request.uri().path(),
                http.response.status_code = field::Empty,
            );
            // The caller's trace, when the request names one.
            let caller = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
            if span.set_parent(caller).is_err() {
                tracing::debug!("no OpenTelemetry layer to continue the caller's trace");
            }
            span
        })
        .on_response(
            |response: &Response<Body>, _latency: Duration, span: &Span| {
                span.record(
                    "http.response.status_code",
                    i64::from(response.status().as_u16()),
                );
            },
        );
    Router::new()
        .route("/talks", get(list_talks))
        .route("/talks/{talk_id}/seats", get(seats_of))
        .with_state(Arc::new(Talks {
            db,
            seats_url,
            client,
        }))
        .layer(server_spans)
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
        let method = request.method().as_str().to_owned();
        let url = request.url();
        let span = info_span!(
            "http.client.request",
            otel.name = method.as_str(),
            otel.kind = "client",
            http.request.method = method.as_str(),
            url.full = url.as_str(),
            server.address = url.host_str(),
            server.port = url.port_or_known_default(),
            http.response.status_code = field::Empty,
        );
        let context = span.context();
        TraceContextPropagator::new()
            .inject_context(&context, &mut HeaderInjector(request.headers_mut()));
        next.run(request, extensions)
            .instrument(span.clone())
            .await
            .inspect(|response| {
                span.record(
                    "http.response.status_code",
                    i64::from(response.status().as_u16()),
                );
            })
    }
}

/// Every talk with its speaker, in one statement: the database joins.
async fn list_talks(State(talks): State<Arc<Talks>>) -> Result<Json<Vec<Talk>>, StatusCode> {
    let unavailable = |_| StatusCode::SERVICE_UNAVAILABLE;
    let rows = sqlx::query(
        "SELECT t.id AS id, t.title AS title, s.name AS speaker \
         FROM speakers s JOIN talks t ON t.speaker_id = s.id \
         ORDER BY t.id",
    )
    .fetch_all(&talks.db)
    .await
    .map_err(unavailable)?;
    let mut list = Vec::with_capacity(rows.len());
    for row in &rows {
        list.push(Talk {
            id: row.try_get("id").map_err(unavailable)?,
            title: row.try_get("title").map_err(unavailable)?,
            speaker: row.try_get("speaker").map_err(unavailable)?,
        });
    }
    Ok(Json(list))
}
