//! The checkout service: `POST /checkout` with `{talk_id, quantity, customer}`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shop::{ApiError, ApiJson, Peer};

use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;
use tracing::Instrument;

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

/// Starts one lookup as a task of its own, in the current span.
fn spawn_lookup<T>(peer: &Peer, path: String) -> JoinHandle<Result<T, ApiError>>
where
    T: DeserializeOwned + Send + 'static,
{
    let peer = peer.clone();
    tokio::spawn(async move { peer.get::<T>(&path).await }.in_current_span())
}

/// A lookup's answer, once its task is done.
async fn answer<T>(lookup: JoinHandle<Result<T, ApiError>>) -> Result<T, ApiError> {
    lookup.await.expect("a lookup does not panic")
}

/// The three lookups an order needs. None of them needs another's answer, so
/// each runs as a task of its own, all three at once, and `try_join!` waits
/// for them together and returns at the first error.
#[tracing::instrument(skip_all)]
pub async fn look_up(peers: &Peers, order: &Order) -> Result<LookedUp, ApiError> {
    let stock = spawn_lookup::<Stock>(&peers.stock, format!("/stock/{}", order.talk_id));
    let price = spawn_lookup::<Price>(&peers.prices, format!("/price/{}", order.talk_id));
    let loyalty = spawn_lookup::<Loyalty>(&peers.loyalty, format!("/loyalty/{}", order.customer));
    let (stock, price, loyalty) = tokio::try_join!(answer(stock), answer(price), answer(loyalty))?;
    Ok(LookedUp {
        stock,
        price,
        loyalty,
    })
}
