//! The checkout service: `POST /checkout` with `{talk_id, quantity, customer}`.
//! `look_up` is this version's own, and so are the handler and the router
//! that reach it; the types are the reference's.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shop::{ApiError, ApiJson};

use crate::lookups::{Price, Stock};
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

/// The three lookups an order needs. The loyalty lookup is the slowest
/// (45 ms), the one on the critical path: it runs on its own, and the two
/// quick ones (20 ms and 30 ms) one after the other beside it.
#[tracing::instrument(skip_all)]
pub async fn look_up(peers: &Peers, order: &Order) -> Result<LookedUp, ApiError> {
    let (stock_path, price_path) = (
        format!("/stock/{}", order.talk_id),
        format!("/price/{}", order.talk_id),
    );
    let loyalty_path = format!("/loyalty/{}", order.customer);
    let quick_ones = async {
        let stock = peers.stock.get::<Stock>(&stock_path).await?;
        let price = peers.prices.get::<Price>(&price_path).await?;
        Ok::<_, ApiError>((stock, price))
    };
    let (loyalty, (stock, price)) = tokio::try_join!(peers.loyalty.get(&loyalty_path), quick_ones)?;
    Ok(LookedUp {
        stock,
        price,
        loyalty,
    })
}
