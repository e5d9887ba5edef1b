//! The grader of lab 05. `just lab 5` runs it and explains each result.
//!
//! Each check handles orders (their ids, emails, talks and how many there
//! are drawn at random) on a multi-threaded runtime, several at once, with
//! the telemetry a service has (tracing, and the OpenTelemetry layer
//! exporting every span as it ends, here to memory), then reads the
//! exported spans: their parents, their traces, their links, the thread
//! each began on, their timestamps. It also looks at what is still open
//! while receipts wait in the mailer's queue, and at what the audit log
//! holds. Nothing is timed with a stopwatch.
//!
//! The orders are driven by the check's own thread, not spawned, so that
//! every order's own code runs on that one thread; the runtime has one
//! worker, which runs every spawned task. A span that began on neither
//! began on the blocking pool.

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::Poll;

use grader_kit::scenario::{self, Rng};
use grader_kit::services::{attr, overlap};
use lab05::orders::{Mailer, handle_order};
use lab05::{Inventory, Invoice, Order, ShopError};
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
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
/// default. Each run empties the exporter first (the checks of one
/// process run one after another).
fn exporter() -> &'static InMemorySpanExporter {
    static PIPELINE: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    let (exporter, _provider) = PIPELINE.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry().with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("lab05"))
                // Which thread each span began on: `thread.id`.
                .with_threads(true),
        );
        tracing::subscriber::set_global_default(subscriber)
            .expect("the grader installs the only global subscriber");
        (exporter, provider)
    });
    exporter
}

// ---------------------------------------------------------------------------
// The scenario.

/// `count` orders with distinct random ids, each for `talks` seats drawn
/// from `catalogue`.
fn draw_orders(
    rng: &mut Rng,
    count: usize,
    seats_each: std::ops::RangeInclusive<usize>,
    catalogue: &[u32],
) -> Vec<Order> {
    let ids = scenario::distinct(rng, count, |r| r.u64(1..=999_999));
    ids.into_iter()
        .map(|id| {
            let seats = rng.usize(seats_each.clone());
            let talks: Vec<u32> = (0..seats)
                .map(|_| catalogue[rng.usize(..catalogue.len())])
                .collect();
            let len = rng.usize(3..=8);
            Order {
                id,
                email: format!("{}@example.org", scenario::word(rng, len)),
                talks,
            }
        })
        .collect()
}

/// `count` distinct talk ids.
fn draw_talks(rng: &mut Rng, count: usize) -> Vec<u32> {
    scenario::distinct(rng, count, |r| r.u32(1..=500))
}

/// An inventory with plenty of seats at each of `talks`.
fn plenty(talks: &[u32]) -> Inventory {
    Inventory::new(talks.iter().map(|&talk| (talk, 100)))
}

// ---------------------------------------------------------------------------
// Handling orders.

#[derive(Clone, Copy, PartialEq)]
enum Mail {
    /// The post office is open: receipts go as soon as they are queued.
    Flows,
    /// The post office is closed until every order has been handled, so
    /// that the receipts wait in the mailer's queue.
    Held,
}

/// What happened while the receipts waited in the queue.
struct Queued {
    /// Whether `Mailer::shut_down` waited for them.
    shut_down_waited: bool,
    /// The orders whose `handle_order` span had not ended yet, although
    /// they had returned.
    still_open: Vec<u64>,
}

/// What handling some orders did.
struct Handled {
    /// Each order's result, in the order given.
    results: Vec<(u64, Result<Invoice, ShopError>)>,
    /// Every span, once the mailer has sent what was queued.
    spans: Vec<SpanData>,
    /// With [`Mail::Held`], what was seen while the receipts waited.
    queued: Option<Queued>,
}

/// Opens the post office again when dropped, whatever happened.
struct Reopen;

impl Drop for Reopen {
    fn drop(&mut self) {
        lab05::set_post_office_open(true);
    }
}

/// Drives the futures at once on the current task (not spawned) and
/// returns their outputs in order; the futures themselves are dropped
/// before it returns, as a server drops a request's once it has answered.
async fn all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    drop(futures);
    outputs
        .into_iter()
        .map(|output| output.expect("every future finished"))
        .collect()
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic with a value that is not text)".to_owned())
}

/// Handles `orders` all at once, with the mailer running beside them, and
/// returns their results and every span, once the mailer has sent what
/// was queued.
fn handle(inventory: &Inventory, orders: Vec<Order>, mail: Mail) -> Handled {
    let exporter = exporter();
    exporter.reset();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let reopen = Reopen;
    lab05::set_post_office_open(mail == Mail::Flows);
    let ids: Vec<u64> = orders.iter().map(|o| o.id).collect();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            let mailer = Mailer::start();
            let handling: Vec<_> = orders
                .into_iter()
                .map(|order| handle_order(inventory, &mailer, order))
                .collect();
            let results = all(handling).await;
            let mut shut_down = std::pin::pin!(mailer.shut_down());
            let mut queued = None;
            if mail == Mail::Held {
                let first_look =
                    std::future::poll_fn(|cx| Poll::Ready(shut_down.as_mut().poll(cx))).await;
                // Every order has returned and its work is gone; only its
                // receipt is left, waiting in the queue.
                let ended = exporter.get_finished_spans().unwrap_or_default();
                let still_open = ids
                    .iter()
                    .copied()
                    .filter(|&id| !ended.iter().any(|s| is_of_order(s, "handle_order", id)))
                    .collect();
                lab05::set_post_office_open(true);
                queued = Some(Queued {
                    shut_down_waited: first_look.is_pending(),
                    still_open,
                });
            }
            shut_down.await;
            (results, queued)
        })
    }));
    drop(reopen);
    drop(runtime);
    let (results, queued) = outcome.unwrap_or_else(|payload| {
        panic!(
            "Handling the orders panicked: {}. A reservation task that panics, or a seat \
             count that falls below zero, stops the order; see the message above.",
            panic_text(&*payload)
        )
    });
    let spans = exporter.get_finished_spans().expect("the spans");
    Handled {
        results: ids.into_iter().zip(results).collect(),
        spans,
        queued,
    }
}

// ---------------------------------------------------------------------------
// Reading the spans.

fn is_of_order(span: &SpanData, name: &str, order_id: u64) -> bool {
    span.name == name && attr(span, "order_id").as_deref() == Some(order_id.to_string().as_str())
}

fn of_order<'a>(spans: &'a [SpanData], name: &str, order_id: u64) -> Vec<&'a SpanData> {
    spans
        .iter()
        .filter(|s| is_of_order(s, name, order_id))
        .collect()
}

/// The exported spans, one per line, for messages.
fn describe(spans: &[SpanData]) -> String {
    let lines: Vec<String> = spans
        .iter()
        .map(|s| {
            format!(
                "  {} order_id={} (span {}, parent {}, trace …{}, thread {}, {} link(s))",
                s.name,
                attr(s, "order_id").unwrap_or_default(),
                s.span_context.span_id(),
                s.parent_span_id,
                &s.span_context.trace_id().to_string()[24..],
                attr(s, "thread.id").unwrap_or_default(),
                s.links.links.len()
            )
        })
        .collect();
    if lines.is_empty() {
        "  (none)".to_owned()
    } else {
        lines.join("\n")
    }
}

/// The order's own span, `handle_order` (given its `#[instrument]`).
fn order_span(spans: &[SpanData], order_id: u64) -> &SpanData {
    let found = of_order(spans, "handle_order", order_id);
    let [order] = found.as_slice() else {
        panic!(
            "There should be one `handle_order` span with `order_id` = {order_id}; {} were \
             exported. The order's own span, which the starter already makes, is the one every \
             other span of the order is judged against. Spans:\n{}",
            found.len(),
            describe(spans)
        );
    };
    order
}

/// "the root of a trace of its own" or "a child of span X", for messages.
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

/// Whether `span` is below `ancestor` in its trace, directly or not.
fn descends_from(spans: &[SpanData], span: &SpanData, ancestor: &SpanData) -> bool {
    let trace = ancestor.span_context.trace_id();
    let mut current = span;
    for _ in 0..=spans.len() {
        if current.span_context.trace_id() != trace {
            return false;
        }
        if current.parent_span_id == ancestor.span_context.span_id() {
            return true;
        }
        let parent = spans.iter().find(|s| {
            s.span_context.span_id() == current.parent_span_id && s.span_context.trace_id() == trace
        });
        match parent {
            Some(parent) => current = parent,
            None => return false,
        }
    }
    false
}

fn expect_all_ok(handled: &Handled) {
    for (id, result) in &handled.results {
        assert!(
            result.is_ok(),
            "Order {id} asks for seats that are there, so it succeeds; it ended {result:?}."
        );
    }
}

// ---------------------------------------------------------------------------
// The checks.

fn reservations_stay_in_the_orders_trace() {
    let mut rng = scenario::rng();
    for _ in 0..2 {
        let catalogue = draw_talks(&mut rng, 4);
        let count = rng.usize(2..=4);
        let orders = draw_orders(&mut rng, count, 1..=4, &catalogue);
        let handled = handle(&plenty(&catalogue), orders.clone(), Mail::Flows);
        grader_kit::checks::evidence("The exported spans", describe(&handled.spans));
        expect_all_ok(&handled);
        for order in &orders {
            let id = order.id;
            let order_span = order_span(&handled.spans, id);
            let reservations = of_order(&handled.spans, "reserve", id);
            assert!(
                reservations.len() == order.talks.len(),
                "Order {id} reserves {} seats, so {} `reserve` spans with its `order_id`; {} \
                 were exported: each reservation shows in the trace as a span of its own, as \
                 it does in the starter.",
                order.talks.len(),
                order.talks.len(),
                reservations.len()
            );
            for reservation in reservations {
                assert!(
                    descends_from(&handled.spans, reservation, order_span),
                    "A `reserve` span of order {id} is {}, not inside its order's \
                     `handle_order` span ({} orders were handled at once): the reservation \
                     ran on a task of its own, and its own order's span did not go with it, \
                     so the order's trace lost it (README step 1, `just hint 5`).",
                    place(reservation, order_span),
                    orders.len()
                );
            }
        }
    }
}

fn the_invoice_stays_in_the_orders_trace() {
    let mut rng = scenario::rng();
    let catalogue = draw_talks(&mut rng, 3);
    let count = rng.usize(2..=3);
    let orders = draw_orders(&mut rng, count, 1..=3, &catalogue);
    let handled = handle(&plenty(&catalogue), orders.clone(), Mail::Flows);
    grader_kit::checks::evidence("The exported spans", describe(&handled.spans));
    expect_all_ok(&handled);
    // The threads that ran async code: the one driving the orders (where
    // each `handle_order` span began) and the runtime's worker (where the
    // reservation tasks' spans began).
    let async_threads: Vec<String> = handled
        .spans
        .iter()
        .filter(|s| {
            let name: &str = &s.name;
            ["handle_order", "reserve", "audit_write"].contains(&name)
        })
        .filter_map(|s| attr(s, "thread.id"))
        .collect();
    for order in &orders {
        let id = order.id;
        let order_span = order_span(&handled.spans, id);
        let invoices = of_order(&handled.spans, "render_invoice", id);
        let [invoice] = invoices.as_slice() else {
            panic!(
                "Order {id} renders one invoice, so one `render_invoice` span with its \
                 `order_id`; {} were exported.",
                invoices.len()
            );
        };
        assert!(
            descends_from(&handled.spans, invoice, order_span),
            "The `render_invoice` span of order {id} is {}, not inside its order's \
             `handle_order` span ({} orders were handled at once): on the blocking pool's \
             thread, that order's span was not current while the invoice was rendered, so the \
             rendering lost its place in the order's trace (README step 2, `just hint 5`).",
            place(invoice, order_span),
            orders.len()
        );
        let thread = attr(invoice, "thread.id").unwrap_or_default();
        assert!(
            !async_threads.contains(&thread),
            "The `render_invoice` span of order {id} began on thread {thread}, a thread that \
             runs the orders' async code: the CPU-bound rendering stayed on an async thread, \
             where it holds up every task that thread runs. It belongs on the blocking pool \
             (README step 2)."
        );
    }
}

fn receipts_link_to_their_order() {
    let mut rng = scenario::rng();
    let catalogue = draw_talks(&mut rng, 3);
    let count = rng.usize(2..=3);
    let orders = draw_orders(&mut rng, count, 1..=2, &catalogue);
    let handled = handle(&plenty(&catalogue), orders.clone(), Mail::Held);
    grader_kit::checks::evidence("The exported spans", describe(&handled.spans));
    expect_all_ok(&handled);
    let queued = handled.queued.as_ref().expect("the mail was held");
    assert!(
        queued.shut_down_waited,
        "`Mailer::shut_down` returned while receipts were still waiting to be sent: a \
         receipt queued before the shutdown may never go. It must wait for the mailer's task \
         to send what is queued, as the starter's `shut_down` did."
    );
    let order_traces: Vec<(u64, TraceId)> = orders
        .iter()
        .map(|o| {
            (
                o.id,
                order_span(&handled.spans, o.id).span_context.trace_id(),
            )
        })
        .collect();
    for order in &orders {
        let id = order.id;
        let order_span = order_span(&handled.spans, id);
        let trace = order_span.span_context.trace_id();
        let sends = of_order(&handled.spans, "send_receipt", id);
        let [send] = sends.as_slice() else {
            panic!(
                "The mailer should send order {id}'s receipt in a span of its own, named \
                 `send_receipt`, with the `order_id` as a field; {} such spans were exported \
                 (README step 3).",
                sends.len()
            );
        };
        assert!(
            send.span_context.trace_id() != trace,
            "The `send_receipt` span of order {id} is {}, in the order's own trace. A queued \
             job is not part of the request that queued it (the order's trace would last \
             until the mail went): its span starts a trace of its own, with a link back to \
             the order (README step 3).",
            place(send, order_span)
        );
        let linked = send.links.links.iter().any(|link| {
            link.span_context.trace_id() == trace
                && handled
                    .spans
                    .iter()
                    .any(|s| s.span_context.span_id() == link.span_context.span_id())
        });
        assert!(
            linked,
            "The `send_receipt` span of order {id} has no link to that order's trace ({} \
             link(s), to other spans), so nothing leads from the receipt back to the order: \
             which span queued the receipt was lost on its way through the queue (README step \
             3, `just hint 5`).",
            send.links.links.len()
        );
        let others: Vec<u64> = send
            .links
            .links
            .iter()
            .filter_map(|link| {
                order_traces
                    .iter()
                    .find(|(other, t)| *other != id && *t == link.span_context.trace_id())
                    .map(|(other, _)| *other)
            })
            .collect();
        assert!(
            others.is_empty(),
            "The `send_receipt` span of order {id} also links to order(s) {others:?}: each \
             receipt carries the context of the order that queued it, and only that one \
             ({} orders were queued at once, README step 3).",
            orders.len()
        );
        let deliveries = of_order(&handled.spans, "deliver", id);
        let [delivery] = deliveries.as_slice() else {
            panic!(
                "Order {id}'s receipt should be delivered once, in one `deliver` span; {} were \
                 exported.",
                deliveries.len()
            );
        };
        assert!(
            is_child_of(delivery, send),
            "The `deliver` span of order {id} is {}, not a child of its `send_receipt` span: \
             the span made for the job must be the one the job runs in, from its start to its \
             end (README step 3).",
            place(delivery, order_span)
        );
        assert!(
            !queued.still_open.contains(&id),
            "Order {id} had returned, and its receipt was waiting in the mailer's queue (the \
             post office was closed), yet its `handle_order` span had not ended: something in \
             the queued receipt held on to the order's span, which then lasts as long as the \
             mail takes, and its trace with it (README step 3)."
        );
    }
}

fn reservations_do_not_wait_for_each_others_audit() {
    let mut rng = scenario::rng();
    // Enough seats: the reservations of one order, each with its audit
    // write, at talks that may repeat.
    let talks = rng.usize(1..=3);
    let catalogue = draw_talks(&mut rng, talks);
    let mut order = draw_orders(&mut rng, 1, 3..=6, &catalogue).remove(0);
    let id = order.id;
    let inventory = plenty(&catalogue);
    let handled = handle(&inventory, vec![order.clone()], Mail::Flows);
    grader_kit::checks::evidence("The exported spans", describe(&handled.spans));
    expect_all_ok(&handled);
    let writes = of_order(&handled.spans, "audit_write", id);
    assert!(
        writes.len() == order.talks.len(),
        "Order {id} makes {} reservations, so {} audit writes (`audit_write` spans with its \
         `order_id`); {} were exported.",
        order.talks.len(),
        order.talks.len(),
        writes.len()
    );
    for (i, write) in writes.iter().enumerate() {
        assert!(
            writes
                .iter()
                .enumerate()
                .any(|(j, other)| i != j && overlap(write, other)),
            "Of the {} audit writes of order {id}, one ran while no other did: each began only \
             when another had ended, although the reservations run at once: something every \
             reservation needs stays held for the whole of each slow write, so each waits for \
             all the others' (README step 4, `just hint 5`).",
            writes.len()
        );
    }
    let entries = inventory.audit.entries();
    let written = entries.iter().filter(|(order, _)| *order == id).count();
    assert!(
        written == order.talks.len(),
        "Order {id} made {} reservations, but the audit log holds {written} of them.",
        order.talks.len()
    );

    // Releasing the lock early must not sell a seat twice, nor record a
    // seat nobody got: more seats asked at once than are left give as many
    // as there are, a refusal, and no record beyond the seats taken.
    let talk = rng.u32(501..=999);
    let left = rng.u32(2..=4);
    let inventory = Inventory::new([(talk, left)]);
    let asked = left as usize + rng.usize(1..=2);
    order.id = rng.u64(1_000_000..=1_999_999);
    order.talks = vec![talk; asked];
    let greedy = order.id;
    let handled = handle(&inventory, vec![order.clone()], Mail::Flows);
    let result = &handled.results[0].1;
    let now_left = seats_left(&inventory, talk);
    assert!(
        *result == Err(ShopError::SoldOut(talk)) && now_left == Some(0),
        "{asked} seats at talk {talk} asked at once where {left} are left: {left} are taken, \
         the others refused as sold out, and none is left; here the order ended {result:?} \
         with {now_left:?} seats left. Reservations running at once must never, between \
         them, take more seats than there are, nor refuse one while a seat is free (README \
         step 4)."
    );
    let recorded = audit_count(&inventory, greedy, talk);
    assert!(
        recorded <= left as usize,
        "{asked} seats at talk {talk} asked at once where {left} were left: at most {left} \
         were taken, but the audit log holds {recorded} reservations of them. A refused \
         reservation took no seat, and is not written to the audit log (README step 4)."
    );

    // A talk already sold out: the reservation is refused, and nothing of
    // it is written. Maybe beside a seat that is there.
    let other_talk = rng.u32(1..=500);
    add_seats(&inventory, other_talk);
    order.id = rng.u64(2_000_000..=2_999_999);
    order.talks = if rng.bool() {
        vec![talk, other_talk]
    } else {
        vec![talk]
    };
    rng.shuffle(&mut order.talks);
    let late = order.id;
    let handled = handle(&inventory, vec![order], Mail::Flows);
    let result = &handled.results[0].1;
    assert!(
        *result == Err(ShopError::SoldOut(talk)),
        "Order {late} asks for a seat at talk {talk}, which is sold out: it is refused as \
         sold out; it ended {result:?}."
    );
    let recorded = audit_count(&inventory, late, talk);
    assert!(
        recorded == 0,
        "Order {late}'s reservation at talk {talk} was refused (the talk was sold out), yet \
         the audit log holds {recorded} record(s) of it: the audit log records the seats \
         taken, and a refused reservation took none (README step 4)."
    );
}

/// Puts plenty of seats at `talk` in the inventory.
fn add_seats(inventory: &Inventory, talk: u32) {
    block_on(async {
        inventory.seats.lock().await.entry(talk).or_insert(100);
    });
}

fn seats_left(inventory: &Inventory, talk: u32) -> Option<u32> {
    block_on(inventory.seats_left(talk))
}

fn audit_count(inventory: &Inventory, order_id: u64, talk: u32) -> usize {
    inventory
        .audit
        .entries()
        .iter()
        .filter(|&&entry| entry == (order_id, talk))
        .count()
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(future)
}
