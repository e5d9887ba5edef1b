//! Handling an order: its seats are reserved in tasks of their own, its
//! invoice is rendered on the blocking pool, and its receipt is queued for
//! the mailer task. Each of those moves work off the order's task; each
//! takes the order's span along, so that the order's trace keeps it.

use opentelemetry::trace::{SpanContext, TraceContextExt};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{Instrument, Span, info_span, instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use lab05_given::{Inventory, Invoice, Order, ShopError, deliver, render_invoice};

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
    {
        let mut seats = inventory.seats.lock().await;
        let left = seats.get_mut(&talk).ok_or(ShopError::UnknownTalk(talk))?;
        if *left == 0 {
            return Err(ShopError::SoldOut(talk));
        }
        *left -= 1;
    }
    // The seat is taken and the lock released: other reservations go on
    // while this one's audit write waits.
    inventory.audit.write(order_id, talk).await;
    Ok(())
}

/// A receipt to send, queued by the order for the mailer task. It carries
/// which span queued it, as an OpenTelemetry `SpanContext`: the ids, as a
/// message's headers would carry them. A clone of the `Span` itself would
/// keep the order's span open, and the order's trace would seem to last
/// until the mail went.
#[derive(Debug)]
pub struct Receipt {
    pub order_id: u64,
    pub email: String,
    pub order: SpanContext,
}

/// The mailer: a task that sends the receipts queued to it, one by one.
pub struct Mailer {
    queue: mpsc::UnboundedSender<Receipt>,
    task: JoinHandle<()>,
}

impl Mailer {
    /// Starts the mailer's task on the current runtime.
    pub fn start() -> Self {
        let (queue, mut receipts) = mpsc::unbounded_channel::<Receipt>();
        let task = tokio::spawn(async move {
            while let Some(receipt) = receipts.recv().await {
                // A span of its own, not the order's child (the order's trace
                // ends before the mail goes), linked to the order's.
                let span = info_span!("send_receipt", order_id = receipt.order_id);
                span.add_link(receipt.order);
                deliver(receipt.order_id, &receipt.email)
                    .instrument(span)
                    .await;
            }
        });
        Self { queue, task }
    }

    /// Queues a receipt.
    pub fn send(&self, receipt: Receipt) {
        // The task ends only when every sender is gone.
        self.queue
            .send(receipt)
            .expect("the mailer runs until it is shut down");
    }

    /// Sends what is queued, then stops.
    pub async fn shut_down(self) {
        drop(self.queue);
        self.task.await.expect("the mailer does not panic");
    }
}
