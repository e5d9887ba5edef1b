//! Lab 01, a wrong solution. The learner wrote the order's span with
//! `info_span!` and entered it with `let _ = span.enter();`, believing it stays
//! entered until the end of the function; `let _` drops the guard at once, so
//! the steps' spans and the events are outside the order's span.

use tracing::{Span, field, info, info_span, instrument, warn};

pub use reference::{CardNumber, MAX_SEATS_PER_ORDER, Order, OrderError, Receipt, Ticket};

/// Places an order: validates it, prices it and charges the card.
pub fn place_order(order: &Order) -> Result<Receipt, OrderError> {
    let span = info_span!("place_order", order_id = order.id, customer = %order.customer);
    let _ = span.enter();
    if let Err(reason) = validate(order) {
        warn!(%reason, "order rejected");
        return Err(reason);
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
    // declined.
    if card.last4() == "0002" {
        return Err(OrderError::Declined);
    }
    Ok(())
}
