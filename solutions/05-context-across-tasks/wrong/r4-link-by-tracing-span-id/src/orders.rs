//! Handling an order: its seats are reserved in tasks of their own, its
//! invoice is rendered on the blocking pool, and its receipt is queued for
//! the mailer task, with the `Id` of the order's span.

use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{Id, Instrument, Span, info_span, instrument};

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

    // The span's id, not the span: nothing keeps the order's span open.
    mailer.send(Receipt {
        order_id: order.id,
        email: order.email,
        order: Span::current().id(),
    });
    Ok(invoice)
}

/// A receipt to send, queued by the order for the mailer task, with the id
/// of the span that queued it.
#[derive(Debug)]
pub struct Receipt {
    pub order_id: u64,
    pub email: String,
    pub order: Option<Id>,
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
                // A span of its own, which follows from the order's.
                let span = info_span!("send_receipt", order_id = receipt.order_id);
                span.follows_from(receipt.order);
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
