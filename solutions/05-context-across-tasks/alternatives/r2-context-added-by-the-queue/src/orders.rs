//! Handling an order: its seats are reserved in tasks of their own, its
//! invoice is rendered on the blocking pool, and its receipt is queued for
//! the mailer task. Each of those moves work off the order's task; each
//! takes the order's span along, and the queue its context.

use opentelemetry::trace::{SpanContext, TraceContextExt};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{Instrument, Span, info_span, instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use lab05_given::{Inventory, Invoice, Order, ShopError, deliver, render_invoice};

pub use reference::orders::reserve;

/// Handles one order: reserves a seat at each of its talks (all at once),
/// renders its invoice, and queues its receipt. The first failed
/// reservation fails the order.
#[instrument(skip_all, fields(order_id = order.id))]
pub async fn handle_order(
    inventory: &Inventory,
    mailer: &Mailer,
    order: Order,
) -> Result<Invoice, ShopError> {
    let order_span = Span::current();
    let mut reservations = JoinSet::new();
    for &talk in &order.talks {
        let inventory = inventory.clone();
        let order_id = order.id;
        reservations.spawn(
            async move { reserve(&inventory, order_id, talk).await }.instrument(order_span.clone()),
        );
    }
    while let Some(reserved) = reservations.join_next().await {
        reserved.expect("a reservation task does not panic")?;
    }

    let rendering = order.clone();
    let invoice =
        tokio::task::spawn_blocking(move || order_span.in_scope(|| render_invoice(&rendering)))
            .await
            .expect("rendering does not panic");

    // Queued from inside the order's span: `send` takes its context.
    mailer.send(Receipt {
        order_id: order.id,
        email: order.email,
    });
    Ok(invoice)
}

/// A receipt to send, queued by the order for the mailer task.
#[derive(Debug)]
pub struct Receipt {
    pub order_id: u64,
    pub email: String,
}

/// What waits in the queue: the receipt, and the ids of the span that
/// queued it, as a message's trace headers would carry them (not the span
/// itself, which would stay open until the mail went).
struct Queued {
    receipt: Receipt,
    sender: SpanContext,
}

/// The mailer: a task that sends the receipts queued to it, one by one.
pub struct Mailer {
    queue: mpsc::UnboundedSender<Queued>,
    task: JoinHandle<()>,
}

impl Mailer {
    /// Starts the mailer's task on the current runtime.
    pub fn start() -> Self {
        let (queue, mut receipts) = mpsc::unbounded_channel::<Queued>();
        let task = tokio::spawn(async move {
            while let Some(Queued { receipt, sender }) = receipts.recv().await {
                // A trace of its own, linked to the span that queued it.
                let span = info_span!("send_receipt", order_id = receipt.order_id);
                span.add_link(sender);
                deliver(receipt.order_id, &receipt.email)
                    .instrument(span)
                    .await;
            }
        });
        Self { queue, task }
    }

    /// Queues a receipt, with the context of the span current here.
    pub fn send(&self, receipt: Receipt) {
        let sender = Span::current().context().span().span_context().clone();
        // The task ends only when every sender is gone.
        self.queue
            .send(Queued { receipt, sender })
            .unwrap_or_else(|_| panic!("the mailer runs until it is shut down"));
    }

    /// Sends what is queued, then stops.
    pub async fn shut_down(self) {
        drop(self.queue);
        self.task.await.expect("the mailer does not panic");
    }
}
