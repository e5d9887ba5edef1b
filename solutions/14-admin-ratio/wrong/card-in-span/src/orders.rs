//! Placing an order: reserve the seats, charge the card.
//!
//! Each step is one span, from `#[instrument]`, recording the order it is
//! about (the shop is skipped: it has no `Debug`), with `err` on the steps
//! that fail.

use tracing::instrument;

use crate::shop::{Order, Receipt, Shop, ShopError};

#[instrument(skip(shop), fields(order_id = order.id))]
pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    let cents = reserve(shop, order)?;
    charge(shop, order, cents)?;
    Ok(Receipt {
        order_id: order.id,
        charged_cents: cents,
    })
}

#[instrument(skip(shop), fields(order_id = order.id), err(Display))]
fn reserve(shop: &mut Shop, order: &Order) -> Result<u64, ShopError> {
    shop.take_seats(order.talk_id, order.seats)?;
    let unit = shop.price(order.talk_id)?;
    Ok(unit * u64::from(order.seats))
}

#[instrument(skip(shop), fields(order_id = order.id), err(Display))]
fn charge(shop: &Shop, order: &Order, cents: u64) -> Result<(), ShopError> {
    shop.charge_card(&order.card, cents)
}
