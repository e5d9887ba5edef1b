//! The service whose spans you export: `GET /quote/{talk_id}`, with a span
//! per request and one for the price lookup inside it. Given.

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub talk_id: u32,
    pub price_cents: u64,
}

pub fn app() -> Router {
    Router::new().route("/quote/{talk_id}", get(quote))
}

#[tracing::instrument]
async fn quote(Path(talk_id): Path<u32>) -> Json<Quote> {
    Json(Quote {
        talk_id,
        price_cents: price_lookup(talk_id),
    })
}

#[tracing::instrument]
fn price_lookup(talk_id: u32) -> u64 {
    if talk_id == 8 { 12_000 } else { 4_500 }
}
