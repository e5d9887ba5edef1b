//! Handling an order: its seats are reserved in tasks of their own, its
//! invoice is rendered on the blocking pool, and its receipt is queued for
//! the mailer task. Each takes the order's span along.

use opentelemetry::trace::TraceContextExt;
use tokio::task::JoinSet;
use tracing::{Instrument, Span, instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use lab05_given::{Inventory, Invoice, Order, ShopError, render_invoice};

pub use reference::orders::{Mailer, Receipt};

/// Handles one order: reserves a seat at each of its talks (all at once),
/// renders its invoice, and queues its receipt. The first failed
/// reservation fails the order.
#[instrument(skip_all, fields(order_id = order.id))]
pub async fn handle_order(
    inventory: &Inventory,
    mailer: &Mailer,
    order: Order,
) -> Result<Invoice, ShopError> {
    let mut reservations = JoinSet::new();
    for &talk in &order.talks {
        let inventory = inventory.clone();
        reservations
            .spawn(async move { reserve(&inventory, order.id, talk).await }.in_current_span());
    }
    while let Some(reserved) = reservations.join_next().await {
        reserved.expect("a reservation task does not panic")?;
    }

    let invoice = {
        let (order, span) = (order.clone(), Span::current());
        tokio::task::spawn_blocking(move || span.in_scope(|| render_invoice(&order)))
            .await
            .expect("rendering does not panic")
    };

    mailer.send(Receipt {
        order_id: order.id,
        email: order.email,
        order: Span::current().context().span().span_context().clone(),
    });
    Ok(invoice)
}

/// Takes a seat at `talk` for `order_id`, then writes the reservation to
/// the audit log.
#[instrument(skip(inventory))]
pub async fn reserve(inventory: &Inventory, order_id: u64, talk: u32) -> Result<(), ShopError> {
    // The guard is not kept in a variable: only the seat count is used, so
    // the lock is let go as soon as the count is found.
    match inventory.seats.lock().await.get_mut(&talk) {
        None => Err(ShopError::UnknownTalk(talk)),
        Some(left) if *left == 0 => Err(ShopError::SoldOut(talk)),
        Some(left) => {
            *left -= 1;
            inventory.audit.write(order_id, talk).await;
            Ok(())
        }
    }
}
