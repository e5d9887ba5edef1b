//! Placing an order: reserve the seats, charge the card.
//!
//! One span per step, from `#[instrument]`, with `order_id` as a field and
//! `err` on the steps that fail. Laid out by hand rather than by rustfmt.

use tracing::instrument;

use crate::shop::{Order, Receipt, Shop, ShopError};

#[rustfmt::skip]
#[instrument(
    skip_all,
    fields(
        order_id = order.id,
        talk_id = order.talk_id
    )
)]
pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    let cents = reserve(shop, order)?; charge(shop, order, cents)?;
    Ok(Receipt {
        order_id: order.id,
        charged_cents: cents,
    })
}

#[rustfmt::skip]
#[instrument(skip_all,
             fields(order_id = order.id, seats = order.seats),
             err(Display))]
fn reserve(shop: &mut Shop, order: &Order) -> Result<u64, ShopError> {
    shop.take_seats(
        order.talk_id,
        order.seats,
    )?;
    let unit = shop
        .price(order.talk_id)?;
    Ok(unit
        * u64::from(order.seats))
}

#[rustfmt::skip]
#[instrument(skip_all, fields(order_id = order.id, cents), err(Display))]
fn charge(shop: &Shop, order: &Order, cents: u64) -> Result<(), ShopError> { shop.charge_card(&order.card, cents) }
