//! The grader of lab 14. `just lab 14` runs it and explains each result.
//!
//! Two things are checked: the line ratio of `src/orders.rs`, with the
//! workshop's analyzer (`just ratio`), and that the telemetry still carries
//! every fact the hand-written logs carried: which operation, for which
//! order, how long it took, and how it ended.

use grader_kit::{Captured, SpanRecord, Value, capture};
use lab14::orders::place_order;
use lab14::shop::{Order, Shop, ShopError};
use tracing::Level;

grader_kit::checks![ratio_reaches_the_target, facts_are_kept,];

/// Business lines per admin line that the crate must reach.
const TARGET: f64 = 3.0;
/// The starter's business lines (`just ratio labs/14-admin-ratio/src`; the
/// ratio crate's `lab14_budget` test keeps this true). A refactoring removes
/// admin lines and often business ones (a `match` that only logged becomes a
/// `?`); it never needs more.
const STARTER_BUSINESS_LINES: usize = 22;
const OPERATIONS: [&str; 3] = ["place_order", "reserve", "charge"];

fn order(id: u64, card: &str) -> Order {
    Order {
        id,
        talk_id: 8,
        seats: 2,
        card: card.to_owned(),
    }
}

/// Places order `id` paid with `card`; checks that what it does is
/// unchanged, and that the card never reaches the telemetry.
fn place(id: u64, card: &str) -> Captured {
    let (result, captured) = capture(|| place_order(&mut Shop::default(), &order(id, card)));
    match card.ends_with("0002") {
        true => assert_eq!(
            result,
            Err(ShopError::Declined),
            "a declined card still fails the order"
        ),
        false => assert_eq!(
            result.map(|r| r.charged_cents),
            Ok(24_000),
            "two seats at 120.00: the refactoring must not change what the code does"
        ),
    }
    let leaks = captured.secret_leaks(card);
    assert!(
        leaks.is_empty(),
        "The card number {card}, or six or more of its digits in a row, appeared in the \
         telemetry of order {id}, in:\n  {}\n`#[instrument]` records every argument with \
         Debug, and `Order` holds the card: `skip_all`, then name the safe fields yourself.",
        leaks.join("\n  ")
    );
    captured
}

fn ratio_reaches_the_target() {
    // The whole crate, so that admin code moved to another module counts.
    let src = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let report = ratio::analyze_paths(&[src], &ratio::Rules::default()).expect("src/ parses");
    let (business, admin) = (report.business, report.admin);
    let measured = ratio::ratio(business, admin).unwrap_or(f64::INFINITY);
    let by_function: Vec<String> = report
        .files
        .iter()
        .flat_map(|file| &file.functions)
        .filter(|f| f.business + f.admin > 0)
        .map(|f| format!("{} ({} business, {} admin)", f.name, f.business, f.admin))
        .collect();
    assert!(
        business <= STARTER_BUSINESS_LINES,
        "Your crate has {business} business lines, more than the starter's \
         {STARTER_BUSINESS_LINES}: the ratio must rise because admin lines go, not because \
         business lines are added. By function: {}.",
        by_function.join(", ")
    );
    assert!(
        measured >= TARGET,
        "Your crate has {business} business lines for {admin} admin lines: a ratio of \
         {measured:.2}, below the target of {TARGET}. By function: {}.\nOne \
         `#[instrument]` per function replaces its timer and its start and end lines \
         (README step 2); `err` on the instrument of the step where an error happens \
         replaces the error logs at every `?` above it, so the error is reported once, \
         where it happened (step 3).",
        by_function.join(", ")
    );
}

/// The span of `operation`: one named after it (`#[instrument]`), or an
/// action of that name (`actions::run`, whose span carries `action.name`).
fn operation_span(captured: &Captured, operation: &str) -> Option<SpanRecord> {
    captured.spans().into_iter().find(|s| {
        s.name == operation || s.field("action.name").is_some_and(|v| v.is_text(operation))
    })
}

/// The order a span is about: its `order_id` field, or an action's
/// `order_id` datum (exported in its `action.data` as `order_id=42`).
fn order_id(span: &SpanRecord) -> Option<u64> {
    if let Some(id) = span.field("order_id").and_then(Value::as_u64) {
        return Some(id);
    }
    let data = span.field("action.data")?.to_string();
    data.split_whitespace()
        .find_map(|pair| pair.strip_prefix("order_id="))
        .and_then(|id| id.parse().ok())
}

/// Whether the telemetry names `operation`: its span, or an event whose
/// message starts with it.
fn names(captured: &Captured, operation: &str) -> bool {
    operation_span(captured, operation).is_some()
        || captured.events().iter().any(|e| {
            e.message
                .as_deref()
                .is_some_and(|m| m.starts_with(operation))
        })
}

/// Whether the telemetry times `operation`: its span, closed (a span has a
/// start and an end), or an event with `elapsed_ms`.
fn times(captured: &Captured, operation: &str) -> bool {
    operation_span(captured, operation).is_some_and(|s| s.closed)
        || captured.events().iter().any(|e| {
            e.field("elapsed_ms").is_some()
                && e.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with(operation))
        })
}

fn facts_are_kept() {
    let ok = place(42, "4242424242424242");
    for operation in OPERATIONS {
        assert!(
            names(&ok, operation),
            "Nothing names the operation `{operation}` any more. A span per operation, \
             named after it (`#[instrument]` names it after the function), keeps that fact.\n\
             What was recorded:\n{}",
            ok.describe()
        );
        assert!(
            times(&ok, operation),
            "Nothing says how long `{operation}` took. A span has a start and an end: \
             `#[instrument]` times the function.\nWhat was recorded:\n{}",
            ok.describe()
        );
    }
    // Two orders, so that only the real id passes for it.
    for (id, captured) in [(42, ok), (7_319, place(7_319, "4012888888881881"))] {
        let spans: Vec<SpanRecord> = OPERATIONS
            .iter()
            .filter_map(|operation| operation_span(&captured, operation))
            .collect();
        let order_id_everywhere = spans.iter().all(|s| order_id(s) == Some(id));
        let order_id_in_events = captured
            .events()
            .iter()
            .any(|e| e.field("order_id").and_then(Value::as_u64) == Some(id));
        assert!(
            order_id_everywhere
                && (order_id_in_events || spans.iter().any(|s| order_id(s).is_some())),
            "Every operation should still say which order it is about (`order_id` = {id}): \
             record it as a field of each span (`fields(order_id = order.id)`).\nWhat was \
             recorded:\n{}",
            captured.describe()
        );
    }

    let declined = place(42, "4000000000000002");
    let error_event = declined.events_at(Level::ERROR).into_iter().any(|e| {
        e.field("error")
            .is_some_and(|v| v.to_string().contains("declined"))
    });
    let failed_action = declined.spans().iter().any(|s| {
        s.field("action.outcome")
            .is_some_and(|v| v.is_text("exception") || v.is_text("failure"))
    });
    assert!(
        error_event || failed_action,
        "A declined card should still be recorded as the way the order ended: an ERROR \
         event with the error (`#[instrument(err)]` on the step that fails), or an action \
         whose outcome says so.\nWhat was recorded:\n{}",
        declined.describe()
    );
    // Once: an error logged at every level it passes through says the same
    // thing several times. (An action per step ends each step that failed
    // as an exception: that is each step's outcome, not a log line.)
    let reports = declined.events_at(Level::ERROR).len();
    assert!(
        reports <= 1,
        "The declined card was logged as an ERROR {reports} times: once is enough, where it \
         happened. Put `err` on the instrument of the step that fails, `charge`, and let `?` \
         carry the error up silently (README step 3).\n\
         What was recorded:\n{}",
        declined.describe()
    );
}
