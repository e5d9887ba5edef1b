//! `frontend`: quotes for a number of seats, from the unit price `prices`
//! gives.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tracing::{Instrument, info_span};

use crate::Propagation;
use crate::prices::Price;

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub talk_id: u32,
    pub quantity: u64,
    pub total_cents: u64,
}

#[derive(Debug, Deserialize)]
struct Seats {
    quantity: u64,
}

struct Frontend {
    prices_url: String,
    client: reqwest::Client,
    propagation: Propagation,
}

/// The frontend, calling `prices` at `prices_url`, carrying its traces
/// across both hops with `propagation`.
pub fn app(prices_url: &str, propagation: Propagation) -> Router {
    let frontend = Frontend {
        prices_url: prices_url.trim_end_matches('/').to_owned(),
        client: reqwest::Client::new(),
        propagation,
    };
    Router::new()
        .route("/quote/{talk_id}", get(quote))
        .with_state(Arc::new(frontend))
        .layer(axum::middleware::from_fn_with_state(
            propagation,
            crate::server::trace_requests,
        ))
}

#[tracing::instrument(skip(frontend))]
async fn quote(
    State(frontend): State<Arc<Frontend>>,
    Path(talk_id): Path<u32>,
    Query(seats): Query<Seats>,
) -> Result<Json<Quote>, StatusCode> {
    let price = frontend.unit_price(talk_id).await?;
    Ok(Json(Quote {
        talk_id,
        quantity: seats.quantity,
        total_cents: price.price_cents * seats.quantity,
    }))
}

impl Frontend {
    async fn unit_price(&self, talk_id: u32) -> Result<Price, StatusCode> {
        let span = info_span!(
            "http.client",
            otel.name = "GET prices",
            otel.kind = "client",
            peer.service = "prices"
        );
        let mut request = self
            .client
            .get(format!("{}/price/{talk_id}", self.prices_url))
            .build()
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        // The span handed to `inject` is this call's client span; what the
        // headers carry is `inject`'s to decide.
        (self.propagation.inject)(&span, request.headers_mut());
        async {
            let response = self
                .client
                .execute(request)
                .await
                .map_err(|_| StatusCode::BAD_GATEWAY)?;
            if response.status() == StatusCode::NOT_FOUND {
                return Err(StatusCode::NOT_FOUND);
            }
            response
                .error_for_status()
                .map_err(|_| StatusCode::BAD_GATEWAY)?
                .json()
                .await
                .map_err(|_| StatusCode::BAD_GATEWAY)
        }
        .instrument(span)
        .await
    }
}
