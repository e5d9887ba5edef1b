//! The grader of lab 14. `just lab 14` runs it and explains each result.
//!
//! Two things are checked. The ratio of business statements to admin
//! statements over the whole crate, with the workshop's analyzer (`just
//! ratio`), which counts statements, not lines, so that rustfmt or a
//! statement split over lines changes nothing. And that the spans still
//! carry every fact the hand-written logs carried (which operation, for
//! which order, how long it took, how it ended), for every order of a
//! scenario drawn fresh on each run: paid orders, a declined card, an order
//! that fails before the card is charged.

use std::path::{Path, PathBuf};

use grader_kit::{Captured, EventRecord, SpanRecord, Value, capture, scenario};
use lab14::orders::place_order;
use lab14::shop::{Order, Receipt, Shop, ShopError};
use tracing::Level;

grader_kit::checks![ratio_reaches_the_target, facts_are_kept,];

/// Business statements per admin statement that the crate must reach.
const TARGET: f64 = 2.0;
/// The starter's business statements (`just ratio labs/14-admin-ratio/src`;
/// the ratio crate's `lab14_budget` test keeps this true). A refactoring
/// removes admin statements and often business ones (a `match` that only
/// logged becomes a `?`); it never needs more.
const STARTER_BUSINESS_STATEMENTS: usize = 15;
const OPERATIONS: [&str; 3] = ["place_order", "reserve", "charge"];

fn ratio_reaches_the_target() {
    // The whole crate, so that admin code moved to another module counts.
    let src = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    // A module whose file lies outside `src/` is code the analyzer cannot
    // see, so the crate's figure would not be the crate's.
    let outside = modules_outside(&src);
    assert!(
        outside.is_empty(),
        "Some of your crate's code is read from outside src/ ({}), where the ratio is not \
         measured. Keep every module of the crate in src/.",
        outside.join(", ")
    );
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
    grader_kit::checks::measured(
        format!(
            "{business} business statements for {admin} admin statements: a ratio of \
             {measured:.2}; target {TARGET}"
        ),
        measured,
        TARGET,
    );
    assert!(
        business <= STARTER_BUSINESS_STATEMENTS,
        "Your crate has {business} business statements, more than the starter's \
         {STARTER_BUSINESS_STATEMENTS}: the ratio must rise because admin statements go, not \
         because business statements are added. By function: {}.",
        by_function.join(", ")
    );
    assert!(
        measured >= TARGET,
        "Your crate has {business} business statements for {admin} admin statements \
         (logging, timing, span plumbing, and helpers that only do these): a ratio of \
         {measured:.2}, below the target of {TARGET}. By function: {}.\nEach admin statement \
         left records by hand a fact (which operation, for which order, a start, an end, a \
         duration, an error) that something in the code may already know: which of them could \
         go without losing the fact? (README steps 2 and 3; `just hint 14`) Layout does not \
         count: the analyzer counts statements, not lines.",
        by_function.join(", ")
    );
}

/// The files under `dir` that pull code from elsewhere: a `#[path]`
/// attribute or an `include!`.
fn modules_outside(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(modules_outside(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let source = std::fs::read_to_string(&path).unwrap_or_default();
            if source.contains("#[path") || source.contains("include!") {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// One order of the scenario, and how placing it must end.
struct Case {
    order: Order,
    expected: Result<Receipt, ShopError>,
    /// The step where it fails, if it does: where its error belongs.
    fails_in: Option<&'static str>,
}

/// Talk 8 costs 120.00, the others 45.00 (the given shop's prices).
fn price(talk_id: u32) -> u64 {
    if talk_id == 8 { 12_000 } else { 4_500 }
}

/// Two or three paid orders, a declined card, and an order refused before
/// the card is charged (an unknown talk, or more seats than are left), in a
/// random order, with random ids, talks, seats and cards.
fn orders() -> Vec<Case> {
    let mut rng = scenario::rng();
    let paid = rng.usize(2..=3);
    // Ids of at most five digits: no id holds six digits of a card.
    let ids = scenario::distinct(&mut rng, paid + 2, |r| r.u64(1..100_000));
    let mut cases = Vec::new();
    for (n, id) in ids.into_iter().enumerate() {
        let talk_id = rng.u32(1..=8);
        // The first order takes several seats: a price is per seat.
        let seats = rng.u32(if n == 0 { 2 } else { 1 }..=6);
        let declined = n == paid;
        let mut order = Order {
            id,
            talk_id,
            seats,
            card: card(declined, || rng.u8(0..10)),
        };
        let (expected, fails_in) = if n < paid {
            let receipt = Receipt {
                order_id: id,
                charged_cents: price(talk_id) * u64::from(seats),
            };
            (Ok(receipt), None)
        } else if declined {
            (Err(ShopError::Declined), Some("charge"))
        } else if rng.bool() {
            order.talk_id = rng.u32(9..1_000);
            (Err(ShopError::UnknownTalk(order.talk_id)), Some("reserve"))
        } else {
            // The shop starts with 100 seats a talk.
            order.seats = rng.u32(101..=400);
            (Err(ShopError::SoldOut { left: 100 }), Some("reserve"))
        };
        cases.push(Case {
            order,
            expected,
            fails_in,
        });
    }
    rng.shuffle(&mut cases);
    cases
}

/// A card number as a test card is one: sixteen digits with a valid Luhn
/// check digit, drawn fresh. A declined one ends in 0002, as the given
/// processor wants; elsewhere no digit comes three times in a row (and
/// none five times anywhere), so that six of its digits in a row are the
/// card's and no ordinary number's (`000000` is in many a float).
fn card(declined: bool, mut draw_digit: impl FnMut() -> u8) -> String {
    loop {
        let mut digits = vec![4_u8];
        while digits.len() < 15 {
            let digit = draw_digit();
            let n = digits.len();
            if n >= 2 && digits[n - 1] == digit && digits[n - 2] == digit {
                continue;
            }
            digits.push(digit);
        }
        if declined {
            // …x0002: x is not doubled by Luhn, so it alone sets the sum right.
            digits.truncate(11);
            digits.extend([0, 0, 0, 0, 2]);
            digits[11] = ((10 - luhn_sum(&digits) % 10) % 10) as u8;
        } else {
            digits.push(0);
            digits[15] = ((10 - luhn_sum(&digits) % 10) % 10) as u8;
        }
        let card: String = digits.iter().map(|&d| char::from(b'0' + d)).collect();
        // No digit five times in a row, even where the ending meets the
        // drawn digits (`…00` then `00002`).
        let long_run = card
            .as_bytes()
            .windows(5)
            .any(|w| w.iter().all(|&b| b == w[0]));
        if declined == card.ends_with("0002") && !long_run {
            return card;
        }
    }
}

/// Luhn's sum: every second digit from the right doubled (less 9 past 9).
fn luhn_sum(digits: &[u8]) -> u32 {
    digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            match i % 2 {
                1 if d * 2 > 9 => d * 2 - 9,
                1 => d * 2,
                _ => d,
            }
        })
        .sum()
}

/// Places the order on a fresh shop and checks that what it does is
/// unchanged.
fn place(case: &Case) -> Captured {
    let (result, captured) = capture(|| place_order(&mut Shop::default(), &case.order));
    assert!(
        result == case.expected,
        "Order {} ({} seats of talk {}) returned {result:?}; the starter returns {:?} for \
         it. The refactoring must not change what the code does, only what it records.",
        case.order.id,
        case.order.seats,
        case.order.talk_id,
        case.expected,
    );
    captured
}

/// The spans of `operation`: named after it (a function's span, in a
/// module's path or not), or an action of that name (whose span carries
/// `action.name`).
fn spans_of(captured: &Captured, operation: &str) -> Vec<SpanRecord> {
    captured
        .spans()
        .into_iter()
        .filter(|s| {
            s.name == operation
                || s.name.ends_with(&format!("::{operation}"))
                || s.name.ends_with(&format!(".{operation}"))
                || s.field("action.name").is_some_and(|v| v.is_text(operation))
        })
        .collect()
}

/// What a span says of its order.
enum OrderId {
    Number(u64),
    /// Recorded, but as text: an id is a number.
    Text(String),
    Missing,
}

/// The `order_id` field of a span, or an action's `order_id` datum (its
/// `action.data` reads `order_id=42 …`, where a number is written bare and
/// text quoted).
fn order_id(span: &SpanRecord) -> OrderId {
    if let Some(value) = span.field("order_id") {
        return match value.as_u64() {
            Some(id) => OrderId::Number(id),
            None => OrderId::Text(value.to_string()),
        };
    }
    let Some(data) = span.field("action.data").map(Value::to_string) else {
        return OrderId::Missing;
    };
    match data
        .split_whitespace()
        .find_map(|pair| pair.strip_prefix("order_id="))
    {
        Some(id) => id
            .parse()
            .map_or_else(|_| OrderId::Text(id.to_owned()), OrderId::Number),
        None => OrderId::Missing,
    }
}

/// Whether `span` ran inside `outer`, directly or further down.
fn is_inside(captured: &Captured, span: &SpanRecord, outer: &SpanRecord) -> bool {
    let mut current = captured.parent(span);
    while let Some(parent) = current {
        if parent.index == outer.index {
            return true;
        }
        current = captured.parent(&parent);
    }
    false
}

/// An action's outcome when it did not succeed.
fn failed_outcome(span: &SpanRecord) -> Option<String> {
    span.field("action.outcome")
        .filter(|v| v.is_text("exception") || v.is_text("failure"))
        .map(Value::to_string)
}

/// Whether an event says what the error was: a field or its message holds
/// the error as it reads (`Display`) or as it is written (`Debug`).
fn carries(event: &EventRecord, error: &ShopError) -> bool {
    let readings = [
        error.to_string().to_lowercase(),
        format!("{error:?}").to_lowercase(),
    ];
    let texts = event
        .fields
        .values()
        .map(Value::to_string)
        .chain(event.message.clone());
    texts
        .map(|text| text.to_lowercase())
        .any(|text| readings.iter().any(|r| text.contains(r.as_str())))
}

fn facts_are_kept() {
    for case in orders() {
        let captured = place(&case);
        let id = case.order.id;
        let recorded = captured.describe();
        grader_kit::checks::evidence(format!("what order {id} recorded"), recorded.clone());
        let ran: Vec<&str> = OPERATIONS
            .into_iter()
            .filter(|op| *op != "charge" || case.fails_in != Some("reserve"))
            .collect();

        // Which operation, for which order, how long: each a span's.
        for operation in &ran {
            let spans = spans_of(&captured, operation);
            assert!(
                !spans.is_empty(),
                "Order {id} ran `{operation}`, but no span is named after it: which operation \
                 ran is a fact the starter's start lines recorded, and a span per operation \
                 records it (README step 2). What order {id} recorded:\n{recorded}"
            );
            for span in &spans {
                assert!(
                    span.closed,
                    "The span of `{operation}` for order {id} was still open when the order \
                     was placed: a span that does not end says nothing of how long its \
                     operation took. What order {id} recorded:\n{recorded}"
                );
                match order_id(span) {
                    OrderId::Number(found) if found == id => {}
                    OrderId::Number(found) => panic!(
                        "The span of `{operation}` says order_id = {found}, but it ran for \
                         order {id}. What order {id} recorded:\n{recorded}"
                    ),
                    OrderId::Text(text) => panic!(
                        "The span of `{operation}` records order_id as the text {text:?}: an \
                         id is a number, and a backend filters and sorts it as one only if it \
                         is recorded as one. What order {id} recorded:\n{recorded}"
                    ),
                    OrderId::Missing => panic!(
                        "The span of `{operation}` for order {id} does not say which order it \
                         is about: every operation's span should carry the order's id \
                         (README step 2), not only the events inside it. What order {id} \
                         recorded:\n{recorded}"
                    ),
                }
            }
        }
        let placing = spans_of(&captured, "place_order");
        for step in ran.iter().filter(|op| **op != "place_order") {
            for span in spans_of(&captured, step) {
                assert!(
                    placing
                        .iter()
                        .any(|outer| is_inside(&captured, &span, outer)),
                    "The span of `{step}` for order {id} is not inside the span of \
                     `place_order`: the time of placing an order should hold its steps. What \
                     order {id} recorded:\n{recorded}"
                );
            }
        }
        if case.fails_in == Some("reserve") {
            let charged = spans_of(&captured, "charge");
            assert!(
                charged.is_empty(),
                "Order {id} was refused before payment ({:?}), yet `charge` ran for it ({} \
                 span): a card must not be charged for seats that were not taken. What order \
                 {id} recorded:\n{recorded}",
                case.expected,
                charged.len()
            );
        }

        // How it ended: an error recorded once, where it happened; none
        // for an order that went through.
        let errors = captured.events_at(Level::ERROR);
        match (&case.expected, case.fails_in) {
            (Err(error), Some(step)) => {
                assert!(
                    errors.len() <= 1,
                    "Order {id} failed in `{step}` ({error}), and {} ERROR events say so: \
                     once is enough, in the step where it happened; the steps above it let \
                     the error pass up without a word (README step 3). What order {id} \
                     recorded:\n{recorded}",
                    errors.len()
                );
                let in_step = spans_of(&captured, step);
                if let Some(event) = errors.first() {
                    assert!(
                        in_step.iter().any(|s| captured.is_within(event, s)),
                        "Order {id} failed in `{step}` ({error}), but its ERROR event was \
                         recorded outside the span of `{step}`: an error is recorded where it \
                         happened, so that its span says how it ended. What order {id} \
                         recorded:\n{recorded}"
                    );
                    assert!(
                        carries(event, error),
                        "Order {id} failed in `{step}` ({error}), but its ERROR event does not \
                         say which error: it should carry it, as the starter's error logs did. \
                         What order {id} recorded:\n{recorded}"
                    );
                } else {
                    assert!(
                        in_step.iter().any(|s| failed_outcome(s).is_some()),
                        "Order {id} failed in `{step}` ({error}), but nothing records it: no \
                         ERROR event, and no span of `{step}` that ended failed. How an \
                         operation ended is a fact the starter's error logs recorded (README \
                         step 3). What order {id} recorded:\n{recorded}"
                    );
                }
            }
            _ => {
                assert!(
                    errors.is_empty(),
                    "Order {id} went through, yet an ERROR event says otherwise: {:?}. What \
                     order {id} recorded:\n{recorded}",
                    errors[0].message.as_deref().unwrap_or("(no message)")
                );
                let failed: Vec<String> = captured
                    .spans()
                    .iter()
                    .filter_map(|s| failed_outcome(s).map(|o| format!("{} ({o})", s.name)))
                    .collect();
                assert!(
                    failed.is_empty(),
                    "Order {id} went through, yet spans say they failed: {}. What order {id} \
                     recorded:\n{recorded}",
                    failed.join(", ")
                );
            }
        }

        // And the card is nowhere: checked once there is telemetry to read.
        let leaks = card_leaks(&captured, &case.order.card);
        assert!(
            leaks.is_empty(),
            "The card number {}, or six or more of its digits in a row, appeared in what \
             order {id} recorded, in:\n  {}\nNo text of the telemetry may hold six digits of a \
             card in a row: logs and traces reach people and places a card number must never \
             reach. Which span or event recorded it, whole or in part (README step 2)?",
            case.order.card,
            leaks.join("\n  ")
        );
    }
}

/// Where the card leaked: every text of the telemetry (span names, fields,
/// messages) in which six or more of the card's digits appear in a row, as
/// a person reads digits (see [`digit_runs`]).
fn card_leaks(captured: &Captured, card: &str) -> Vec<String> {
    const RUN: usize = 6;
    let digits: Vec<char> = card.chars().filter(char::is_ascii_digit).collect();
    let windows: Vec<String> = digits.windows(RUN).map(|w| w.iter().collect()).collect();
    captured
        .all_text()
        .into_iter()
        .filter(|(_, text)| {
            digit_runs(text)
                .iter()
                .any(|run| windows.iter().any(|w| run.contains(w.as_str())))
        })
        .map(|(place, text)| format!("{place}: {text}"))
        .collect()
}

/// The runs of digits in `text` as a person reads them: groups of four or
/// more joined across one space or dash (a card is written `4242 4242 …`),
/// and without the fraction of a decimal number (a duration's `0.000013`
/// holds no six digits of anything).
fn digit_runs(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let group = |from: usize| {
        chars.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|c| c.is_ascii_digit()).count()
        })
    };
    let mut runs = Vec::new();
    let mut run = String::new();
    let mut i = 0;
    while i < chars.len() {
        let len = group(i);
        if len == 0 {
            if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
            i += 1;
            continue;
        }
        run.extend(&chars[i..i + len]);
        i += len;
        match chars.get(i) {
            Some('.') if group(i + 1) > 0 => {
                runs.push(std::mem::take(&mut run));
                i += 1 + group(i + 1);
            }
            Some(' ' | '-') if len >= 4 && group(i + 1) >= 4 => i += 1,
            _ => runs.push(std::mem::take(&mut run)),
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}
