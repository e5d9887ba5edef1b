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

/// A lookup running as a task of its own. Dropping the handle cancels the
/// task: a lookup nobody waits for any more stops.
struct Lookup<T>(JoinHandle<Result<T, ApiError>>);

impl<T> Drop for Lookup<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T: DeserializeOwned + Send + 'static> Lookup<T> {
    /// Starts the lookup of `path` at `peer`, in the current span.
    fn spawn(peer: &Peer, path: String) -> Self {
        let peer = peer.clone();
        Self(tokio::spawn(
            async move { peer.get::<T>(&path).await }.in_current_span(),
        ))
    }

    /// Waits for the lookup's answer.
    async fn answer(mut self) -> Result<T, ApiError> {
        (&mut self.0).await.expect("a lookup does not panic")
    }
}

/// The three lookups an order needs. None of them needs another's answer,
/// so each runs as a task, all three at once: the checkout waits as long as
/// the slowest. At the first error `try_join!` returns and drops the other
/// handles, which cancels their tasks.
#[tracing::instrument(skip_all)]
pub async fn look_up(peers: &Peers, order: &Order) -> Result<LookedUp, ApiError> {
    let stock = Lookup::<Stock>::spawn(&peers.stock, format!("/stock/{}", order.talk_id));
    let price = Lookup::<Price>::spawn(&peers.prices, format!("/price/{}", order.talk_id));
    let loyalty = Lookup::<Loyalty>::spawn(&peers.loyalty, format!("/loyalty/{}", order.customer));
    let (stock, price, loyalty) =
        tokio::try_join!(stock.answer(), price.answer(), loyalty.answer())?;
    Ok(LookedUp {
        stock,
        price,
        loyalty,
    })
}
