//! Placing an order: reserve the seats, charge the card.
//!
//! Each step is one action (`actions::run`): a span named after the step,
//! whose data says which order, whose start and end say how long it took,
//! and whose outcome says how it ended: an `Err` that escapes is an
//! exception, recorded once, on the step where it happened. Setting the
//! action's data is business (it replaces the log lines that said the same),
//! so the ratio counts no admin line at all.

use crate::shop::{Order, Receipt, Shop, ShopError};

pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    actions::run("place_order", |act| {
        act.set("order_id", order.id);
        act.set("talk_id", order.talk_id);
        let cents = reserve(shop, order)?;
        charge(shop, order, cents)?;
        Ok(Receipt {
            order_id: order.id,
            charged_cents: cents,
        })
    })
}

fn reserve(shop: &mut Shop, order: &Order) -> Result<u64, ShopError> {
    actions::run("reserve", |act| {
        act.set("order_id", order.id);
        act.set("seats", order.seats);
        shop.take_seats(order.talk_id, order.seats)?;
        let unit = shop.price(order.talk_id)?;
        Ok(unit * u64::from(order.seats))
    })
}

fn charge(shop: &Shop, order: &Order, cents: u64) -> Result<(), ShopError> {
    actions::run("charge", |act| {
        act.set("order_id", order.id);
        act.set("cents", cents);
        shop.charge_card(&order.card, cents)
    })
}
