//! Placing an order: reserve the seats, charge the card.
//!
//! Every step logs the same facts the same way, so the logging is written
//! once, in `Logged`: a "start" line when a step begins and, when it ends,
//! an "end" line with the time it took, or an error line. The steps keep
//! only their business and one call on each side of it.

use std::time::Instant;

use tracing::{error, info};

use crate::shop::{Order, Receipt, Shop, ShopError};

/// A step being logged: which step, for which order, since when.
struct Logged {
    step: &'static str,
    order_id: u64,
    start: Instant,
}

impl Logged {
    fn start(step: &'static str, order_id: u64) -> Self {
        info!(order_id, "{step}: start");
        Self {
            step,
            order_id,
            start: Instant::now(),
        }
    }

    /// Logs how the step ended, and passes its result on.
    fn end<T>(self, result: Result<T, ShopError>) -> Result<T, ShopError> {
        let elapsed_ms = self.start.elapsed().as_secs_f64() * 1e3;
        match &result {
            Ok(_) => info!(order_id = self.order_id, elapsed_ms, "{}: end", self.step),
            Err(err) => {
                error!(order_id = self.order_id, elapsed_ms, error = %err, "{}: failed", self.step)
            }
        }
        result
    }
}

pub fn place_order(shop: &mut Shop, order: &Order) -> Result<Receipt, ShopError> {
    let log = Logged::start("place_order", order.id);
    let cents = reserve(shop, order)?;
    charge(shop, order, cents)?;
    log.end(Ok(Receipt {
        order_id: order.id,
        charged_cents: cents,
    }))
}

fn reserve(shop: &mut Shop, order: &Order) -> Result<u64, ShopError> {
    let log = Logged::start("reserve", order.id);
    let result = shop
        .take_seats(order.talk_id, order.seats)
        .and_then(|()| shop.price(order.talk_id));
    log.end(result.map(|unit| unit * u64::from(order.seats)))
}

fn charge(shop: &Shop, order: &Order, cents: u64) -> Result<(), ShopError> {
    let log = Logged::start("charge", order.id);
    log.end(shop.charge_card(&order.card, cents))
}
