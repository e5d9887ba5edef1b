//! Handling an order, another way: the order's span is given to each task
//! explicitly and entered with a guard on the blocking pool, and the seats
//! lock's guard is dropped by name before the audit write.

use lab05_given::{Inventory, Invoice, Order, ShopError, render_invoice};
use opentelemetry::trace::TraceContextExt;
use tokio::task::JoinSet;
use tracing::{Instrument, Span, instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;

// The mailer and its receipts are the reference solution's: this design
// differs in how the order's span reaches its tasks, and in the lock.
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
    let span = Span::current();
    let mut reservations = JoinSet::new();
    for &talk in &order.talks {
        let inventory = inventory.clone();
        let reservation = async move { reserve(&inventory, order.id, talk).await };
        reservations.spawn(reservation.instrument(span.clone()));
    }
    while let Some(reserved) = reservations.join_next().await {
        reserved.expect("a reservation task does not panic")?;
    }

    // The blocking pool's thread has no current span either: the closure
    // takes the order's along and enters it there.
    let invoice = {
        let order = order.clone();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            render_invoice(&order)
        })
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
    let mut seats = inventory.seats.lock().await;
    let left = seats.get_mut(&talk).ok_or(ShopError::UnknownTalk(talk))?;
    if *left == 0 {
        return Err(ShopError::SoldOut(talk));
    }
    *left -= 1;
    drop(seats);
    // The seat is taken and the lock released: other reservations go on
    // while this one's audit write waits.
    inventory.audit.write(order_id, talk).await;
    Ok(())
}
