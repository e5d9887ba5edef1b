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

// TODO(step 1): bring into scope the `tracing` items your steps use (each
// step of the README names where to look).

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
// TODO(step 1): a span for this operation, from which a reader can tell which
// order it is and whose (the field names are in the README's "Done when").
// Where to look: the `instrument` attribute, and "Recording Fields" in the
// crate's documentation.
// TODO(step 5): no span or event may hold the card number. What does the
// attribute record unless told otherwise, and which arguments carry the card
// (README step 5)?
pub fn place_order(order: &Order) -> Result<Receipt, OrderError> {
    // TODO(step 4): a refused order is reported exactly once, saying why (the
    // field is in the README's "Done when"), at the level that says who must
    // act (README step 4).
    validate(order)?;
    let total_cents = price(&order.tickets);
    charge(&order.card, total_cents)?;
    // TODO(step 3): say "order placed", with what was charged, where that is
    // true, at the level of business as usual (README step 3).
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

// TODO(step 2): a span for this step, which must end up holding the total
// (`total_cents`), known only after the span opened. Where to look:
// `field::Empty` and `Span::record`.
fn price(tickets: &[Ticket]) -> u64 {
    tickets
        .iter()
        .map(|t| t.unit_price_cents * u64::from(t.quantity))
        .sum()
}

// TODO(step 2): a span for this step.
// TODO(step 4): a declined card is reported exactly once, inside the span of
// the step that failed, at the level that says who must act (README step 4:
// where is a failure that travels up through `?` reported?).
fn charge(card: &CardNumber, _amount_cents: u64) -> Result<(), OrderError> {
    // Like a real payment gateway's test cards: one ending in 0002 is always
    // declined, so the decline path can be exercised on purpose.
    if card.last4() == "0002" {
        return Err(OrderError::Declined);
    }
    Ok(())
}
