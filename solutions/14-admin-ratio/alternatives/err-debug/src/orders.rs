//! Placing an order: reserve the seats, charge the card.
//!
//! Each step is one span, from `#[instrument]`, which skips the shop and the
//! order by name (the order holds the card number) and records any other
//! argument: `charge`'s amount, `cents`. A step that fails records its
//! error once, in its own span, with `err(Debug)`; `?` passes it up.

use tracing::instrument;

use crate::shop::{Order, Receipt, Shop, ShopError};

#[instrument(skip(shop, order), fields(order_id = order.id, talk_id = order.talk_id))]
pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    let charged_cents = reserve(shop, order)?;
    charge(shop, order, charged_cents)?;
    Ok(Receipt {
        order_id: order.id,
        charged_cents,
    })
}

#[instrument(skip(shop, order), fields(order_id = order.id, seats = order.seats), err(Debug))]
fn reserve(shop: &mut Shop, order: &Order) -> Result<u64, ShopError> {
    shop.take_seats(order.talk_id, order.seats)?;
    let unit = shop.price(order.talk_id)?;
    Ok(unit * u64::from(order.seats))
}

#[instrument(skip(shop, order), fields(order_id = order.id), err(Debug))]
fn charge(shop: &Shop, order: &Order, cents: u64) -> Result<(), ShopError> {
    shop.charge_card(&order.card, cents)
}
