//! The grader of lab 01. `just lab 1` runs it and explains each result;
//! `cargo test -p lab01` runs it too.
//!
//! Each check places one order under an in-memory subscriber and inspects the
//! spans and events it produced. A failure says what was expected, what your
//! code recorded, and which step of the README to revisit.

use grader_kit::{Captured, SpanRecord, capture};
use lab01::{CardNumber, Order, OrderError, Receipt, Ticket, place_order};
use tracing::Level;

grader_kit::checks![
    place_order_has_a_span,
    span_records_order_id,
    each_step_is_a_child_span,
    price_span_records_total,
    success_emits_info_event,
    rejection_emits_warn_event,
    declined_charge_emits_error_event,
    card_number_never_logged,
];

const GOOD_CARD: &str = "4242424242424242";
const OTHER_GOOD_CARD: &str = "4012888888881881";
/// Ends in 0002: always declined.
const DECLINED_CARD: &str = "4000000000000002";

/// A valid order and what it should record. Checks place two, with
/// different values, so that no constant passes for a field.
struct GoodOrder {
    id: u64,
    customer: &'static str,
    tickets: Vec<Ticket>,
    card: &'static str,
    total_cents: u64,
}

fn good_orders() -> [GoodOrder; 2] {
    [
        GoodOrder {
            id: 42,
            customer: "ada",
            tickets: tickets(),
            card: GOOD_CARD,
            // 2 × 45.00 + 1 × 120.00
            total_cents: 21_000,
        },
        GoodOrder {
            id: 7_319,
            customer: "grace",
            // Exactly the most seats an order may hold: 10 × 45.00.
            tickets: vec![Ticket {
                talk: "Tracing in Rust".to_owned(),
                unit_price_cents: 4_500,
                quantity: lab01::MAX_SEATS_PER_ORDER,
            }],
            card: OTHER_GOOD_CARD,
            total_cents: 45_000,
        },
    ]
}

fn order(card: &str, tickets: Vec<Ticket>) -> Order {
    Order {
        id: 42,
        customer: "ada".to_owned(),
        tickets,
        card: CardNumber::new(card),
    }
}

fn tickets() -> Vec<Ticket> {
    vec![
        Ticket {
            talk: "Tracing in Rust".to_owned(),
            unit_price_cents: 4_500,
            quantity: 2,
        },
        Ticket {
            talk: "Workshop: Observable Rust".to_owned(),
            unit_price_cents: 12_000,
            quantity: 1,
        },
    ]
}

/// Places `good` and returns what was recorded, checking first that the
/// order still succeeds (instrumentation must not change what code does).
fn place_good(good: &GoodOrder) -> Captured {
    let order = Order {
        id: good.id,
        customer: good.customer.to_owned(),
        tickets: good.tickets.clone(),
        card: CardNumber::new(good.card),
    };
    let (result, captured) = capture(|| place_order(&order));
    assert_eq!(
        result.as_ref().map(|r| r.total_cents),
        Ok(good.total_cents),
        "Placing the valid order {} now gives {result:?}. Instrumentation must not change \
         what the code does: undo the change to the logic.",
        good.id
    );
    captured
}

fn place_good_order() -> (Result<Receipt, OrderError>, Captured) {
    capture(|| place_order(&order(GOOD_CARD, tickets())))
}

fn place_empty_order() -> (Result<Receipt, OrderError>, Captured) {
    capture(|| place_order(&order(GOOD_CARD, Vec::new())))
}

fn place_declined_order() -> (Result<Receipt, OrderError>, Captured) {
    capture(|| place_order(&order(DECLINED_CARD, tickets())))
}

/// The `place_order` span, or a failure that tells the learner where to start.
fn place_order_span(captured: &Captured) -> SpanRecord {
    captured.span("place_order").unwrap_or_else(|| {
        panic!(
            "No span named `place_order` was recorded.\n\
             Add `#[instrument]` to `place_order` in src/lib.rs (README step 1).\n\
             What your code recorded:\n{}",
            captured.describe()
        )
    })
}

fn place_order_has_a_span() {
    let (result, captured) = place_good_order();
    let span = place_order_span(&captured);
    assert_eq!(
        span.level,
        Level::INFO,
        "The `place_order` span is at {} but should be at INFO, the level of a \
         business operation. Remove the `level = ...` argument of its #[instrument].",
        span.level
    );
    assert!(
        span.closed,
        "The `place_order` span was never closed. Let #[instrument] manage it \
         instead of entering a span by hand."
    );
    assert!(
        result.is_ok(),
        "Placing a valid order now fails with {result:?}. Instrumentation must \
         not change what the code does: undo the change to the logic."
    );
}

fn span_records_order_id() {
    for good in good_orders() {
        let captured = place_good(&good);
        let span = place_order_span(&captured);
        let order_id = span.field("order_id").and_then(|v| v.as_u64());
        assert_eq!(
            order_id,
            Some(good.id),
            "The `place_order` span of order {} should have a field `order_id` = {}, as a \
             number, so that one order can be searched for. Add it with \
             `#[instrument(fields(order_id = order.id))]` (README step 1).\n\
             What your code recorded:\n{}",
            good.id,
            good.id,
            captured.describe()
        );
        assert!(
            span.field("customer")
                .is_some_and(|v| v.is_text(good.customer)),
            "The `place_order` span should have a field `customer` = {}. Add \
             `customer = %order.customer` to its `fields(...)` (README step 1).\n\
             What your code recorded:\n{}",
            good.customer,
            captured.describe()
        );
    }
}

fn each_step_is_a_child_span() {
    let (_, captured) = place_good_order();
    let parent = place_order_span(&captured);
    for step in ["validate", "price", "charge"] {
        let span = captured.span(step).unwrap_or_else(|| {
            panic!(
                "No span named `{step}` was recorded. Each step of an order is one \
                 traceable operation: add `#[instrument]` to `{step}` (README step 2).\n\
                 What your code recorded:\n{}",
                captured.describe()
            )
        });
        assert_eq!(
            span.parent,
            Some(parent.index),
            "The `{step}` span should be a child of `place_order`. It is, by \
             itself, when `{step}` is called while the `place_order` span is \
             entered: do not create it with an explicit `parent:`.\n\
             What your code recorded:\n{}",
            captured.describe()
        );
    }
}

fn price_span_records_total() {
    for good in good_orders() {
        let captured = place_good(&good);
        let span = captured.span("price").unwrap_or_else(|| {
            panic!(
                "No span named `price` was recorded: add `#[instrument]` to `price` \
                 first (README step 2)."
            )
        });
        assert_eq!(
            span.field("total_cents").and_then(|v| v.as_u64()),
            Some(good.total_cents),
            "The `price` span of order {} should carry `total_cents` = {}. The total is \
             only known at the end, so declare the field empty \
             (`fields(total_cents = field::Empty)`) and fill it in with \
             `Span::current().record(\"total_cents\", total)` (README step 2).\n\
             What your code recorded:\n{}",
            good.id,
            good.total_cents,
            captured.describe()
        );
    }
}

fn success_emits_info_event() {
    for good in good_orders() {
        let captured = place_good(&good);
        let parent = place_order_span(&captured);
        let placed: Vec<_> = captured
            .events_at(Level::INFO)
            .into_iter()
            .filter(|e| {
                e.message
                    .as_deref()
                    .is_some_and(|m| m.contains("order placed"))
            })
            .collect();
        assert_eq!(
            placed.len(),
            1,
            "Placing an order should emit exactly one INFO event with the message \
             \"order placed\"; found {}. Add `info!(total_cents, \"order placed\")` \
             at the end of `place_order` (README step 3).\n\
             What your code recorded:\n{}",
            placed.len(),
            captured.describe()
        );
        let event = &placed[0];
        assert!(
            captured.is_within(event, &parent),
            "The \"order placed\" event should happen inside the `place_order` span, \
             so that it carries the order's id. Emit it from inside `place_order`."
        );
        assert_eq!(
            event.field("total_cents").and_then(|v| v.as_u64()),
            Some(good.total_cents),
            "The \"order placed\" event of order {} should have a field `total_cents` = \
             {} (README step 3).\n\
             What your code recorded:\n{}",
            good.id,
            good.total_cents,
            captured.describe()
        );
    }
}

fn rejection_emits_warn_event() {
    // Two ways to be rejected, each with its own reason.
    let too_many = vec![Ticket {
        talk: "Tracing in Rust".to_owned(),
        unit_price_cents: 4_500,
        quantity: lab01::MAX_SEATS_PER_ORDER + 1,
    }];
    // The reasons spelled out, not asked of the error's `Display`: what the
    // event says is what is checked.
    let rejections = [
        (
            Vec::new(),
            OrderError::NoTickets,
            "the order has no tickets",
        ),
        (
            too_many,
            OrderError::TooManySeats {
                requested: lab01::MAX_SEATS_PER_ORDER + 1,
            },
            "11 seats requested, at most 10 allowed",
        ),
    ];
    for (tickets, expected, reason) in rejections {
        let (result, captured) = capture(|| place_order(&order(GOOD_CARD, tickets)));
        assert_eq!(
            result.as_ref().err(),
            Some(&expected),
            "An order that `validate` refuses must still be rejected, with `{expected:?}`; \
             placing it gave {result:?}. Instrumentation must not change what the code does."
        );
        let parent = place_order_span(&captured);
        let warnings = captured.events_at(Level::WARN);
        let Some(warning) = warnings.first() else {
            panic!(
                "A rejected order should emit a WARN event: it is the customer's \
                 mistake, worth seeing but not worth paging anyone. When `validate` \
                 fails, `warn!(%reason, \"order rejected\")` before returning the \
                 error (README step 4).\n\
                 What your code recorded:\n{}",
                captured.describe()
            )
        };
        // `#[instrument(err(level = "warn"))]` on `validate` says why too: its
        // event records the error in a field named `error`.
        let why = warning.field("reason").or_else(|| warning.field("error"));
        assert!(
            why.is_some_and(|v| v.is_text(reason)),
            "The WARN event should say why the order was rejected, \"{reason}\", in a \
             `reason` field (`warn!(%reason, \"order rejected\")`), or in the `error` \
             field that `#[instrument(err(level = \"warn\"))]` records (README step 4). \
             It says {why:?}:\n{}",
            captured.describe()
        );
        assert!(
            captured.is_within(warning, &parent),
            "The WARN event should happen inside the `place_order` span, so that it \
             carries the order's id."
        );
        let errors = captured.events_at(Level::ERROR);
        assert!(
            errors.is_empty(),
            "A rejected order is not an error of ours, yet {} ERROR event(s) were \
             emitted. Did you put `err` on the `place_order` span? Keep `err` for \
             `charge` (README step 4).\n\
             What your code recorded:\n{}",
            errors.len(),
            captured.describe()
        );
    }
}

fn declined_charge_emits_error_event() {
    let (result, captured) = place_declined_order();
    assert_eq!(
        result,
        Err(OrderError::Declined),
        "A declined card must still fail the order with `Declined`."
    );
    let errors = captured.events_at(Level::ERROR);
    assert_eq!(
        errors.len(),
        1,
        "A declined card should be reported exactly once, as one ERROR event; \
         found {}. `#[instrument(err)]` on `charge` emits it for you; do not \
         log the error again where `?` passes it up (README step 4).\n\
         What your code recorded:\n{}",
        errors.len(),
        captured.describe()
    );
    let charge = captured.span("charge").unwrap_or_else(|| {
        panic!(
            "No span named `charge` was recorded: add `#[instrument]` to `charge` (README step 2)."
        )
    });
    assert!(
        captured.is_within(&errors[0], &charge),
        "The ERROR event should happen inside the `charge` span, where the card \
         was declined: put `err` on the #[instrument] of `charge` (README step 4).\n\
         What your code recorded:\n{}",
        captured.describe()
    );
}

fn card_number_never_logged() {
    let runs = [
        ("a good order", GOOD_CARD, place_good_order().1),
        (
            "a good order paid with another card",
            OTHER_GOOD_CARD,
            capture(|| place_order(&order(OTHER_GOOD_CARD, tickets()))).1,
        ),
        ("an empty order", GOOD_CARD, place_empty_order().1),
        ("a declined order", DECLINED_CARD, place_declined_order().1),
    ];
    for (what, card, captured) in runs {
        // A check on secrets is only worth something once there is telemetry
        // that could leak them.
        place_order_span(&captured);
        let leaks = captured.secret_leaks(card);
        assert!(
            leaks.is_empty(),
            "The card number {card}, or six or more of its digits in a row, appeared in the \
             telemetry of {what}, in:\n  {}\n\
             #[instrument] records every argument with Debug, and `Order` holds \
             the card. Use `skip(order)` (or `skip_all`) and name the safe fields \
             yourself; on `charge`, `skip(card)` and record only `card.last4()` \
             (README step 5): the last four digits are all that may be shown.",
            leaks.join("\n  ")
        );
    }
}
