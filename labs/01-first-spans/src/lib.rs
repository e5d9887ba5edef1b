//! Lab 01, first spans.
//!
//! An order goes through three steps (validate, price, charge). The code
//! works, but it is silent: when an order fails in production, nobody can
//! tell which step failed, for whom, or for how much. Your job is to make
//! each step a span and to mark what matters with events, without ever
//! letting the card number into a log. The README lists the steps; each TODO
//! below names the step it belongs to.
//!
//! Run `just lab 1` to check your work, `just hint 1` when stuck.

use std::error::Error;
use std::fmt;

// TODO(step 1): bring in what you need from `tracing`, for example
// `use tracing::{Span, field, info, instrument, warn};`

/// No order may hold more seats than this, so one buyer cannot empty a room.
pub const MAX_SEATS_PER_ORDER: u32 = 10;

/// Some seats at one talk.
#[derive(Clone, Debug)]
pub struct Ticket {
    pub talk: String,
    pub unit_price_cents: u64,
    pub quantity: u32,
}

/// A payment card number. It is a secret: it must never reach a log.
#[derive(Clone, Debug)]
pub struct CardNumber(String);

impl CardNumber {
    pub fn new(digits: impl Into<String>) -> Self {
        Self(digits.into())
    }

    /// The last four digits, which receipts and logs may show.
    pub fn last4(&self) -> &str {
        let start = self.0.len().saturating_sub(4);
        &self.0[start..]
    }
}

#[derive(Clone, Debug)]
pub struct Order {
    pub id: u64,
    pub customer: String,
    pub tickets: Vec<Ticket>,
    pub card: CardNumber,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub order_id: u64,
    pub total_cents: u64,
    pub card_last4: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderError {
    NoTickets,
    TooManySeats { requested: u32 },
    Declined,
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::NoTickets => f.write_str("the order has no tickets"),
            OrderError::TooManySeats { requested } => write!(
                f,
                "{requested} seats requested, at most {MAX_SEATS_PER_ORDER} allowed"
            ),
            OrderError::Declined => f.write_str("the card was declined"),
        }
    }
}

impl Error for OrderError {}

/// Places an order: validates it, prices it and charges the card.
// TODO(step 1): give this function a span with `#[instrument]`, recording
// `order_id` and `customer` as fields.
// TODO(step 5): `#[instrument]` records every argument with `Debug`, and the
// order holds the card. Keep the card out of the span.
pub fn place_order(order: &Order) -> Result<Receipt, OrderError> {
    // TODO(step 4): when validation fails, emit a WARN event with a `reason`
    // field before returning the error.
    validate(order)?;
    let total_cents = price(&order.tickets);
    charge(&order.card, total_cents)?;
    // TODO(step 3): emit an INFO event "order placed" with a `total_cents` field.
    Ok(Receipt {
        order_id: order.id,
        total_cents,
        card_last4: order.card.last4().to_owned(),
    })
}

// TODO(step 2): a span for this step.
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

// TODO(step 2): a span for this step, with a `total_cents` field that you
// record once the total is known.
fn price(tickets: &[Ticket]) -> u64 {
    tickets
        .iter()
        .map(|t| t.unit_price_cents * u64::from(t.quantity))
        .sum()
}

// TODO(step 2): a span for this step.
// TODO(step 4): a declined card is an error of this step: report it once, as
// an ERROR event inside this span.
fn charge(card: &CardNumber, _amount_cents: u64) -> Result<(), OrderError> {
    // Like a real payment gateway's test cards: one ending in 0002 is always
    // declined, so the decline path can be exercised on purpose.
    if card.last4() == "0002" {
        return Err(OrderError::Declined);
    }
    Ok(())
}
