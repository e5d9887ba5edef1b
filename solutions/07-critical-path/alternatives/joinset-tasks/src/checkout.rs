//! The checkout service: `POST /checkout` with `{talk_id, quantity, customer}`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shop::{ApiError, ApiJson};

use tokio::task::JoinSet;
use tracing::Instrument;

use crate::lookups::{Loyalty, Price, Stock};

// The types are the reference solution's: only `look_up` differs, and
// `checkout` and `app` come along because they call it.
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

/// One lookup's answer, whichever comes first.
enum Found {
    Stock(Stock),
    Price(Price),
    Loyalty(Loyalty),
}

/// The three lookups an order needs. None of them needs another's answer,
/// so each runs as a task of its own, in this span, all at once: the
/// checkout waits as long as the slowest. The first error returns at once,
/// and dropping the `JoinSet` aborts the lookups still running.
#[tracing::instrument(skip_all)]
pub async fn look_up(peers: &Peers, order: &Order) -> Result<LookedUp, ApiError> {
    let stock_path = format!("/stock/{}", order.talk_id);
    let price_path = format!("/price/{}", order.talk_id);
    let loyalty_path = format!("/loyalty/{}", order.customer);

    let mut lookups = JoinSet::new();
    let peer = peers.stock.clone();
    lookups.spawn(async move { peer.get(&stock_path).await.map(Found::Stock) }.in_current_span());
    let peer = peers.prices.clone();
    lookups.spawn(async move { peer.get(&price_path).await.map(Found::Price) }.in_current_span());
    let peer = peers.loyalty.clone();
    lookups
        .spawn(async move { peer.get(&loyalty_path).await.map(Found::Loyalty) }.in_current_span());

    let (mut stock, mut price, mut loyalty) = (None, None, None);
    while let Some(found) = lookups.join_next().await {
        match found.expect("a lookup does not panic")? {
            Found::Stock(found) => stock = Some(found),
            Found::Price(found) => price = Some(found),
            Found::Loyalty(found) => loyalty = Some(found),
        }
    }
    Ok(LookedUp {
        stock: stock.expect("the stock lookup answered"),
        price: price.expect("the price lookup answered"),
        loyalty: loyalty.expect("the loyalty lookup answered"),
    })
}
