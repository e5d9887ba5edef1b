//! The checkout service: `POST /checkout` with `{talk_id, quantity, customer}`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shop::{ApiError, ApiJson, Peer};

use crate::lookups::{Loyalty, Price, Stock};

/// The services a checkout asks.
pub struct Peers {
    pub stock: Peer,
    pub prices: Peer,
    pub loyalty: Peer,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Order {
    pub talk_id: u32,
    pub quantity: u32,
    pub customer: String,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub talk_id: u32,
    pub quantity: u32,
    pub total_cents: u64,
}

/// What the three lookups found.
pub struct LookedUp {
    pub stock: Stock,
    pub price: Price,
    pub loyalty: Loyalty,
}

pub fn app(peers: Peers) -> Router {
    let routes = Router::new()
        .route("/checkout", post(checkout))
        .with_state(Arc::new(peers));
    shop::server::with_defaults("checkout", routes)
}

#[tracing::instrument(skip_all, fields(talk_id = order.talk_id, customer = %order.customer))]
async fn checkout(
    State(peers): State<Arc<Peers>>,
    ApiJson(order): ApiJson<Order>,
) -> Result<Json<Receipt>, ApiError> {
    let found = look_up(&peers, &order).await?;
    if found.stock.available < order.quantity {
        return Err(ApiError::conflict(format!(
            "only {} seats left",
            found.stock.available
        )));
    }
    let full_price = found.price.price_cents * u64::from(order.quantity);
    Ok(Json(Receipt {
        talk_id: order.talk_id,
        quantity: order.quantity,
        total_cents: full_price - full_price * found.loyalty.discount_percent / 100,
    }))
}

/// The three lookups an order needs.
#[tracing::instrument(skip_all)]
pub async fn look_up(peers: &Peers, order: &Order) -> Result<LookedUp, ApiError> {
    // TODO(step 2): the three lookups must run at the same time, and a
    // failing one must still make the checkout answer 502 naming the service
    // that failed. Decide what the checkout does with the calls still
    // running when one fails (README step 2). Where to look: `tokio::join!`
    // and `tokio::try_join!`, or `futures::future::try_join3`.
    let (stock_path, price_path) = (
        format!("/stock/{}", order.talk_id),
        format!("/price/{}", order.talk_id),
    );
    let loyalty_path = format!("/loyalty/{}", order.customer);
    let stock = peers.stock.get(&stock_path).await?;
    let price = peers.prices.get(&price_path).await?;
    let loyalty = peers.loyalty.get(&loyalty_path).await?;
    Ok(LookedUp {
        stock,
        price,
        loyalty,
    })
}
