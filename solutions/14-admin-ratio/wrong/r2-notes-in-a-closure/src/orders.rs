//! Placing an order: reserve the seats, charge the card.
//!
//! Each step is one span, from `#[instrument]`, and `place_order` notes each
//! step done; `err` records a failure once, in the span of its step.

use tracing::{debug, instrument};

use crate::shop::{Order, Receipt, Shop, ShopError};

#[instrument(skip_all, fields(order_id = order.id, talk_id = order.talk_id))]
pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    let done = |step: &str| debug!(order_id = order.id, step, "done");
    let cents = reserve(shop, order)?;
    done("reserve");
    charge(shop, order, cents)?;
    done("charge");
    Ok(Receipt {
        order_id: order.id,
        charged_cents: cents,
    })
}

#[instrument(skip_all, fields(order_id = order.id, seats = order.seats), err(Display))]
fn reserve(shop: &mut Shop, order: &Order) -> Result<u64, ShopError> {
    shop.take_seats(order.talk_id, order.seats)?;
    let unit = shop.price(order.talk_id)?;
    Ok(unit * u64::from(order.seats))
}

#[instrument(skip_all, fields(order_id = order.id, cents), err(Display))]
fn charge(shop: &Shop, order: &Order, cents: u64) -> Result<(), ShopError> {
    shop.charge_card(&order.card, cents)
}
