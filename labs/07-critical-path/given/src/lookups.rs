//! The three services a checkout asks, each slow in its own way: a stock
//! count (20 ms), a price (30 ms), a loyalty discount (45 ms). Given.

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shop::{ApiError, ApiPath};

pub const STOCK_DELAY: Duration = Duration::from_millis(20);
pub const PRICE_DELAY: Duration = Duration::from_millis(30);
pub const LOYALTY_DELAY: Duration = Duration::from_millis(45);

#[derive(Debug, Serialize, Deserialize)]
pub struct Stock {
    pub talk_id: u32,
    pub available: u32,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Price {
    pub talk_id: u32,
    pub price_cents: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Loyalty {
    pub customer: String,
    pub discount_percent: u64,
}

pub fn stock_app() -> Router {
    let route = get(|ApiPath(talk_id): ApiPath<u32>| async move {
        tokio::time::sleep(STOCK_DELAY).await;
        Json(Stock {
            talk_id,
            available: 100,
        })
    });
    shop::server::with_defaults("stock", Router::new().route("/stock/{talk_id}", route))
}

pub fn prices_app() -> Router {
    let route = get(|ApiPath(talk_id): ApiPath<u32>| async move {
        tokio::time::sleep(PRICE_DELAY).await;
        Json(Price {
            talk_id,
            price_cents: if talk_id == 8 { 12_000 } else { 4_500 },
        })
    });
    shop::server::with_defaults("prices", Router::new().route("/price/{talk_id}", route))
}

/// The loyalty service; a `failing` one answers 503 to everything.
pub fn loyalty_app(failing: bool) -> Router {
    let route = get(move |ApiPath(customer): ApiPath<String>| async move {
        tokio::time::sleep(LOYALTY_DELAY).await;
        if failing {
            return Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the loyalty database is down",
            ));
        }
        Ok(Json(Loyalty {
            customer,
            discount_percent: 10,
        }))
    });
    shop::server::with_defaults("loyalty", Router::new().route("/loyalty/{customer}", route))
}
