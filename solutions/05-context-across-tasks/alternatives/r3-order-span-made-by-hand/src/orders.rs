//! Handling an order: `handle_order` is this version's own; `reserve`, the
//! receipt and the mailer are the reference's.

use opentelemetry::trace::TraceContextExt;
use tokio::task::JoinSet;
use tracing::{Instrument, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use lab05_given::{Inventory, Invoice, Order, ShopError, render_invoice};
pub use reference::orders::{Mailer, Receipt, reserve};

/// Handles one order: reserves a seat at each of its talks (all at once),
/// renders its invoice, and queues its receipt. The first failed
/// reservation fails the order.
///
/// The order's span is a value made here and given by name to the work
/// that leaves this task; it ends when this function returns and drops it.
pub async fn handle_order(
    inventory: &Inventory,
    mailer: &Mailer,
    order: Order,
) -> Result<Invoice, ShopError> {
    let order_span = info_span!("handle_order", order_id = order.id);

    let mut reservations = JoinSet::new();
    for &talk in &order.talks {
        let (inventory, span) = (inventory.clone(), order_span.clone());
        // The span is picked up here, on the order's task, and the call to
        // `reserve` runs inside it wherever the task is polled.
        reservations
            .spawn(async move { reserve(&inventory, order.id, talk).instrument(span).await });
    }
    while let Some(reserved) = reservations.join_next().await {
        reserved.expect("a reservation task does not panic")?;
    }

    let invoice = {
        let (order, span) = (order.clone(), order_span.clone());
        tokio::task::spawn_blocking(move || {
            let _entered = span.entered();
            render_invoice(&order)
        })
        .await
        .expect("rendering does not panic")
    };

    mailer.send(Receipt {
        order_id: order.id,
        email: order.email,
        order: order_span.context().span().span_context().clone(),
    });
    Ok(invoice)
}
