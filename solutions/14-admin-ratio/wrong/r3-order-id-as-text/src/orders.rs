//! Placing an order: reserve the seats, charge the card.
//!
//! Each step is one span, from `#[instrument]`: its name says which
//! operation, its fields which order, its start and end how long it took.
//! `err` records how a step ended when it fails: one ERROR event, in the
//! span of the step that failed, and `?` passes the error up silently.
//! Everything the hand-written logs said is still said, by the spans.
//! An id names an order rather than counting anything, so each span
//! records it as text (`%`), the way it is shown to a person.

use tracing::instrument;

use crate::shop::{Order, Receipt, Shop, ShopError};

#[instrument(skip_all, fields(order_id = %order.id, talk_id = order.talk_id))]
pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    let cents = reserve(shop, order)?;
    charge(shop, order, cents)?;
    Ok(Receipt {
        order_id: order.id,
        charged_cents: cents,
    })
}

#[instrument(skip_all, fields(order_id = %order.id, seats = order.seats), err(Display))]
fn reserve(shop: &mut Shop, order: &Order) -> Result<u64, ShopError> {
    shop.take_seats(order.talk_id, order.seats)?;
    let unit = shop.price(order.talk_id)?;
    Ok(unit * u64::from(order.seats))
}

#[instrument(skip_all, fields(order_id = %order.id, cents), err(Display))]
fn charge(shop: &Shop, order: &Order, cents: u64) -> Result<(), ShopError> {
    shop.charge_card(&order.card, cents)
}
