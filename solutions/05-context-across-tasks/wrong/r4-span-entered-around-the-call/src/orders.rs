//! Handling an order: `handle_order` is this version's own; `reserve`, the
//! receipt and the mailer are the reference's.

use opentelemetry::trace::TraceContextExt;
use tokio::task::JoinSet;
use tracing::{Span, instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use lab05_given::{Inventory, Invoice, Order, ShopError, render_invoice};
pub use reference::orders::{Mailer, Receipt, reserve};

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
        // The order's span, picked up here on the order's task, and entered
        // in the task around the call to `reserve`, as on the blocking pool.
        let (inventory, span) = (inventory.clone(), Span::current());
        reservations
            .spawn(async move { span.in_scope(|| reserve(&inventory, order.id, talk)).await });
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
