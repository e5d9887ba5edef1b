//! Lab 01, a wrong solution: the declined card is reported by the caller.
//!
//! `charge` has a span but no `err`; `place_order`, which handles every
//! failure, writes the ERROR event itself, in the order's span, in the belief
//! that the order's fields make it the right place. The types are the
//! reference's.

use tracing::{Span, error, field, info, instrument, warn};

pub use reference::{CardNumber, MAX_SEATS_PER_ORDER, Order, OrderError, Receipt, Ticket};

/// Places an order: validates it, prices it and charges the card.
#[instrument(skip(order), fields(order_id = order.id, customer = %order.customer))]
pub fn place_order(order: &Order) -> Result<Receipt, OrderError> {
    if let Err(reason) = validate(order) {
        warn!(%reason, "order rejected");
        return Err(reason);
    }
    let total_cents = price(&order.tickets);
    if let Err(reason) = charge(&order.card, total_cents) {
        error!(%reason, "payment failed");
        return Err(reason);
    }
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

#[instrument(skip(card), fields(card_last4 = card.last4()))]
fn charge(card: &CardNumber, amount_cents: u64) -> Result<(), OrderError> {
    // Like a real payment gateway's test cards: one ending in 0002 is always
    // declined, so the decline path can be exercised on purpose.
    if card.last4() == "0002" {
        return Err(OrderError::Declined);
    }
    Ok(())
}
