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
//! The order types are the reference solution's: only the functions that
//! record the telemetry differ.

use tracing::{Span, field, info, instrument};

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

// The total is not known when the span opens: declare the field `Empty` and
// record it once computed, so that it lands on this span and not on an event.
#[instrument(skip_all, fields(total_cents = field::Empty))]
fn price(tickets: &[Ticket]) -> u64 {
    let total_cents = tickets
        .iter()
        .map(|t| t.unit_price_cents * u64::from(t.quantity))
        .sum();
    Span::current().record("total_cents", total_cents);
    total_cents
}

// `err` emits one ERROR event, inside this span, when the charge fails: the
// error is reported once, where it happened, and `?` carries it up silently.
#[instrument(skip(card), fields(card_last4 = card.last4()), err)]
fn charge(card: &CardNumber, amount_cents: u64) -> Result<(), OrderError> {
    // Like a real payment gateway's test cards: one ending in 0002 is always
    // declined, so the decline path can be exercised on purpose.
    if card.last4() == "0002" {
        return Err(OrderError::Declined);
    }
    Ok(())
}
