//! Handling an order: its seats are reserved in tasks of their own, its
//! invoice is rendered on the blocking pool, and its receipt is queued for
//! the mailer task. Each of those moves work off the order's task, and with
//! it, off the order's trace.

use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::instrument;

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
        // TODO(step 1): this task starts with no current span, so its
        // `reserve` span starts a trace of its own. Keep it in this one.
        // Where to look: `tracing::Instrument` (`in_current_span`).
        reservations.spawn(async move { reserve(&inventory, order.id, talk).await });
    }
    while let Some(reserved) = reservations.join_next().await {
        reserved.expect("a reservation task does not panic")?;
    }

    // TODO(step 2): the blocking pool's thread has no current span either.
    // Take this one along and enter it there. Where to look: `Span::current`
    // and `Span::in_scope`.
    let invoice = {
        let order = order.clone();
        tokio::task::spawn_blocking(move || render_invoice(&order))
            .await
            .expect("rendering does not panic")
    };

    mailer.send(Receipt {
        order_id: order.id,
        email: order.email,
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
    // TODO(step 4): the lock is still held here, across a slow `.await`:
    // every other reservation, of every order, waits for this write. The
    // seat is taken; let the lock go before the write.
    inventory.audit.write(order_id, talk).await;
    Ok(())
}

/// A receipt to send, queued by the order for the mailer task.
// TODO(step 3): a job that waits in a queue outlives the request that
// queued it. Carry which span queued it, so that the mailer can link its own
// span to it: the span's ids (an OpenTelemetry `SpanContext`, as a message's
// headers would carry them), not a clone of the `Span`, which would keep the
// order's span open until the mail went. Where to look:
// `tracing_opentelemetry::OpenTelemetrySpanExt::context`.
#[derive(Debug)]
pub struct Receipt {
    pub order_id: u64,
    pub email: String,
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
                // TODO(step 3): each receipt gets a span of its own, named
                // `send_receipt`, with the `order_id`, linked to the span of
                // the order that queued it: a link, not a parent, since the
                // order's trace ends before the mail goes. Where to look:
                // `OpenTelemetrySpanExt::add_link`, and `tracing::Instrument`.
                deliver(receipt.order_id, &receipt.email).await;
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
