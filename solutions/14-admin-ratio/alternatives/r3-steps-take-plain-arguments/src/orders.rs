//! Placing an order: reserve the seats, charge the card.
//!
//! Each step is one span, from `#[instrument]`: its name says which
//! operation, its start and end how long it took. The steps take the parts
//! of the order they use as plain arguments, and `#[instrument]` records
//! every argument of a primitive type as it is, so `order_id` is a number on
//! every span without a `fields` list; only what must not be recorded is
//! skipped: the shop, and the card. `err` records a failure once, in the
//! span of the step that failed, and `?` passes it up silently.

use tracing::instrument;

use crate::shop::{Order, Receipt, Shop, ShopError};

#[instrument(skip_all, fields(order_id = order.id, talk_id = order.talk_id))]
pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    let cents = reserve(shop, order.id, order.talk_id, order.seats)?;
    charge(shop, order.id, &order.card, cents)?;
    Ok(Receipt {
        order_id: order.id,
        charged_cents: cents,
    })
}

#[instrument(skip(shop), err(Display))]
fn reserve(shop: &mut Shop, order_id: u64, talk_id: u32, seats: u32) -> Result<u64, ShopError> {
    shop.take_seats(talk_id, seats)?;
    let unit = shop.price(talk_id)?;
    Ok(unit * u64::from(seats))
}

#[instrument(skip(shop, card), err(Display))]
fn charge(shop: &Shop, order_id: u64, card: &str, cents: u64) -> Result<(), ShopError> {
    shop.charge_card(card, cents)
}
