//! Placing an order: reserve the seats, charge the card.
//!
//! One span per step, at the level its log lines had: `place_order` at
//! INFO, the steps at DEBUG. A step that fails records its error once, at
//! ERROR, in its own span; `?` passes it up silently.

use tracing::instrument;

use crate::shop::{Order, Receipt, Shop, ShopError};

#[instrument(level = "info", skip_all, fields(order_id = order.id, talk_id = order.talk_id))]
pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    let cents = reserve(shop, order)?;
    charge(shop, order, cents)?;
    Ok(Receipt {
        order_id: order.id,
        charged_cents: cents,
    })
}

#[instrument(level = "debug", skip_all, fields(order_id = order.id, seats = order.seats), err)]
fn reserve(shop: &mut Shop, order: &Order) -> Result<u64, ShopError> {
    shop.take_seats(order.talk_id, order.seats)?;
    let unit = shop.price(order.talk_id)?;
    Ok(unit * u64::from(order.seats))
}

#[instrument(level = "debug", skip_all, fields(order_id = order.id, cents), err)]
fn charge(shop: &Shop, order: &Order, cents: u64) -> Result<(), ShopError> {
    shop.charge_card(&order.card, cents)
}
