//! The checkout service: `POST /checkout` with `{talk_id, quantity, customer}`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use shop::{ApiError, ApiJson, Peer};

// The checkout's types; `checkout` and `app` are here because they call
// `look_up`.
pub use reference::checkout::{LookedUp, Order, Peers, Receipt};

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

/// The three lookups an order needs. None of them needs another's answer,
/// so all three run at once; `try_join!` returns at the first error.
#[tracing::instrument(skip_all)]
pub async fn look_up(peers: &Peers, order: &Order) -> Result<LookedUp, ApiError> {
    let (stock_path, price_path) = (
        format!("/stock/{}", order.talk_id),
        format!("/price/{}", order.talk_id),
    );
    let loyalty_path = format!("/loyalty/{}", order.customer);
    let (stock, price, loyalty) = tokio::try_join!(
        get_twice_if_failing(&peers.stock, &stock_path),
        get_twice_if_failing(&peers.prices, &price_path),
        get_twice_if_failing(&peers.loyalty, &loyalty_path),
    )?;
    Ok(LookedUp {
        stock,
        price,
        loyalty,
    })
}

/// Asks `peer` for `path`, and once more when it fails on its side (a
/// 5xx): a peer's failure is often gone a moment later. Its own refusal
/// (a 4xx) is final.
async fn get_twice_if_failing<T: DeserializeOwned>(peer: &Peer, path: &str) -> Result<T, ApiError> {
    match peer.get(path).await {
        Err(error) if error.status.is_server_error() => {
            tracing::warn!(%error, "asking once more");
            peer.get(path).await
        }
        answer => answer,
    }
}
