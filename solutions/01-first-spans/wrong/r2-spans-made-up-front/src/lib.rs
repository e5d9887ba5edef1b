//! Lab 01, a wrong solution: the three step spans are made together at the
//! top of `place_order` and each is entered when its step runs. The learner
//! believed a span exists only once entered; a refused order still records
//! `price` and `charge` spans for steps that never ran.

use tracing::{error, field, info, info_span, instrument, warn};

pub use reference::{CardNumber, MAX_SEATS_PER_ORDER, Order, OrderError, Receipt, Ticket};

/// Places an order: validates it, prices it and charges the card.
#[instrument(skip(order), fields(order_id = order.id, customer = %order.customer))]
pub fn place_order(order: &Order) -> Result<Receipt, OrderError> {
    // The order's three steps, side by side, each entered as it runs.
    let validate_span = info_span!("validate");
    let price_span = info_span!("price", total_cents = field::Empty);
    let charge_span = info_span!("charge", card_last4 = order.card.last4());

    if let Err(reason) = validate_span.in_scope(|| validate(order)) {
        warn!(%reason, "order rejected");
        return Err(reason);
    }
    let total_cents = price_span.in_scope(|| price(&order.tickets));
    price_span.record("total_cents", total_cents);
    charge_span.in_scope(|| charge(&order.card, total_cents))?;
    info!(total_cents, "order placed");
    Ok(Receipt {
        order_id: order.id,
        total_cents,
        card_last4: order.card.last4().to_owned(),
    })
}

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

fn price(tickets: &[Ticket]) -> u64 {
    tickets
        .iter()
        .map(|t| t.unit_price_cents * u64::from(t.quantity))
        .sum()
}

/// Runs inside the `charge` span: the decline is reported here, once.
fn charge(card: &CardNumber, _amount_cents: u64) -> Result<(), OrderError> {
    // Like a real payment gateway's test cards: one ending in 0002 is always
    // declined, so the decline path can be exercised on purpose.
    if card.last4() == "0002" {
        error!(error = %OrderError::Declined, "charge failed");
        return Err(OrderError::Declined);
    }
    Ok(())
}
