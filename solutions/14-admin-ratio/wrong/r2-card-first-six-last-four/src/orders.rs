//! Placing an order: reserve the seats, charge the card.
//!
//! Each step is one span, from `#[instrument]`: its name says which
//! operation, its fields which order (and which card, masked), its start
//! and end how long it took; `err` records a failure once, in its step.

use tracing::instrument;

use crate::shop::{Order, Receipt, Shop, ShopError};

#[instrument(skip_all, fields(order_id = order.id, talk_id = order.talk_id))]
pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    let cents = reserve(shop, order)?;
    charge(shop, order, cents)?;
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

#[instrument(
    skip_all,
    fields(order_id = order.id, cents, card = %masked(&order.card)),
    err(Display)
)]
fn charge(shop: &Shop, order: &Order, cents: u64) -> Result<(), ShopError> {
    shop.charge_card(&order.card, cents)
}

/// A card as a receipt shows it: the issuer's six digits, stars, the last four.
fn masked(card: &str) -> String {
    let digits: Vec<char> = card.chars().filter(char::is_ascii_digit).collect();
    let hidden = digits.len().saturating_sub(10);
    let first: String = digits.iter().take(6).collect();
    let last: String = digits.iter().skip(6 + hidden).collect();
    format!("{first}{}{last}", "*".repeat(hidden))
}
