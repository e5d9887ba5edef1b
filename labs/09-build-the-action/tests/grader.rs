//! The grader of lab 09. `just lab 9` runs it and explains each result.
//!
//! Each check runs actions under an in-memory subscriber and reads the
//! records they wrote: one `begin` and one `end` per action, the outcome,
//! the level, the reason and the data.

use grader_kit::{Captured, EventRecord, capture};
use lab09::{Levels, Outcome, run};
use tracing::Level;

grader_kit::checks![
    success_ends_at_debug,
    handled_failure_ends_at_info_with_reason,
    error_with_question_mark_is_an_exception,
    panic_is_an_exception,
    levels_are_configurable,
    nested_actions_nest,
];

#[derive(Debug)]
struct SoldOut;

impl std::fmt::Display for SoldOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the room is full")
    }
}

fn ends(captured: &Captured) -> Vec<EventRecord> {
    captured
        .events()
        .into_iter()
        .filter(|e| e.message.as_deref() == Some("end"))
        .collect()
}

/// The one end record of a run with one action, or a failure saying why not.
fn only_end(captured: &Captured) -> EventRecord {
    let ends = ends(captured);
    assert_eq!(
        ends.len(),
        1,
        "One action should write exactly one end record, not {}. The end record is written \
         once, when the action is dropped (README step 4).\nWhat was recorded:\n{}",
        ends.len(),
        captured.describe()
    );
    ends.into_iter().next().unwrap()
}

fn outcome(end: &EventRecord) -> String {
    end.field("outcome")
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// The word an end record gives an outcome: part of the record's format,
/// so the grader spells it out rather than ask your `Outcome::as_str`.
fn word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Exception => "exception",
    }
}

fn check(end: &EventRecord, outcome_wanted: Outcome, level: Level, step: &str) {
    assert_eq!(
        outcome(end),
        word(outcome_wanted),
        "The end record should say `outcome = {}` ({step}). It says {:?}.",
        word(outcome_wanted),
        outcome(end)
    );
    assert_eq!(
        end.level,
        level,
        "A {} ends at {level} with the default levels; this one ended at {}. `Levels::level` \
         gives each outcome its level (README step 1).",
        word(outcome_wanted),
        end.level
    );
}

fn success_ends_at_debug() {
    let (result, captured) = capture(|| {
        run("reserve", Levels::default(), |act| {
            act.set("talk_id", 3);
            Ok::<_, SoldOut>(2)
        })
    });
    assert_eq!(result.ok(), Some(2), "an action passes its result through");
    let begins = captured
        .events()
        .iter()
        .filter(|e| e.message.as_deref() == Some("begin"))
        .count();
    assert_eq!(begins, 1, "one begin record per action");
    let end = only_end(&captured);
    check(
        &end,
        Outcome::Success,
        Level::DEBUG,
        "an `Ok` result is a success, README step 3",
    );
    assert!(
        end.field("data")
            .is_some_and(|d| d.to_string().contains("talk_id=3")),
        "The end record carries the action's data (`talk_id=3`): {end:?}"
    );

    // An action that is begun and dropped, never finished, ended too: as a
    // success, since nothing said otherwise.
    let ((), captured) = capture(|| drop(lab09::begin("audit", Levels::default())));
    let end = only_end(&captured);
    check(
        &end,
        Outcome::Success,
        Level::DEBUG,
        "an action dropped without `finish` still ends, as a success: README step 4",
    );
}

fn handled_failure_ends_at_info_with_reason() {
    let (_, captured) = capture(|| {
        run("reserve", Levels::default(), |act| {
            act.fail("sold out");
            Err::<(), _>(SoldOut)
        })
    });
    let end = only_end(&captured);
    check(
        &end,
        Outcome::Failure,
        Level::INFO,
        "`fail` marks a failure, which the `Err` returned after it does not undo: README steps 2 and 3",
    );
    assert_eq!(
        end.field("reason").map(|r| r.to_string()).as_deref(),
        Some("sold out"),
        "A failure's end record gives its reason, the one passed to `fail` (README step 2)."
    );

    // Decided once: a second `fail` does not replace the first's reason.
    let (_, captured) = capture(|| {
        run("reserve", Levels::default(), |act| {
            act.fail("the talk was cancelled");
            act.fail("sold out");
            Err::<(), _>(SoldOut)
        })
    });
    let reason = only_end(&captured).field("reason").map(|r| r.to_string());
    assert_eq!(
        reason.as_deref(),
        Some("the talk was cancelled"),
        "An action is decided once: after `fail(\"the talk was cancelled\")` then \
         `fail(\"sold out\")`, the first decision stands, but the end record's reason is \
         {reason:?}. Keep the first outcome and reason, and ignore later ones (README step 2)."
    );
}

fn error_with_question_mark_is_an_exception() {
    fn reserve() -> Result<u32, SoldOut> {
        run("reserve", Levels::default(), |_| {
            let seats: Result<u32, SoldOut> = Err(SoldOut);
            let seats = seats?;
            Ok(seats)
        })
    }
    let (_, captured) = capture(reserve);
    let end = only_end(&captured);
    check(
        &end,
        Outcome::Exception,
        Level::ERROR,
        "an `Err` escaping the action is an exception, README step 3",
    );
    assert_eq!(
        end.field("reason").map(|r| r.to_string()).as_deref(),
        Some("the room is full"),
        "An exception's reason is the error's text (`err.to_string()`, README step 3)."
    );
}

fn panic_is_an_exception() {
    let (result, captured) = capture(|| {
        std::panic::catch_unwind(|| {
            let _ = run("price", Levels::default(), |_| -> Result<(), SoldOut> {
                panic!("index out of bounds")
            });
        })
    });
    assert!(
        result.is_err(),
        "the panic goes on unwinding after the action ends"
    );
    let end = only_end(&captured);
    check(
        &end,
        Outcome::Exception,
        Level::ERROR,
        "a panic is an exception: when the action is dropped while `std::thread::panicking()`, README step 4",
    );
    assert_eq!(
        end.field("reason").map(|r| r.to_string()).as_deref(),
        Some("panicked")
    );
}

/// What an action does, in a check that runs several.
type ActionBody = fn(&lab09::Action) -> Result<(), SoldOut>;

fn levels_are_configurable() {
    // An unusual choice for each outcome, so that each must be read from
    // the `Levels` given, not from a default.
    let levels = Levels {
        success: Level::WARN,
        failure: Level::ERROR,
        exception: Level::INFO,
    };
    let cases: [(Outcome, Level, ActionBody); 3] = [
        (Outcome::Success, Level::WARN, |_| Ok(())),
        (Outcome::Failure, Level::ERROR, |act| {
            act.fail("sold out");
            Err(SoldOut)
        }),
        (Outcome::Exception, Level::INFO, |_| Err(SoldOut)),
    ];
    for (ending, wanted, body) in cases {
        let (_, captured) = capture(|| run("reserve", levels, body));
        let end = only_end(&captured);
        assert_eq!(
            (outcome(&end), end.level),
            (word(ending).to_owned(), wanted),
            "With `Levels {{ success: WARN, failure: ERROR, exception: INFO }}`, an action \
             whose outcome is {} ends at {wanted}; this one ended at {} (outcome {:?}). `Levels::level` reads the level of \
             each outcome from the levels it is given, not fixed ones (README step 1).",
            word(ending),
            end.level,
            outcome(&end)
        );
    }
}

fn nested_actions_nest() {
    let (_, captured) = capture(|| {
        run("place_order", Levels::default(), |_| {
            run("charge", Levels::default(), |_| Ok::<_, SoldOut>(()))?;
            Ok::<_, SoldOut>(())
        })
    });
    let ends = ends(&captured);
    let names: Vec<String> = ends
        .iter()
        .map(|e| e.field("action").map(|v| v.to_string()).unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["charge", "place_order"],
        "the inner action ends first"
    );
    let spans = captured.spans();
    let outer = spans
        .iter()
        .find(|s| s.field("action").is_some_and(|v| v.is_text("place_order")))
        .unwrap();
    let inner = spans
        .iter()
        .find(|s| s.field("action").is_some_and(|v| v.is_text("charge")))
        .unwrap();
    assert_eq!(
        inner.parent,
        Some(outer.index),
        "the inner action's span is a child of the outer one's"
    );
    assert!(
        captured.is_within(&ends[0], inner),
        "each end record is written inside its own action's span"
    );
}
