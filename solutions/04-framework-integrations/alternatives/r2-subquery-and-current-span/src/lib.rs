//! Lab 04: instrument the framework, another correct design. The client
//! middleware runs the whole call inside the client span and injects the
//! context of the span current there, which is that span, and records the
//! status on it too; the talk list is one statement that reads each
//! talk's speaker with a scalar subquery instead of a join.
//!
//! The service's state, its server span and the seats lookup are the
//! reference solution's.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use http::Extensions;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::HeaderInjector;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reference::{Talks, record_status, seats_of, server_span};
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
        // Everything the call does happens inside its span: there, the
        // current span is the client span, whose context the request carries.
        async move {
            let current = Span::current();
            TraceContextPropagator::new().inject_context(
                &current.context(),
                &mut HeaderInjector(request.headers_mut()),
            );
            let response = next.run(request, extensions).await;
            if let Ok(response) = &response {
                current.record("http.response.status_code", response.status().as_u16());
            }
            response
        }
        .instrument(span)
        .await
    }
}

/// Every talk with its speaker, in one statement: each row reads its
/// speaker's name with a scalar subquery.
async fn list_talks(State(talks): State<Arc<Talks>>) -> Result<Json<Vec<Talk>>, StatusCode> {
    let rows = sqlx::query(
        "SELECT talks.id, talks.title, \
         (SELECT speakers.name FROM speakers WHERE speakers.id = talks.speaker_id) AS speaker \
         FROM talks ORDER BY talks.id",
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
