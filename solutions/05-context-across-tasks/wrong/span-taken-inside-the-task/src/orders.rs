//! Handling an order: its seats are reserved in tasks of their own, its
//! invoice is rendered on the blocking pool, and its receipt is queued for
//! the mailer task.

use opentelemetry::trace::TraceContextExt;
use tokio::task::JoinSet;
use tracing::{Instrument, Span, instrument};
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
        let inventory = inventory.clone();
        // Each reservation runs in the current span, the order's.
        reservations
            .spawn(async move { reserve(&inventory, order.id, talk).in_current_span().await });
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
