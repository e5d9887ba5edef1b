//! Handling an order: its seats are reserved in tasks of their own, its
//! invoice is rendered on the blocking pool, and its receipt is queued for
//! the mailer task, with the order's trace context in its headers.
//!
//! Every function here is this design's own; the shop's types come through
//! the reference solution, which takes them from the lab's given code.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{Instrument, Span, instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use reference::{Inventory, Invoice, Order, ShopError, deliver, render_invoice};

/// Handles one order: reserves a seat at each of its talks (all at once),
/// renders its invoice, and queues its receipt. The first failed
/// reservation fails the order.
#[instrument(skip_all, fields(order_id = order.id))]
pub async fn handle_order(
    inventory: &Inventory,
    mailer: &Mailer,
    order: Order,
) -> Result<Invoice, ShopError> {
    let order_id = order.id;
    // `in_current_span` is called here, on the order's task, where the
    // order's span is current: each task takes it along.
    let mut reservations: JoinSet<Result<(), ShopError>> = order
        .talks
        .iter()
        .map(|&talk| {
            let inventory = inventory.clone();
            async move { reserve(&inventory, order_id, talk).await }.in_current_span()
        })
        .collect();
    while let Some(reserved) = reservations.join_next().await {
        reserved.expect("a reservation task does not panic")?;
    }

    let span = Span::current();
    let for_invoice = order.clone();
    let invoice = tokio::task::spawn_blocking(move || {
        let _entered = span.entered();
        render_invoice(&for_invoice)
    })
    .await
    .expect("rendering does not panic");

    // The order's span context, written as a message's headers would carry
    // it: ids only, so the order's span ends when the order does.
    let mut headers: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&Span::current().context(), &mut headers);
    mailer.send(Receipt {
        order_id: order.id,
        email: order.email,
        headers,
    });
    Ok(invoice)
}

/// Takes a seat at `talk` for `order_id`, then writes the reservation to
/// the audit log.
#[instrument(skip(inventory))]
pub async fn reserve(inventory: &Inventory, order_id: u64, talk: u32) -> Result<(), ShopError> {
    take_seat(inventory, talk).await?;
    inventory.audit.write(order_id, talk).await;
    Ok(())
}

/// Checks and takes a seat at `talk`, in one step under the lock. The guard
/// lives as long as this function: the lock is free once it returns.
async fn take_seat(inventory: &Inventory, talk: u32) -> Result<(), ShopError> {
    let mut seats = inventory.seats.lock().await;
    let left = seats.get_mut(&talk).ok_or(ShopError::UnknownTalk(talk))?;
    if *left == 0 {
        return Err(ShopError::SoldOut(talk));
    }
    *left -= 1;
    Ok(())
}

/// A receipt to send, queued by the order for the mailer task. `headers`
/// holds the W3C trace context (`traceparent`, `tracestate`) of the span
/// that queued it.
#[derive(Debug)]
pub struct Receipt {
    pub order_id: u64,
    pub email: String,
    pub headers: HashMap<String, String>,
}

/// Sends one receipt, in a `send_receipt` span linked to the span that
/// queued it (a link, not a parent: the order's trace ends first).
#[instrument(name = "send_receipt", skip_all, fields(order_id = receipt.order_id))]
async fn send_receipt(receipt: Receipt) {
    let queued_by = TraceContextPropagator::new().extract(&receipt.headers);
    Span::current().add_link(queued_by.span().span_context().clone());
    deliver(receipt.order_id, &receipt.email).await;
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
                send_receipt(receipt).await;
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
