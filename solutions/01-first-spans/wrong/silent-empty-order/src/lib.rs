//! Lab 01, a wrong solution. The learner emits the rejection's WARN where the
//! seat limit is enforced, believing that is the one rule a customer can break;
//! an order with no tickets is refused without any event.

use tracing::{Span, field, info, instrument, warn};

pub use reference::{CardNumber, MAX_SEATS_PER_ORDER, Order, OrderError, Receipt, Ticket};

/// Places an order: validates it, prices it and charges the card.
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

#[instrument(skip_all)]
fn validate(order: &Order) -> Result<(), OrderError> {
    if order.tickets.is_empty() {
        return Err(OrderError::NoTickets);
    }
    let requested = order.tickets.iter().map(|t| t.quantity).sum();
    if requested > MAX_SEATS_PER_ORDER {
        let reason = OrderError::TooManySeats { requested };
        warn!(%reason, "order rejected");
        return Err(reason);
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
