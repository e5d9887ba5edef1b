//! Lab 01, first spans: another correct design, where `validate` reports
//! its own rejection: `#[instrument(err(Display, level = "warn"))]` writes
//! one WARN event, inside its span, with the reason in a field named
//! `error`, and `place_order` passes the error up with `?`.
//!
//! An order goes through three steps (validate, price, charge) and each is
//! one traceable operation, so each gets exactly one span. Events mark what
//! an on-call engineer wants to find later: an order placed, an order
//! rejected, a card declined.
//!
//! The order types, `price` and `charge` are the reference solution's: only
//! `place_order` and `validate` differ.

use reference::{charge, price};
use tracing::{info, instrument};

pub use reference::{CardNumber, MAX_SEATS_PER_ORDER, Order, OrderError, Receipt, Ticket};

/// Places an order: validates it, prices it and charges the card.
// `skip(order)` keeps the whole order, and with it the card number, out of
// the span; the fields name only what is safe and useful to search by.
#[instrument(skip(order), fields(order_id = order.id, customer = %order.customer))]
pub fn place_order(order: &Order) -> Result<Receipt, OrderError> {
    validate(order)?;
    let total_cents = price(&order.tickets);
    charge(&order.card, total_cents)?;
    info!(total_cents, "order placed");
    Ok(Receipt {
        order_id: order.id,
        total_cents,
        card_last4: order.card.last4().to_owned(),
    })
}

// A rejected order is the customer's mistake, not a fault of ours: WARN, so
// that it is visible without paging anyone.
#[instrument(skip_all, err(Display, level = "warn"))]
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
