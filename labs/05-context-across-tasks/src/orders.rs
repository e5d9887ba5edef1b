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
        // TODO(step 1): each reservation task must run inside the span of
        // the order that spawned it: not another order's, and not none. Why
        // is its `reserve` span the root of a trace of its own today, and
        // where is the order's span picked up (README step 1)? Where to
        // look: the `tracing::Instrument` trait, and "In Asynchronous Code"
        // on the `Span` page.
        reservations.spawn(async move { reserve(&inventory, order.id, talk).await });
    }
    while let Some(reserved) = reservations.join_next().await {
        reserved.expect("a reservation task does not panic")?;
    }

    // TODO(step 2): the invoice stays on the blocking pool, and its
    // rendering belongs in the order's trace. Which span must be current on
    // that thread while it renders, and on which thread can you still get
    // hold of it (README step 2)? Where to look: `Span::current`, and the
    // ways a span is entered for the length of some work (`Span::in_scope`,
    // `Span::enter`, `Span::entered`).
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
    // TODO(step 4): reservations running at once must never take more seats
    // than there are, nor refuse one while a seat is free, and their audit
    // writes need not wait for one another. Decide which of these lines need
    // the seats lock, and whether a refused reservation leaves an audit
    // record (README step 4). Where to look: `tokio::sync::Mutex`, and when
    // its `MutexGuard` lets the lock go.
    inventory.audit.write(order_id, talk).await;
    Ok(())
}

/// A receipt to send, queued by the order for the mailer task.
// TODO(step 3): a receipt waits in the queue until after its order has
// answered. Decide how the mailer's span for it relates to the order's span,
// then what this struct must carry for the mailer to make that relation, and
// what it must not carry: a `Span` is a handle, and its span stays open while
// any clone of it lives (README step 3). Where to look: links in
// OpenTelemetry's trace concepts, and
// `tracing_opentelemetry::OpenTelemetrySpanExt`.
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
                // TODO(step 3): each receipt is delivered inside a span
                // named `send_receipt`, with the receipt's `order_id`, related
                // to the order that queued it as you decided above; `deliver`
                // runs inside it from start to end. Where to look:
                // `OpenTelemetrySpanExt` (README step 3), and
                // `tracing::Instrument`.
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
