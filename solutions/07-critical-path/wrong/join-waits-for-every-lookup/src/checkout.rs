//! The checkout service: `POST /checkout` with `{talk_id, quantity, customer}`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shop::{ApiError, ApiJson};

use crate::lookups::{Loyalty, Price, Stock};

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
/// so all three run at once; their errors are checked in order afterwards.
#[tracing::instrument(skip_all)]
pub async fn look_up(peers: &Peers, order: &Order) -> Result<LookedUp, ApiError> {
    let (stock_path, price_path) = (
        format!("/stock/{}", order.talk_id),
        format!("/price/{}", order.talk_id),
    );
    let loyalty_path = format!("/loyalty/{}", order.customer);
    let (stock, price, loyalty) = tokio::join!(
        peers.stock.get::<Stock>(&stock_path),
        peers.prices.get::<Price>(&price_path),
        peers.loyalty.get::<Loyalty>(&loyalty_path),
    );
    Ok(LookedUp {
        stock: stock?,
        price: price?,
        loyalty: loyalty?,
    })
}
