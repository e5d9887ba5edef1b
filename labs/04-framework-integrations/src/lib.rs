//! Lab 04, instrument the framework.
//!
//! Run `just lab 4` to check your work, `just hint 4` when stuck.
//!
//! The talks service answers `GET /talks` from its database and `GET
//! /talks/{talk_id}/seats` by asking the seats service. Today its spans are
//! made by hand: a middleware of its own, a span around the call, a span
//! around each query. Replace them with what the framework, the HTTP client
//! and the database driver already know.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use shop::db::Db;
use sqlx::Row;
use tracing::{Instrument, info_span};

pub use lab04_given::{Seats, Talk, open, programme, seats_app};

struct Talks {
    db: Db,
    seats_url: String,
    // TODO(step 2): a `reqwest_middleware::ClientWithMiddleware` with a
    // `Middleware` of yours that makes the client span, as OpenTelemetry's
    // HTTP client span conventions describe it. Whose context the outgoing
    // request carries is yours to decide (README step 2).
    client: reqwest::Client,
}

/// The talks service, on `db` (see [`open`]), asking the seats service at
/// `seats_url`.
pub fn app(db: Db, seats_url: String) -> Router {
    let talks = Talks {
        db,
        seats_url,
        client: reqwest::Client::new(),
    };
    Router::new()
        .route("/talks", get(list_talks))
        .route("/talks/{talk_id}/seats", get(seats_of))
        .with_state(Arc::new(talks))
        // TODO(step 1): tower-http's `TraceLayer`, its server span what
        // OpenTelemetry's HTTP server span conventions ask for, in the
        // caller's trace. Decide where each of its values comes from and
        // when it is known (README step 1).
        .layer(middleware::from_fn(hand_made_server_span))
}

/// A span per request, made by hand: named "request", with the raw path,
/// no status, and no idea of the caller's trace.
async fn hand_made_server_span(request: Request, next: Next) -> Response {
    let span = info_span!("request", path = %request.uri().path());
    next.run(request).instrument(span).await
}

async fn list_talks(State(talks): State<Arc<Talks>>) -> Result<Json<Vec<Talk>>, StatusCode> {
    let unavailable = |_| StatusCode::SERVICE_UNAVAILABLE;
    // TODO(step 3): the driver gives each statement a span of its own. What
    // does each span made by hand here (and around the call in `seats_of`)
    // add that the server, client and database spans do not already say,
    // and what does it cost the spans under it (README step 3)?
    // TODO(step 4): read how many statements one request runs (README
    // step 4); the list must come from one statement, with the same answer.
    let rows = sqlx::query("SELECT id, title, speaker_id FROM talks ORDER BY id")
        .fetch_all(&talks.db)
        .instrument(info_span!("query", table = "talks"))
        .await
        .map_err(unavailable)?;
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let speaker_id: i64 = row.try_get(2).map_err(unavailable)?;
        let speaker: String = sqlx::query("SELECT name FROM speakers WHERE id = $1")
            .bind(speaker_id)
            .fetch_one(&talks.db)
            .instrument(info_span!("query", table = "speakers"))
            .await
            .and_then(|row| row.try_get(0))
            .map_err(unavailable)?;
        list.push(Talk {
            id: row.try_get(0).map_err(unavailable)?,
            title: row.try_get(1).map_err(unavailable)?,
            speaker,
        });
    }
    Ok(Json(list))
}

/// The seats left for a talk, from the seats service.
async fn seats_of(
    State(talks): State<Arc<Talks>>,
    Path(talk_id): Path<i64>,
) -> Result<Json<Seats>, StatusCode> {
    let response = talks
        .client
        .get(format!("{}/seats/{talk_id}", talks.seats_url))
        .send()
        .instrument(info_span!("call seats"))
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
