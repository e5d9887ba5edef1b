//! Lab 01, first spans: the reference solution.
//!
//! An order goes through three steps (validate, price, charge) and each is
//! one traceable operation, so each gets exactly one span. Events mark what
//! an on-call engineer wants to find later: an order placed, an order
//! rejected, a card declined.
//!
//! `price` and `charge` are public for the other designs the grader accepts
//! (`alternatives/`), which reuse them.

use std::error::Error;
use std::fmt;

use tracing::{Span, field, info, instrument, warn};

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
// `skip(order)` keeps the whole order, and with it the card number, out of
// the span; the fields name only what is safe and useful to search by.
#[instrument(skip(order), fields(order_id = order.id, customer = %order.customer))]
pub fn place_order(order: &Order) -> Result<Receipt, OrderError> {
    if let Err(reason) = validate(order) {
        // A rejected order is the customer's mistake, not a fault of ours:
        // WARN, so that it is visible without paging anyone.
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

// The total is not known when the span opens: declare the field `Empty` and
// record it once computed, so that it lands on this span and not on an event.
#[instrument(skip_all, fields(total_cents = field::Empty))]
pub fn price(tickets: &[Ticket]) -> u64 {
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
pub fn charge(card: &CardNumber, amount_cents: u64) -> Result<(), OrderError> {
    // Like a real payment gateway's test cards: one ending in 0002 is always
    // declined, so the decline path can be exercised on purpose.
    if card.last4() == "0002" {
        return Err(OrderError::Declined);
    }
    Ok(())
}
