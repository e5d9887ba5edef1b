//! The grader of lab 05. `just lab 5` runs it and explains each result.
//!
//! Each check handles orders on a multi-threaded runtime, with the
//! telemetry a service has (tracing, and the OpenTelemetry layer exporting
//! every span, here to memory), then reads the exported spans: their
//! parents, their traces, their links, their timestamps. Nothing is timed
//! with a stopwatch.

use std::sync::OnceLock;
use std::task::Poll;

use grader_kit::services::{attr, overlap};
use lab05::orders::{Mailer, handle_order};
use lab05::{Inventory, Invoice, Order, ShopError};
use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::prelude::*;

grader_kit::checks![
    reservations_stay_in_the_orders_trace,
    the_invoice_stays_in_the_orders_trace,
    receipts_link_to_their_order,
    reservations_do_not_wait_for_each_others_audit,
];

/// Where every span goes. The subscriber is the process's global one, as
/// in a service: the blocking pool's threads are not reached by a scoped
/// default. Each check empties the exporter first (the checks of one
/// process run one after another).
fn exporter() -> &'static InMemorySpanExporter {
    static PIPELINE: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    let (exporter, _provider) = PIPELINE.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("lab05")));
        tracing::subscriber::set_global_default(subscriber)
            .expect("the grader installs the only global subscriber");
        (exporter, provider)
    });
    exporter
}

/// Handles `orders` one after another, with the mailer running beside
/// them; returns each order's result and every span, once the mailer has
/// sent what was queued.
fn handle(
    inventory: &Inventory,
    orders: Vec<Order>,
) -> (Vec<Result<Invoice, ShopError>>, Vec<SpanData>) {
    handle_orders(inventory, orders, Mail::Flows)
}

/// [`handle`], with the post office closed until every order is handled:
/// the receipts wait in the mailer's queue, and `Mailer::shut_down` must
/// wait for them to go.
fn handle_with_mail_held(
    inventory: &Inventory,
    orders: Vec<Order>,
) -> (Vec<Result<Invoice, ShopError>>, Vec<SpanData>) {
    handle_orders(inventory, orders, Mail::Held)
}

#[derive(Clone, Copy, PartialEq)]
enum Mail {
    Flows,
    Held,
}

/// Opens the post office again when dropped, whatever happened.
struct Reopen;

impl Drop for Reopen {
    fn drop(&mut self) {
        lab05::set_post_office_open(true);
    }
}

fn handle_orders(
    inventory: &Inventory,
    orders: Vec<Order>,
    mail: Mail,
) -> (Vec<Result<Invoice, ShopError>>, Vec<SpanData>) {
    let exporter = exporter();
    exporter.reset();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let reopen = Reopen;
    lab05::set_post_office_open(mail == Mail::Flows);
    let results = runtime.block_on(async {
        let mailer = Mailer::start();
        let mut results = Vec::new();
        for order in orders {
            results.push(handle_order(inventory, &mailer, order).await);
        }
        let mut shut_down = std::pin::pin!(mailer.shut_down());
        if mail == Mail::Held {
            let first_look =
                std::future::poll_fn(|cx| Poll::Ready(shut_down.as_mut().poll(cx))).await;
            lab05::set_post_office_open(true);
            assert!(
                first_look.is_pending(),
                "`Mailer::shut_down` returned while receipts were still waiting to be sent: \
                 it must wait for the mailer's task to send what is queued (the starter's \
                 `shut_down` does: drop the queue, then await the task)."
            );
        }
        shut_down.await;
        results
    });
    drop(reopen);
    drop(runtime);
    let spans = exporter.get_finished_spans().expect("the spans");
    (results, spans)
}

fn order(id: u64, talks: &[u32]) -> Order {
    Order {
        id,
        email: format!("buyer{id}@example.org"),
        talks: talks.to_vec(),
    }
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn of_order<'a>(spans: &'a [SpanData], name: &str, order_id: u64) -> Vec<&'a SpanData> {
    named(spans, name)
        .into_iter()
        .filter(|s| attr(s, "order_id").as_deref() == Some(order_id.to_string().as_str()))
        .collect()
}

/// The order's own span, `handle_order` (given its `#[instrument]`).
fn order_span(spans: &[SpanData], order_id: u64) -> &SpanData {
    of_order(spans, "handle_order", order_id)
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            panic!(
                "No `handle_order` span with `order_id` = {order_id} was exported: keep the \
                 `#[instrument]` on `handle_order`. Spans: {:?}",
                spans.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>()
            )
        })
}

/// "a root of a trace of its own" or "a child of span X", for messages.
fn place(span: &SpanData, order: &SpanData) -> String {
    if span.parent_span_id == SpanId::INVALID {
        "the root of a trace of its own".to_owned()
    } else if span.span_context.trace_id() != order.span_context.trace_id() {
        "in another trace".to_owned()
    } else {
        format!("a child of span {}", span.parent_span_id)
    }
}

fn is_child_of(span: &SpanData, parent: &SpanData) -> bool {
    span.parent_span_id == parent.span_context.span_id()
        && span.span_context.trace_id() == parent.span_context.trace_id()
}

fn reservations_stay_in_the_orders_trace() {
    let inventory = Inventory::new([(1, 5), (2, 5), (3, 5)]);
    for (id, talks) in [(41, vec![1, 2, 3]), (42, vec![2, 3])] {
        let (results, spans) = handle(&inventory, vec![order(id, &talks)]);
        assert!(results[0].is_ok(), "order {id} succeeds: {:?}", results[0]);
        let order = order_span(&spans, id);
        let reservations = of_order(&spans, "reserve", id);
        assert_eq!(
            reservations.len(),
            talks.len(),
            "Order {id} reserves {} seats, so {} `reserve` spans; {} were exported. Keep the \
             `#[instrument]` on `reserve`.",
            talks.len(),
            talks.len(),
            reservations.len()
        );
        for reservation in reservations {
            assert!(
                is_child_of(reservation, order),
                "A `reserve` span of order {id} is {}, not a child of its `handle_order` \
                 span: its task started with no current span. A task spawned on a `JoinSet` \
                 (or with `tokio::spawn`) does not inherit the spawner's span; give it this \
                 one with `.in_current_span()` (or `.instrument(Span::current())`) on the \
                 future you spawn (README step 1).",
                place(reservation, order)
            );
        }
    }
}

fn the_invoice_stays_in_the_orders_trace() {
    let inventory = Inventory::new([(1, 5), (2, 5)]);
    for id in [51, 52] {
        let (results, spans) = handle(&inventory, vec![order(id, &[1, 2])]);
        assert!(results[0].is_ok(), "order {id} succeeds: {:?}", results[0]);
        let order = order_span(&spans, id);
        let invoices = of_order(&spans, "render_invoice", id);
        let [invoice] = invoices.as_slice() else {
            panic!(
                "Order {id} renders one invoice, so one `render_invoice` span; {} were \
                 exported.",
                invoices.len()
            );
        };
        assert!(
            is_child_of(invoice, order),
            "The `render_invoice` span of order {id} is {}, not a child of its \
             `handle_order` span: the blocking pool's thread has no current span. Take the \
             span along into the closure (`let span = Span::current();`) and run the work \
             inside it (`span.in_scope(|| …)`) (README step 2).",
            place(invoice, order)
        );
    }
}

fn receipts_link_to_their_order() {
    let inventory = Inventory::new([(1, 5)]);
    let ids = [61, 62];
    let orders = ids.iter().map(|&id| order(id, &[1])).collect();
    let (results, spans) = handle_with_mail_held(&inventory, orders);
    assert!(
        results.iter().all(Result::is_ok),
        "both orders succeed: {results:?}"
    );
    for id in ids {
        let order = order_span(&spans, id);
        let sends = of_order(&spans, "send_receipt", id);
        let [send] = sends.as_slice() else {
            panic!(
                "The mailer should send order {id}'s receipt in a span of its own, named \
                 `send_receipt`, with the `order_id` as a field; {} such spans were exported \
                 (README step 3).",
                sends.len()
            );
        };
        assert!(
            !is_child_of(send, order),
            "The `send_receipt` span of order {id} is a child of the order's span. A queued \
             job is not part of the request that queued it: the order's trace would wait \
             for the mail. Give the job's span a link to the order's span context instead \
             (`span.add_link(context)`), and no parent from the order (README step 3)."
        );
        let linked = send
            .links
            .links
            .iter()
            .any(|link| link.span_context.span_id() == order.span_context.span_id());
        assert!(
            linked,
            "The `send_receipt` span of order {id} has no link to that order's \
             `handle_order` span ({} link(s), to other spans), so nothing leads from the \
             receipt back to the order. Carry the order's span context in the queued \
             `Receipt`, and in the mailer add a link to it on the `send_receipt` span \
             (`OpenTelemetrySpanExt::add_link`, README step 3).",
            send.links.links.len()
        );
    }
}

fn reservations_do_not_wait_for_each_others_audit() {
    // Enough seats: four reservations of one order, each with its audit write.
    let inventory = Inventory::new([(1, 10)]);
    let (results, spans) = handle(&inventory, vec![order(71, &[1, 1, 1, 1])]);
    assert!(results[0].is_ok(), "order 71 succeeds: {:?}", results[0]);
    let writes = of_order(&spans, "audit_write", 71);
    assert_eq!(writes.len(), 4, "four reservations, four audit writes");
    for (i, write) in writes.iter().enumerate() {
        assert!(
            writes
                .iter()
                .enumerate()
                .any(|(j, other)| i != j && overlap(write, other)),
            "The four audit writes of one order ran one after another: each began only when \
             the one before had ended, although the reservations run at once. The seats lock \
             is held across the slow write, so every reservation waits for every other's. \
             Release the lock once the seat is taken, before the write (README step 4)."
        );
    }

    // Releasing the lock early must not sell a seat twice: four at once,
    // for three seats left, give three reservations and one refusal.
    let inventory = Inventory::new([(2, 3)]);
    let (results, _) = handle(&inventory, vec![order(72, &[2, 2, 2, 2])]);
    let left = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(inventory.seats_left(2));
    assert_eq!(
        (&results[0], left),
        (&Err(ShopError::SoldOut(2)), Some(0)),
        "Four seats asked at once where three are left: three are taken, the fourth is \
         refused as sold out, and none is left; here the order ended {:?} with {:?} seats \
         left. Take the seat \
         (check and decrement) while holding the lock; only the audit write goes after it \
         (README step 4).",
        results[0],
        left
    );
}
