//! Handling an order: its seats are reserved on the order's own task, its
//! invoice is rendered on the blocking pool, and its receipt is queued for
//! the mailer task. `reserve`, the receipt and the mailer are the
//! reference's.

use opentelemetry::trace::TraceContextExt;
use tracing::{Span, instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use lab05_given::{Inventory, Invoice, Order, ShopError, render_invoice};
pub use reference::orders::{Mailer, Receipt, reserve};

/// Handles one order: reserves a seat at each of its talks, renders its
/// invoice, and queues its receipt. The first failed reservation fails the
/// order.
#[instrument(skip_all, fields(order_id = order.id))]
pub async fn handle_order(
    inventory: &Inventory,
    mailer: &Mailer,
    order: Order,
) -> Result<Invoice, ShopError> {
    // Nothing is spawned: each reservation runs here, where the order's
    // span is current, so its `reserve` span is the order's child.
    for &talk in &order.talks {
        reserve(inventory, order.id, talk).await?;
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
