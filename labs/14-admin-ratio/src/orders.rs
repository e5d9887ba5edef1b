//! Placing an order: reserve the seats, charge the card.
//!
//! TODO(step 1): refactor this module until its business statements
//! outnumber its admin statements (logging, timing, instrumentation) at
//! least two to one (`just ratio labs/14-admin-ratio/src` shows where it
//! stands), while its telemetry keeps every fact it records today. The
//! README's steps say what to ask of each statement and where to look.

use std::time::Instant;

use tracing::{debug, error, info};

use crate::shop::{Order, Receipt, Shop, ShopError};

pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    let start = Instant::now();
    info!(
        order_id = order.id,
        talk_id = order.talk_id,
        "place_order: start"
    );
    let cents = match reserve(shop, order) {
        Ok(cents) => cents,
        Err(err) => {
            error!(order_id = order.id, error = %err, "place_order: reserve failed");
            return Err(err);
        }
    };
    if let Err(err) = charge(shop, order, cents) {
        error!(order_id = order.id, error = %err, "place_order: charge failed");
        return Err(err);
    }
    let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
    info!(order_id = order.id, elapsed_ms, "place_order: end");
    Ok(Receipt {
        order_id: order.id,
        charged_cents: cents,
    })
}

fn reserve(shop: &mut Shop, order: &Order) -> Result<u64, ShopError> {
    let start = Instant::now();
    debug!(order_id = order.id, seats = order.seats, "reserve: start");
    if let Err(err) = shop.take_seats(order.talk_id, order.seats) {
        error!(order_id = order.id, error = %err, "reserve: failed");
        return Err(err);
    }
    let unit = match shop.price(order.talk_id) {
        Ok(unit) => unit,
        Err(err) => {
            error!(order_id = order.id, error = %err, "reserve: no price");
            return Err(err);
        }
    };
    let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
    debug!(order_id = order.id, elapsed_ms, "reserve: end");
    Ok(unit * u64::from(order.seats))
}

fn charge(shop: &Shop, order: &Order, cents: u64) -> Result<(), ShopError> {
    let start = Instant::now();
    debug!(order_id = order.id, cents, "charge: start");
    let result = shop.charge_card(&order.card, cents);
    if let Err(err) = &result {
        error!(order_id = order.id, error = %err, "charge: failed");
    }
    let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
    debug!(order_id = order.id, elapsed_ms, "charge: end");
    result
}
