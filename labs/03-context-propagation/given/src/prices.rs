//! `prices`: the unit price of each talk.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::Propagation;

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    pub talk_id: u32,
    pub price_cents: u64,
}

/// The prices service, continuing its callers' traces with `propagation`.
pub fn app(propagation: Propagation) -> Router {
    Router::new()
        .route("/price/{talk_id}", get(price))
        .layer(axum::middleware::from_fn_with_state(
            propagation,
            crate::server::trace_requests,
        ))
}

#[tracing::instrument]
async fn price(Path(talk_id): Path<u32>) -> Result<Json<Price>, StatusCode> {
    let price_cents = match talk_id {
        1..=7 => 4_500,
        8 => 12_000,
        _ => return Err(StatusCode::NOT_FOUND),
    };
    Ok(Json(Price {
        talk_id,
        price_cents,
    }))
}
