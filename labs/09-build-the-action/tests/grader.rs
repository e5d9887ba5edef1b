//! The grader of lab 09. `just lab 9` runs it and explains each result.
//!
//! Each check runs a scenario of several actions under an in-memory
//! subscriber and reads every record they wrote. For every action: one
//! `begin` and one `end`, both inside its own span, the end after the last
//! thing the action did, with the outcome, level, reason and data that the
//! README's table calls for. A property that holds for one action and not
//! the next is broken, so every action of the scenario is checked.
//!
//! Names, data, reasons, errors, panic messages, levels, and the order in
//! which the outcome paths come are drawn fresh on each run
//! (`grader_kit::scenario`): no constant, and no state left over from the
//! action before, passes.

use std::fmt;
use std::ops::RangeInclusive;
use std::panic::{AssertUnwindSafe, catch_unwind, panic_any};

use grader_kit::scenario::{self, Rng, distinct, word};
use grader_kit::{Captured, EventRecord, SpanRecord, Value, capture};
use lab09::{Levels, Outcome};
use tracing::Level;

grader_kit::checks![
    success_ends_at_debug,
    handled_failure_ends_at_info_with_reason,
    error_with_question_mark_is_an_exception,
    panic_is_an_exception,
    levels_are_configurable,
    nested_actions_nest,
];

/// An error the action did not handle. Its text (`Display`) is what an
/// exception's reason must say; its `Debug` form is different, so that a
/// reason written from the wrong one shows.
#[derive(Debug)]
struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ways an action can end: every row of the README's table, by every
/// road that leads there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// `run`, whose body returns `Ok`.
    Returns,
    /// `begin`, then dropped without `finish`.
    Dropped,
    /// `begin`, then `finish` with an `Ok`.
    Finished,
    /// `fail`, then `Err`.
    FailsThenErr,
    /// `fail`, then `Ok`: the failure stands, no success is recorded.
    FailsThenOk,
    /// `fail` twice, then `Err`: the first reason stands.
    FailsTwice,
    /// `fail` on a begun action, then dropped.
    FailsThenDropped,
    /// `fail`, then a panic: the failure stands, the panic goes on.
    FailsThenPanics,
    /// An action that fails inside another, which handles it and succeeds.
    FailsInsideSuccess,
    /// An `Err` escaping the body with `?`.
    QuestionMark,
    /// `begin`, then `finish` with an `Err`.
    FinishedWithErr,
    /// An `Err` escaping an inner action, then its outer one, with `?`.
    ErrThroughOuter,
    /// A panic inside `run`.
    Panics,
    /// A begun action dropped by a panic unwinding past it.
    GuardUnwound,
}

const SUCCESSES: [Path; 3] = [Path::Returns, Path::Dropped, Path::Finished];
const FAILURES: [Path; 6] = [
    Path::FailsThenErr,
    Path::FailsThenOk,
    Path::FailsTwice,
    Path::FailsThenDropped,
    Path::FailsThenPanics,
    Path::FailsInsideSuccess,
];
const EXCEPTIONS: [Path; 3] = [
    Path::QuestionMark,
    Path::FinishedWithErr,
    Path::ErrThroughOuter,
];
const PANICS: [Path; 2] = [Path::Panics, Path::GuardUnwound];

/// What one action's records must show.
struct Expected {
    name: &'static str,
    /// What the action did, in words, for messages.
    story: String,
    /// The README step that decides this outcome.
    step: &'static str,
    outcome: Outcome,
    reason: Option<String>,
    levels: Levels,
    data: Vec<(&'static str, String)>,
    /// What the action's body wrote last (an event with this `step` field):
    /// the end record comes after it.
    last_step: String,
}

/// A name or key for the `&'static str` parameters of the action's API.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// The word an end record gives an outcome: part of the record's format,
/// so the grader spells it out rather than ask the learner's `as_str`.
fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Exception => "exception",
    }
}

fn level_wanted(levels: &Levels, outcome: Outcome) -> Level {
    match outcome {
        Outcome::Success => levels.success,
        Outcome::Failure => levels.failure,
        Outcome::Exception => levels.exception,
    }
}

fn describe_levels(levels: &Levels) -> String {
    format!(
        "success at {}, failure at {}, exception at {}",
        levels.success, levels.failure, levels.exception
    )
}

/// Something the body of an action does, that its end record must follow.
fn say(step: &str) {
    tracing::info!(target: "grader", step, "working");
}

/// `count` paths: each of `must` at least once, the rest drawn from
/// `among`, in a random order.
fn draw_paths(
    rng: &mut Rng,
    must: &[Path],
    among: &[Path],
    count: RangeInclusive<usize>,
) -> Vec<Path> {
    let mut paths = must.to_vec();
    let total = rng.usize(count).max(must.len());
    while paths.len() < total {
        paths.push(among[rng.usize(..among.len())]);
    }
    rng.shuffle(&mut paths);
    paths
}

/// Runs the actions of `paths` in one capture; what each must show, and
/// what was recorded.
fn run_scenario(rng: &mut Rng, paths: &[Path], levels: Levels) -> (Vec<Expected>, Captured) {
    let names: Vec<&'static str> = distinct(rng, paths.len() * 2, |r| word(r, 7))
        .into_iter()
        .map(leak)
        .collect();
    let (expected, captured) = capture(|| {
        let mut expected = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            perform(
                rng,
                *path,
                [names[2 * i], names[2 * i + 1]],
                levels,
                &mut expected,
            );
        }
        expected
    });
    (expected, captured)
}

/// Checks that a panic went on unwinding past the action, unchanged.
fn expect_unwound<T>(unwound: std::thread::Result<T>, message: &str, name: &str) {
    let Err(payload) = unwound else {
        panic!(
            "The action `{name}` panicked with {message:?}, but the panic stopped at the action: \
             an action records a panic and lets it go on unwinding (README step 4)."
        );
    };
    let carried = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()));
    assert!(
        carried.as_deref() == Some(message),
        "The action `{name}` panicked with {message:?}, but the panic that came out of it \
         carries {carried:?}: the action must let the original panic go on unwinding, \
         not start another (README step 4)."
    );
}

/// Runs one action (two for the nested paths) along `path`, and adds what
/// its records must show to `expected`.
fn perform(
    rng: &mut Rng,
    path: Path,
    [name, outer]: [&'static str; 2],
    levels: Levels,
    expected: &mut Vec<Expected>,
) {
    let data: Vec<(&'static str, String)> = (0..rng.usize(1..=3))
        .map(|i| {
            let key = leak(format!("{}_{i}", word(rng, 5)));
            let value = if rng.bool() {
                rng.u32(..1_000_000).to_string()
            } else {
                word(rng, 6)
            };
            (key, value)
        })
        .collect();
    let reason = format!("{} {}", word(rng, 6), word(rng, 4));
    let second_reason = format!("{} {}", word(rng, 5), word(rng, 7));
    let error_text = format!("{} {} {}", word(rng, 4), word(rng, 6), word(rng, 3));
    let error = || Refused(error_text.clone());
    let message = format!("{} {}", word(rng, 5), word(rng, 8));
    let step = word(rng, 9);
    let outer_step = word(rng, 10);
    let value = rng.u32(..);
    let set_data = |act: &lab09::Action| {
        for (key, value) in &data {
            act.set(key, value);
        }
    };
    // What an action must show: `name` with the scenario's data and last
    // step (the nested paths' outer actions have neither of their own).
    let mut want = |name: &'static str,
                    story: String,
                    step_no: &'static str,
                    outcome: Outcome,
                    reason: Option<&str>,
                    own: Option<&str>| {
        expected.push(Expected {
            name,
            story,
            step: step_no,
            outcome,
            reason: reason.map(str::to_owned),
            levels,
            data: if own.is_some() {
                Vec::new()
            } else {
                data.clone()
            },
            last_step: own.unwrap_or(&step).to_owned(),
        });
    };
    match path {
        Path::Returns => {
            let result = lab09::run(name, levels, |act| {
                set_data(act);
                say(&step);
                Ok::<_, Refused>(value)
            });
            assert!(
                result.as_ref().is_ok_and(|v| *v == value),
                "An action passes its body's result through: the body of `{name}` returned \
                 Ok({value}), `run` returned {result:?}."
            );
            want(
                name,
                "ran and returned `Ok`".to_owned(),
                "README step 3",
                Outcome::Success,
                None,
                None,
            );
        }
        Path::Dropped => {
            let act = lab09::begin(name, levels);
            set_data(&act);
            act.span().in_scope(|| say(&step));
            drop(act);
            want(
                name,
                "was begun, then dropped without being finished".to_owned(),
                "README step 4",
                Outcome::Success,
                None,
                None,
            );
        }
        Path::Finished => {
            let act = lab09::begin(name, levels);
            set_data(&act);
            act.span().in_scope(|| say(&step));
            act.finish(&Ok::<_, Refused>(value));
            want(
                name,
                "was finished with an `Ok` result".to_owned(),
                "README step 3",
                Outcome::Success,
                None,
                None,
            );
        }
        Path::FailsThenErr => {
            let _ = lab09::run(name, levels, |act| {
                set_data(act);
                act.fail(&reason);
                say(&step);
                Err::<u32, _>(error())
            });
            want(
                name,
                format!("was marked failed ({reason:?}), then returned an `Err`"),
                "README steps 2 and 3",
                Outcome::Failure,
                Some(&reason),
                None,
            );
        }
        Path::FailsThenOk => {
            let _ = lab09::run(name, levels, |act| {
                set_data(act);
                act.fail(&reason);
                say(&step);
                Ok::<_, Refused>(value)
            });
            want(
                name,
                format!("was marked failed ({reason:?}), then returned `Ok`"),
                "README steps 2 and 3",
                Outcome::Failure,
                Some(&reason),
                None,
            );
        }
        Path::FailsTwice => {
            let _ = lab09::run(name, levels, |act| {
                set_data(act);
                act.fail(&reason);
                act.fail(&second_reason);
                say(&step);
                Err::<u32, _>(error())
            });
            want(
                name,
                format!(
                    "was marked failed twice, first for {reason:?}, then for \
                     {second_reason:?}, then returned an `Err`"
                ),
                "README step 2",
                Outcome::Failure,
                Some(&reason),
                None,
            );
        }
        Path::FailsThenDropped => {
            let act = lab09::begin(name, levels);
            set_data(&act);
            act.fail(&reason);
            act.span().in_scope(|| say(&step));
            drop(act);
            want(
                name,
                format!("was marked failed ({reason:?}), then dropped"),
                "README steps 2 and 4",
                Outcome::Failure,
                Some(&reason),
                None,
            );
        }
        Path::FailsThenPanics => {
            let unwound = catch_unwind(AssertUnwindSafe(|| {
                lab09::run(name, levels, |act| -> Result<u32, Refused> {
                    set_data(act);
                    act.fail(&reason);
                    say(&step);
                    panic_any(message.clone())
                })
            }));
            expect_unwound(unwound, &message, name);
            want(
                name,
                format!("was marked failed ({reason:?}), then panicked"),
                "README steps 2 and 4",
                Outcome::Failure,
                Some(&reason),
                None,
            );
        }
        Path::FailsInsideSuccess => {
            let result = lab09::run(outer, levels, |_| {
                let inner = lab09::run(name, levels, |act| {
                    set_data(act);
                    act.fail(&reason);
                    say(&step);
                    Err::<u32, _>(error())
                });
                // The outer action handles the inner one's failure.
                let seats = inner.unwrap_or(0);
                say(&outer_step);
                Ok::<_, Refused>(seats)
            });
            assert!(
                result.is_ok(),
                "An action passes its body's result through: `{outer}` returned Ok, `run` \
                 returned an error."
            );
            want(
                name,
                format!(
                    "was marked failed ({reason:?}) inside the action `{outer}`, then \
                     returned an `Err` that `{outer}` handled"
                ),
                "README steps 2 and 3",
                Outcome::Failure,
                Some(&reason),
                None,
            );
            want(
                outer,
                format!("returned `Ok` after the action `{name}` inside it failed"),
                "README step 3",
                Outcome::Success,
                None,
                Some(&outer_step),
            );
        }
        Path::QuestionMark => {
            let result = lab09::run(name, levels, |act| -> Result<u32, Refused> {
                set_data(act);
                say(&step);
                let seats: Result<u32, Refused> = Err(error());
                let seats = seats?;
                Ok(seats)
            });
            assert!(
                result.as_ref().is_err_and(|e| e.0 == error_text),
                "An action passes its body's result through: the body of `{name}` returned \
                 an `Err` ({error_text:?}), `run` returned {result:?}."
            );
            want(
                name,
                format!("let an `Err` ({error_text:?}) escape with `?`"),
                "README step 3",
                Outcome::Exception,
                Some(&error_text),
                None,
            );
        }
        Path::FinishedWithErr => {
            let act = lab09::begin(name, levels);
            set_data(&act);
            act.span().in_scope(|| say(&step));
            act.finish(&Err::<u32, _>(error()));
            want(
                name,
                format!("was finished with an `Err` ({error_text:?})"),
                "README step 3",
                Outcome::Exception,
                Some(&error_text),
                None,
            );
        }
        Path::ErrThroughOuter => {
            let _ = lab09::run(outer, levels, |_| -> Result<u32, Refused> {
                let seats = lab09::run(name, levels, |act| -> Result<u32, Refused> {
                    set_data(act);
                    say(&step);
                    Err(error())
                })?;
                Ok(seats)
            });
            want(
                name,
                format!("let an `Err` ({error_text:?}) escape with `?` inside `{outer}`"),
                "README step 3",
                Outcome::Exception,
                Some(&error_text),
                None,
            );
            // The outer action sets no data, and the last thing it did is
            // its inner action's.
            want(
                outer,
                format!(
                    "let the `Err` ({error_text:?}) of the action `{name}` inside it escape \
                     with `?`"
                ),
                "README step 3",
                Outcome::Exception,
                Some(&error_text),
                Some(&step),
            );
        }
        Path::Panics => {
            let unwound = catch_unwind(AssertUnwindSafe(|| {
                lab09::run(name, levels, |act| -> Result<u32, Refused> {
                    set_data(act);
                    say(&step);
                    panic_any(message.clone())
                })
            }));
            expect_unwound(unwound, &message, name);
            want(
                name,
                format!("panicked ({message:?}) inside `run`"),
                "README step 4",
                Outcome::Exception,
                Some("panicked"),
                None,
            );
        }
        Path::GuardUnwound => {
            let unwound = catch_unwind(AssertUnwindSafe(|| {
                let act = lab09::begin(name, levels);
                set_data(&act);
                act.span().in_scope(|| say(&step));
                panic_any::<String>(message.clone());
            }));
            expect_unwound(unwound, &message, name);
            want(
                name,
                format!("was begun, then dropped by a panic ({message:?}) unwinding past it"),
                "README step 4",
                Outcome::Exception,
                Some("panicked"),
                None,
            );
        }
    }
}

/// One record as a line, for messages.
fn line(event: &EventRecord) -> String {
    let fields: String = event
        .fields
        .iter()
        .map(|(k, v)| match v {
            Value::Str(text) | Value::Debug(text) => format!(" {k}={text:?}"),
            other => format!(" {k}={other}"),
        })
        .collect();
    format!(
        "[{}] {}{fields}",
        event.level,
        event.message.as_deref().unwrap_or("")
    )
}

fn lines(events: &[(usize, EventRecord)]) -> String {
    if events.is_empty() {
        return "  (none)\n".to_owned();
    }
    events
        .iter()
        .map(|(_, e)| format!("  {}\n", line(e)))
        .collect()
}

fn names_action(event: &EventRecord, name: &str) -> bool {
    event.field("action").is_some_and(|v| v.is_text(name))
}

fn is_record(event: &EventRecord, message: &str) -> bool {
    event.message.as_deref() == Some(message)
}

/// The one span of the action `name`.
fn span_of(captured: &Captured, name: &str) -> SpanRecord {
    let spans: Vec<SpanRecord> = captured
        .spans()
        .into_iter()
        .filter(|s| s.field("action").is_some_and(|v| v.is_text(name)))
        .collect();
    assert!(
        spans.len() == 1,
        "The action `{name}` should have one span (made when it begins); {} were \
         recorded:\n{}",
        spans.len(),
        captured.describe()
    );
    spans.into_iter().next().expect("one span")
}

/// Checks every action of a scenario against what its records must show.
fn check_all(captured: &Captured, expected: &[Expected]) {
    assert!(!expected.is_empty(), "the scenario ran actions to inspect");
    let events: Vec<(usize, EventRecord)> = captured.events().into_iter().enumerate().collect();
    for want in expected {
        check_one(captured, &events, want);
    }
}

fn check_one(captured: &Captured, events: &[(usize, EventRecord)], want: &Expected) {
    let Expected {
        name, story, step, ..
    } = want;
    let span = span_of(captured, name);
    let mine = |message: &str| -> Vec<(usize, EventRecord)> {
        events
            .iter()
            .filter(|(_, e)| is_record(e, message) && names_action(e, name))
            .cloned()
            .collect()
    };
    let (begins, ends) = (mine("begin"), mine("end"));
    assert!(
        begins.len() == 1,
        "The action `{name}` ({story}) wrote {} begin records; an action begins once:\n{}",
        begins.len(),
        lines(&begins)
    );
    assert!(
        ends.len() == 1,
        "The action `{name}` {story}, and wrote {} end records:\n{}An action writes \
         exactly one end record, however many of failing, finishing and dropping happen to \
         it (README steps 2 to 4).",
        ends.len(),
        lines(&ends)
    );
    let (begin_at, begin) = &begins[0];
    let (end_at, end) = &ends[0];
    for (what, record) in [("begin", begin), ("end", end)] {
        assert!(
            captured.is_within(record, &span),
            "The {what} record of the action `{name}` was written outside the action's own \
             span: {}. Its records belong to its span, so that a trace shows them in it.",
            line(record)
        );
    }
    let last_step_at = events
        .iter()
        .filter(|(_, e)| e.field("step").is_some_and(|v| v.is_text(&want.last_step)))
        .map(|(at, _)| *at)
        .max()
        .expect("the body's own event was recorded");
    assert!(
        begin_at < end_at && last_step_at < *end_at,
        "The end record of the action `{name}` ({story}) was written before the action \
         ended: before the last thing its body did. An end record closes its action: \
         nothing the action does comes after it, whichever road the action took, even \
         when its outcome was known early (README step 4).\nWhat was recorded:\n{}",
        captured.describe()
    );

    let outcome = end
        .field("outcome")
        .map_or_else(|| "(no outcome)".to_owned(), |v| v.to_string());
    let wanted = outcome_word(want.outcome);
    assert!(
        end.field("outcome").is_some_and(|v| v.is_text(wanted)),
        "The action `{name}` {story}: its outcome is {wanted} ({step}), but its end record \
         says {outcome:?}:\n  {}",
        line(end)
    );

    let level = level_wanted(&want.levels, want.outcome);
    assert!(
        end.level == level,
        "The action `{name}` ended in {wanted}, which the levels it was given ({}) write at \
         {level}; its end record is at {}: the record's level is not the one the action's \
         own levels give its outcome (README steps 1 and 4).",
        describe_levels(&want.levels),
        end.level
    );

    let reason = end.field("reason");
    match &want.reason {
        None => assert!(
            reason.is_none(),
            "The action `{name}` {story}: a success has no reason, but its end record gives \
             one:\n  {}",
            line(end)
        ),
        Some(expected) => assert!(
            reason.is_some_and(|v| v.is_text(expected)),
            "The action `{name}` {story}: the reason of its {wanted} is {expected:?} ({step}), \
             but its end record's reason is {}:\n  {}",
            reason.map_or_else(|| "missing".to_owned(), |v| format!("{:?}", v.to_string())),
            line(end)
        ),
    }

    let data = end.field("data").map(|v| v.to_string()).unwrap_or_default();
    let pairs: Vec<String> = data.split_whitespace().map(str::to_owned).collect();
    let missing: Vec<String> = want
        .data
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .filter(|pair| !pairs.contains(pair))
        .collect();
    assert!(
        missing.is_empty(),
        "The action `{name}` {story}; its end record carries the data it was given whatever \
         its outcome, but {missing:?} is missing from its data {data:?}."
    );

    assert!(
        span.closed,
        "The span of the action `{name}` is still open after the action ended: an action's \
         span lasts as long as the action, and something kept it alive."
    );
}

fn success_ends_at_debug() {
    let mut rng = scenario::rng();
    let paths = draw_paths(&mut rng, &SUCCESSES, &SUCCESSES, 4..=7);
    let (expected, captured) = run_scenario(&mut rng, &paths, Levels::default());
    check_all(&captured, &expected);
}

fn handled_failure_ends_at_info_with_reason() {
    let mut rng = scenario::rng();
    // Successes among the failures: a failure is the action's own, and does
    // not carry over to the next one.
    let mut among = FAILURES.to_vec();
    among.extend(SUCCESSES);
    let paths = draw_paths(&mut rng, &FAILURES, &among, 8..=11);
    let (expected, captured) = run_scenario(&mut rng, &paths, Levels::default());
    // No success after a failure: every action has exactly one end record,
    // and a failed one's says failure.
    check_all(&captured, &expected);
}

fn error_with_question_mark_is_an_exception() {
    let mut rng = scenario::rng();
    let mut among = EXCEPTIONS.to_vec();
    among.extend(SUCCESSES);
    let paths = draw_paths(&mut rng, &EXCEPTIONS, &among, 5..=8);
    let (expected, captured) = run_scenario(&mut rng, &paths, Levels::default());
    check_all(&captured, &expected);
}

fn panic_is_an_exception() {
    let mut rng = scenario::rng();
    // Successes after panics: a panic belongs to the action it unwound.
    let mut among = PANICS.to_vec();
    among.extend(SUCCESSES);
    let mut paths = draw_paths(&mut rng, &PANICS, &among, 4..=7);
    paths.push(Path::Returns);
    let (expected, captured) = run_scenario(&mut rng, &paths, Levels::default());
    check_all(&captured, &expected);
}

/// Three different levels, in a random order, never the default ones.
fn random_levels(rng: &mut Rng) -> Levels {
    let defaults = Levels::default();
    loop {
        let mut all = [
            Level::TRACE,
            Level::DEBUG,
            Level::INFO,
            Level::WARN,
            Level::ERROR,
        ];
        rng.shuffle(&mut all);
        let levels = Levels {
            success: all[0],
            failure: all[1],
            exception: all[2],
        };
        let same = levels.success == defaults.success
            && levels.failure == defaults.failure
            && levels.exception == defaults.exception;
        if !same {
            return levels;
        }
    }
}

fn levels_are_configurable() {
    let mut rng = scenario::rng();
    let mut every = SUCCESSES.to_vec();
    every.extend(FAILURES);
    every.extend(EXCEPTIONS);
    every.extend(PANICS);
    // Two sets of levels, so that no one choice passes.
    for _ in 0..2 {
        let levels = random_levels(&mut rng);
        for outcome in [Outcome::Success, Outcome::Failure, Outcome::Exception] {
            let wanted = level_wanted(&levels, outcome);
            let given = levels.level(outcome);
            assert!(
                given == wanted,
                "Levels with {} give a {} the level {wanted}, but `Levels::level` returns \
                 {given}: the level it gives does not follow the `Levels` it is asked about \
                 (README step 1).",
                describe_levels(&levels),
                outcome_word(outcome)
            );
        }
        let paths = draw_paths(&mut rng, &every, &every, 14..=16);
        let (expected, captured) = run_scenario(&mut rng, &paths, levels);
        check_all(&captured, &expected);
    }
}

/// Actions inside actions: each with its name, and the ones it runs.
struct Tree {
    name: &'static str,
    children: Vec<Tree>,
}

fn random_tree(rng: &mut Rng, names: &mut Vec<&'static str>, depth: usize) -> Tree {
    let name = names.pop().expect("enough names");
    let children = if depth == 0 {
        Vec::new()
    } else {
        (0..rng.usize(1..=2))
            .map(|_| random_tree(rng, names, depth - 1))
            .collect()
    };
    Tree { name, children }
}

fn run_tree(tree: &Tree) -> Result<(), Refused> {
    lab09::run(tree.name, Levels::default(), |_| -> Result<(), Refused> {
        for child in &tree.children {
            run_tree(child)?;
        }
        Ok(())
    })
}

/// Where a tree's records are: the span of each action, and the position
/// of its begin and end records among all events.
fn check_tree(
    captured: &Captured,
    events: &[EventRecord],
    tree: &Tree,
    parent: Option<&SpanRecord>,
) -> (usize, usize) {
    let name = tree.name;
    let span = span_of(captured, name);
    let parent_name = parent
        .and_then(|p| p.field("action"))
        .map(|v| v.to_string());
    assert!(
        span.parent == parent.map(|p| p.index),
        "The action `{name}` ran inside {}, but its span's parent is {}: an action's span \
         is made inside the span that is current when it begins.\n{}",
        parent_name.map_or("no other action".to_owned(), |n| format!(
            "the action `{n}`"
        )),
        span.parent
            .map_or("none".to_owned(), |p| captured.spans()[p].name.to_owned()),
        captured.describe()
    );
    let at = |message: &str| -> Vec<usize> {
        events
            .iter()
            .enumerate()
            .filter(|(_, e)| is_record(e, message) && names_action(e, name))
            .map(|(i, _)| i)
            .collect()
    };
    let (begins, ends) = (at("begin"), at("end"));
    assert!(
        begins.len() == 1 && ends.len() == 1,
        "The action `{name}` wrote {} begin and {} end records; an action writes one of \
         each.\n{}",
        begins.len(),
        ends.len(),
        captured.describe()
    );
    let (begin, end) = (begins[0], ends[0]);
    for at in [begin, end] {
        assert!(
            captured.is_within(&events[at], &span),
            "A record of the action `{name}` was written outside its own span: {}",
            line(&events[at])
        );
    }
    let mut after = begin;
    for child in &tree.children {
        let (child_begin, child_end) = check_tree(captured, events, child, Some(&span));
        assert!(
            after < child_begin && child_end < end,
            "The action `{}` ran inside `{name}`, after what came before it in `{name}`, \
             yet its records are not between them: each action begins after, and ends \
             before, the action it runs in, and the ones before it end first.\n{}",
            child.name,
            captured.describe()
        );
        after = child_end;
    }
    assert!(
        span.closed,
        "The span of the action `{name}` is still open after the action ended."
    );
    (begin, end)
}

fn nested_actions_nest() {
    let mut rng = scenario::rng();
    let mut names: Vec<&'static str> = distinct(&mut rng, 16, |r| word(r, 7))
        .into_iter()
        .map(leak)
        .collect();
    let depth = rng.usize(1..=3);
    let tree = random_tree(&mut rng, &mut names, depth);
    let (result, captured) = capture(|| run_tree(&tree));
    assert!(
        result.is_ok(),
        "Actions whose bodies all return `Ok` return `Ok` through `run`."
    );
    check_tree(&captured, &captured.events(), &tree, None);
}
