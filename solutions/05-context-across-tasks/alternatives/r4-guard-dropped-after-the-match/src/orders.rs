//! Handling an order: `reserve` is this version's own, and `handle_order`
//! is the reference's, calling it; the receipt and the mailer are the
//! reference's.

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
        // A spawned task starts with no current span: this one is given
        // the order's, so that its `reserve` span is the order's child.
        reservations
            .spawn(async move { reserve(&inventory, order.id, talk).await }.in_current_span());
    }
    while let Some(reserved) = reservations.join_next().await {
        reserved.expect("a reservation task does not panic")?;
    }

    // The blocking pool's thread has no current span either: the closure
    // takes the order's along and enters it there.
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
    // The check and the decrement, as one step under the lock. The guard is
    // a temporary of this `match` statement: it is dropped, and the lock
    // let go, where the statement ends.
    match inventory.seats.lock().await.get_mut(&talk) {
        None => return Err(ShopError::UnknownTalk(talk)),
        Some(left) if *left == 0 => return Err(ShopError::SoldOut(talk)),
        Some(left) => *left -= 1,
    }
    // Other reservations go on while this one's audit write waits.
    inventory.audit.write(order_id, talk).await;
    Ok(())
}
