//! Lab 01, a wrong solution: an order over the seat limit is reported as an
//! ERROR, an empty one as a WARN. The learner believed a buyer asking for
//! more seats than allowed is abuse someone must act on; it is a refused
//! order like any other, the customer's mistake, and no one is to be paged.

use tracing::{Span, error, field, info, instrument, warn};

pub use reference::{CardNumber, MAX_SEATS_PER_ORDER, Order, OrderError, Receipt, Ticket};

/// Places an order: validates it, prices it and charges the card.
#[instrument(skip(order), fields(order_id = order.id, customer = %order.customer))]
pub fn place_order(order: &Order) -> Result<Receipt, OrderError> {
    match validate(order) {
        Ok(()) => {}
        Err(reason @ OrderError::TooManySeats { .. }) => {
            // More seats than one buyer may hold: a scalper emptying a room,
            // as like as not. That needs someone to look at it.
            error!(%reason, "order rejected");
            return Err(reason);
        }
        Err(reason) => {
            warn!(%reason, "order rejected");
            return Err(reason);
        }
    }
    let total_cents = price(&order.tickets);
    charge(&order.card, total_cents)?;
    info!(total_cents, "order placed");
    Ok(Receipt {
        order_id: order.id,
        total_cents,
        card_last4: order.card.last4().to_owned(),
    })
}

#[instrument(skip_all)]
fn validate(order: &Order) -> Result<(), OrderError> {
    if order.tickets.is_empty() {
        return Err(OrderError::NoTickets);
    }
    let requested = order.tickets.iter().map(|t| t.quantity).sum();
    if requested > MAX_SEATS_PER_ORDER {
        return Err(OrderError::TooManySeats { requested });
    }
    Ok(())
}

#[instrument(skip_all, fields(total_cents = field::Empty))]
fn price(tickets: &[Ticket]) -> u64 {
    let total_cents = tickets
        .iter()
        .map(|t| t.unit_price_cents * u64::from(t.quantity))
        .sum();
    Span::current().record("total_cents", total_cents);
    total_cents
}

#[instrument(skip(card), fields(card_last4 = card.last4()), err)]
fn charge(card: &CardNumber, amount_cents: u64) -> Result<(), OrderError> {
    // Like a real payment gateway's test cards: one ending in 0002 is always
    // declined, so the decline path can be exercised on purpose.
    if card.last4() == "0002" {
        return Err(OrderError::Declined);
    }
    Ok(())
}
