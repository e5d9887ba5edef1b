//! The checkout service: `POST /checkout` with `{talk_id, quantity, customer}`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shop::{ApiError, ApiJson};

use crate::lookups::Price;

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

/// The prices already asked, by talk: a talk's price does not change.
static PRICES: Mutex<BTreeMap<u32, u64>> = Mutex::new(BTreeMap::new());

/// The three lookups an order needs. None of them needs another's answer,
/// so all three run at once; a price already known is not asked again.
#[tracing::instrument(skip_all)]
pub async fn look_up(peers: &Peers, order: &Order) -> Result<LookedUp, ApiError> {
    let (stock_path, price_path) = (
        format!("/stock/{}", order.talk_id),
        format!("/price/{}", order.talk_id),
    );
    let loyalty_path = format!("/loyalty/{}", order.customer);
    let known = PRICES
        .lock()
        .expect("the price list is not poisoned")
        .get(&order.talk_id)
        .copied();
    let price = async {
        match known {
            Some(price_cents) => Ok(Price {
                talk_id: order.talk_id,
                price_cents,
            }),
            None => peers.prices.get::<Price>(&price_path).await,
        }
    };
    let (stock, price, loyalty) = tokio::try_join!(
        peers.stock.get(&stock_path),
        price,
        peers.loyalty.get(&loyalty_path),
    )?;
    PRICES
        .lock()
        .expect("the price list is not poisoned")
        .insert(order.talk_id, price.price_cents);
    Ok(LookedUp {
        stock,
        price,
        loyalty,
    })
}
