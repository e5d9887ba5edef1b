//! The checkout service: `POST /checkout` with `{talk_id, quantity, customer}`.
//! `look_up` is this version's own, and so are the handler and the router
//! that reach it; the types are the reference's.

use std::pin::pin;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shop::{ApiError, ApiJson};

use crate::lookups::{Loyalty, Price, Stock};
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

/// The three lookups an order needs, none of which needs another's answer.
/// The three calls are polled together until each has answered: a branch
/// whose answer is in is not polled again, and the first error leaves the
/// loop, and `look_up`, at once.
#[tracing::instrument(skip_all)]
pub async fn look_up(peers: &Peers, order: &Order) -> Result<LookedUp, ApiError> {
    let (stock_path, price_path) = (
        format!("/stock/{}", order.talk_id),
        format!("/price/{}", order.talk_id),
    );
    let loyalty_path = format!("/loyalty/{}", order.customer);
    let mut stock_call = pin!(peers.stock.get::<Stock>(&stock_path));
    let mut price_call = pin!(peers.prices.get::<Price>(&price_path));
    let mut loyalty_call = pin!(peers.loyalty.get::<Loyalty>(&loyalty_path));
    let (mut stock, mut price, mut loyalty) = (None, None, None);
    loop {
        tokio::select! {
            found = &mut stock_call, if stock.is_none() => stock = Some(found?),
            found = &mut price_call, if price.is_none() => price = Some(found?),
            found = &mut loyalty_call, if loyalty.is_none() => loyalty = Some(found?),
        }
        (stock, price, loyalty) = match (stock, price, loyalty) {
            (Some(stock), Some(price), Some(loyalty)) => {
                return Ok(LookedUp {
                    stock,
                    price,
                    loyalty,
                });
            }
            waiting => waiting,
        };
    }
}
