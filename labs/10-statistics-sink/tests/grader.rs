//! The grader of lab 10. `just lab 10` runs it and explains each result.
//!
//! Each check installs your layer with a clock it moves by hand, runs
//! actions that "take" exactly the durations it chooses, and compares your
//! summaries with what it fed in: counts exactly, quantiles within the
//! histogram's stated precision (3 significant digits: 0.1 %), against a
//! reference computed here from the sorted durations, not from a histogram.
//!
//! The scenarios are drawn fresh on each run (`grader_kit::scenario`):
//! action names, how many of each, how each ends (every road to each
//! outcome: a result, a handled failure, an error, a panic, an action begun
//! and dropped), how long each takes, and how much time passes between
//! actions, when no action is running. The clock never starts at zero.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, panic_any};

use actions::{Clock, ManualClock, Outcome};
use grader_kit::scenario::{self, Rng, distinct, word};
use lab10::{StatsHandle, StatsLayer, Summary};
use tracing_subscriber::prelude::*;

grader_kit::checks![
    counts_by_outcome,
    durations_come_from_the_clock,
    quantiles_within_the_error_bound,
    actions_are_kept_apart,
    other_spans_are_not_counted,
];

#[derive(Debug)]
struct Boom(String);

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every road to an outcome that an action of the `actions` crate takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// `run`, whose body returns `Ok`.
    Returns,
    /// `run`: marked failed, then `Err`.
    FailsThenErr,
    /// `run`: marked failed, then `Ok` (still a failure).
    FailsThenOk,
    /// `run`, whose body returns `Err`.
    Errs,
    /// `run`, whose body panics.
    Panics,
    /// `begin`, its span entered for part of the time, then dropped.
    GuardDropped,
    /// `begin`, marked failed, time passing after, then dropped.
    GuardFailed,
    /// `begin`, its span entered twice, then finished with an `Err`.
    GuardFinishedErr,
}

const ENDINGS: [Ending; 8] = [
    Ending::Returns,
    Ending::FailsThenErr,
    Ending::FailsThenOk,
    Ending::Errs,
    Ending::Panics,
    Ending::GuardDropped,
    Ending::GuardFailed,
    Ending::GuardFinishedErr,
];

/// The endings that do not panic: a panic prints its message, so the
/// large scenarios leave them out.
const QUIET: [Ending; 7] = [
    Ending::Returns,
    Ending::FailsThenErr,
    Ending::FailsThenOk,
    Ending::Errs,
    Ending::GuardDropped,
    Ending::GuardFailed,
    Ending::GuardFinishedErr,
];

impl Ending {
    fn outcome(self) -> Outcome {
        match self {
            Ending::Returns | Ending::GuardDropped => Outcome::Success,
            Ending::FailsThenErr | Ending::FailsThenOk | Ending::GuardFailed => Outcome::Failure,
            Ending::Errs | Ending::Panics | Ending::GuardFinishedErr => Outcome::Exception,
        }
    }

    fn story(self) -> &'static str {
        match self {
            Ending::Returns => "ran and returned `Ok`",
            Ending::FailsThenErr => "was marked failed, then returned `Err`",
            Ending::FailsThenOk => "was marked failed, then returned `Ok`",
            Ending::Errs => "returned `Err`",
            Ending::Panics => "panicked",
            Ending::GuardDropped => {
                "was begun, its span entered for part of its time, then dropped"
            }
            Ending::GuardFailed => {
                "was begun, marked failed, then ran on for a while before it was dropped"
            }
            Ending::GuardFinishedErr => {
                "was begun, its span entered twice, then finished with an `Err`"
            }
        }
    }
}

/// One action a scenario runs: its name, how long it takes by the clock,
/// how it ends, and the action (begun, then dropped) it runs inside, if any.
#[derive(Clone, Copy, Debug)]
struct Planned {
    name: &'static str,
    micros: u64,
    ending: Ending,
    inside: Option<&'static str>,
}

impl Planned {
    fn new(name: &'static str, micros: u64, ending: Ending) -> Self {
        Self {
            name,
            micros,
            ending,
            inside: None,
        }
    }
}

/// An action the grader ran: what the sink must count and time.
#[derive(Clone, Debug)]
struct Done {
    name: &'static str,
    outcome: Outcome,
    micros: u64,
    story: String,
    /// The clock's reading when it ended, in microseconds since the clock's
    /// zero: what a duration measured from the wrong start would give.
    ended_at_us: u64,
}

/// A name for the `&'static str` the actions take.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn random_names(rng: &mut Rng, count: usize) -> Vec<&'static str> {
    distinct(rng, count, |r| {
        let len = r.usize(4..=9);
        word(r, len)
    })
    .into_iter()
    .map(leak)
    .collect()
}

/// Runs `f` with your layer installed, with the clock it reads.
fn with_stats<R>(f: impl FnOnce(&ManualClock) -> R) -> (R, StatsHandle) {
    let clock = ManualClock::default();
    let layer = StatsLayer::new(clock.clone());
    let handle = layer.handle();
    let result =
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || f(&clock));
    (result, handle)
}

fn now_us(clock: &ManualClock) -> u64 {
    clock.now_ns() / 1_000
}

/// Runs one action as planned (inside its outer action, if it has one).
fn perform(rng: &mut Rng, clock: &ManualClock, planned: Planned) -> Vec<Done> {
    if let Some(outer) = planned.inside {
        let before = rng.u64(0..2_000);
        let after = rng.u64(0..2_000);
        let guard = actions::begin(outer);
        clock.advance_us(before);
        let mut done = guard.span().in_scope(|| {
            perform(
                rng,
                clock,
                Planned {
                    inside: None,
                    ..planned
                },
            )
        });
        clock.advance_us(after);
        drop(guard);
        let inner: u64 = done.iter().map(|d| d.micros).sum();
        done.push(Done {
            name: outer,
            outcome: Outcome::Success,
            micros: before + inner + after,
            story: format!(
                "was begun, ran the action `{}` inside it, then was dropped",
                planned.name
            ),
            ended_at_us: now_us(clock),
        });
        return done;
    }
    let Planned {
        name,
        micros,
        ending,
        ..
    } = planned;
    let first = rng.u64(..=micros);
    let rest = micros - first;
    let reason = word(rng, 8);
    match ending {
        Ending::Returns => {
            let _ = actions::run(name, |_| {
                clock.advance_us(micros);
                Ok::<_, Boom>(())
            });
        }
        Ending::FailsThenErr => {
            let _ = actions::run(name, |act| {
                clock.advance_us(first);
                act.fail(&reason);
                clock.advance_us(rest);
                Err::<(), _>(Boom(reason.clone()))
            });
        }
        Ending::FailsThenOk => {
            let _ = actions::run(name, |act| {
                clock.advance_us(first);
                act.fail(&reason);
                clock.advance_us(rest);
                Ok::<_, Boom>(())
            });
        }
        Ending::Errs => {
            let _ = actions::run(name, |_| {
                clock.advance_us(micros);
                Err::<(), _>(Boom(reason.clone()))
            });
        }
        Ending::Panics => {
            let unwound = catch_unwind(AssertUnwindSafe(|| {
                actions::run(name, |_| -> Result<(), Boom> {
                    clock.advance_us(micros);
                    panic_any(reason.clone())
                })
            }));
            assert!(unwound.is_err(), "a panic goes on through an action");
        }
        Ending::GuardDropped => {
            let guard = actions::begin(name);
            guard.span().in_scope(|| clock.advance_us(first));
            clock.advance_us(rest);
            drop(guard);
        }
        Ending::GuardFailed => {
            let guard = actions::begin(name);
            clock.advance_us(first);
            guard.fail(&reason);
            guard.span().in_scope(|| clock.advance_us(rest));
            drop(guard);
        }
        Ending::GuardFinishedErr => {
            let guard = actions::begin(name);
            guard.span().in_scope(|| clock.advance_us(first));
            guard.span().in_scope(|| clock.advance_us(rest));
            guard.finish(&Err::<(), _>(Boom(reason)));
        }
    }
    vec![Done {
        name,
        outcome: ending.outcome(),
        micros,
        story: ending.story().to_owned(),
        ended_at_us: now_us(clock),
    }]
}

/// Runs the plan in its order, with time passing before the first action
/// and between actions (time that belongs to no action); what was done,
/// and your statistics of it.
fn run_plan(rng: &mut Rng, plan: &[Planned]) -> (Vec<Done>, StatsHandle) {
    with_stats(|clock| {
        clock.advance_us(rng.u64(1_000..10_000_000));
        let mut done = Vec::new();
        for planned in plan {
            done.extend(perform(rng, clock, *planned));
            clock.advance_us(rng.u64(0..50_000));
        }
        done
    })
}

/// What was fed in under one name.
#[derive(Default)]
struct Fed {
    success: u64,
    failure: u64,
    exception: u64,
    /// Sorted, at least 1 µs each (the histogram starts there).
    durations: Vec<u64>,
}

fn fed(done: &[Done]) -> BTreeMap<&'static str, Fed> {
    let mut fed: BTreeMap<&'static str, Fed> = BTreeMap::new();
    for action in done {
        let entry = fed.entry(action.name).or_default();
        match action.outcome {
            Outcome::Success => entry.success += 1,
            Outcome::Failure => entry.failure += 1,
            Outcome::Exception => entry.exception += 1,
        }
        entry.durations.push(action.micros.max(1));
    }
    for entry in fed.values_mut() {
        entry.durations.sort_unstable();
    }
    fed
}

/// The one summary of `name`, or a failure saying what there was instead.
fn summary_of(summaries: &[Summary], name: &str) -> Summary {
    let found: Vec<&Summary> = summaries.iter().filter(|s| s.action == name).collect();
    assert!(
        found.len() == 1,
        "The action {name:?} ran, so it has one summary; there {}. The summaries: \
         {summaries:#?}\nEach action counts under its own name when its span closes \
         (README step 2), and each name has one summary (step 3).",
        match found.len() {
            0 => "is none".to_owned(),
            n => format!("are {n}"),
        }
    );
    found[0].clone()
}

/// Every summary is of an action the scenario ran.
fn only_these(summaries: &[Summary], fed: &BTreeMap<&'static str, Fed>, why: &str) {
    let others: Vec<&str> = summaries
        .iter()
        .map(|s| s.action.as_str())
        .filter(|name| !fed.contains_key(name))
        .collect();
    assert!(
        others.is_empty(),
        "The summaries include {others:?}, but the only actions that ran were {:?}. {why}",
        fed.keys().collect::<Vec<_>>()
    );
}

fn close_to(measured: u64, exact: u64) -> bool {
    measured.abs_diff(exact) <= exact / 1_000 + 1
}

/// The value at quantile `q` of sorted values, by nearest rank (what an
/// HDR histogram reads back, to its precision), and whether `measured` is
/// it to 0.1 %. One rank either side is accepted: definitions of a
/// quantile's rank differ by one.
fn quantile(sorted: &[u64], q: f64, measured: u64) -> (u64, bool) {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    let exact = sorted[rank - 1];
    let low = sorted[rank.saturating_sub(2)];
    let high = sorted[rank.min(n - 1)];
    let ok = measured + low / 1_000 + 1 >= low && measured <= high + high / 1_000 + 1;
    (exact, ok)
}

/// What a wrong duration most likely came from, for messages.
fn why_wrong(measured: u64, action: &Done) -> &'static str {
    let exact = action.micros.max(1);
    if close_to(measured, exact.saturating_mul(1_000)) {
        "It is a thousand times too large: nanoseconds were kept where the summary is in \
         microseconds."
    } else if exact >= 1_000 && close_to(measured, (exact / 1_000).max(1)) {
        "It is a thousand times too small: milliseconds were kept where the summary is in \
         microseconds."
    } else if close_to(measured, action.ended_at_us) {
        "It is the clock's whole reading when the action ended: a duration is counted \
         from the action's own start."
    } else if measured < exact {
        "It is shorter than the action: a duration runs from the action's beginning to the \
         moment its span closes, whether or not its span was entered all that time, and \
         whatever was recorded on it before."
    } else {
        "It is longer than the action: a duration covers the action's own life only, by \
         the layer's clock and in microseconds, and nothing before it began (the time before \
         the first action, between actions) counts."
    }
}

/// Checks every name's counts against what was fed in.
fn check_counts(summaries: &[Summary], fed: &BTreeMap<&'static str, Fed>) {
    for (name, want) in fed {
        let got = summary_of(summaries, name);
        let wanted = (want.success, want.failure, want.exception);
        let counted = (got.success, got.failure, got.exception);
        let fed_total = wanted.0 + wanted.1 + wanted.2;
        let total = counted.0 + counted.1 + counted.2;
        let why = if total > fed_total {
            "Some actions were counted more than once: an action counts once, when its span \
             closes, not each time it is entered, left, or has a field recorded."
        } else if total < fed_total {
            "Some actions were not counted: every action counts when its span closes, \
             however it ended (a result, a failure it handled, an error, a panic, or dropped \
             after `begin`)."
        } else {
            "Each action counts under the outcome it ended with: a failure once marked \
             failed, whatever it returned after; an exception for an `Err` or a panic."
        };
        assert!(
            counted == wanted,
            "The action {name:?} ran {} times: {} successes, {} failures and {} \
             exceptions. Its summary counts {} successes, {} failures and {} exceptions. \
             {why} (README step 2.)",
            fed_total,
            wanted.0,
            wanted.1,
            wanted.2,
            counted.0,
            counted.1,
            counted.2
        );
    }
}

/// Checks every name's quantiles and maximum against the sorted durations.
fn check_quantiles(summaries: &[Summary], fed: &BTreeMap<&'static str, Fed>, what: &str) {
    for (name, want) in fed {
        let got = summary_of(summaries, name);
        let sorted = &want.durations;
        let max = *sorted.last().expect("at least one duration");
        for (label, q, measured) in [
            ("p50", 0.5, got.p50_us),
            ("p90", 0.9, got.p90_us),
            ("p99", 0.99, got.p99_us),
        ] {
            let (exact, ok) = quantile(sorted, q, measured);
            assert!(
                ok,
                "Over the {} durations of {name:?} ({what}; from {} µs to {max} µs), {label} \
                 is {exact} µs; the summary says {measured} µs. A quantile is the duration \
                 below which that share of the actions fall, read from the action's \
                 histogram, in microseconds (README step 3).",
                sorted.len(),
                sorted[0]
            );
        }
        assert!(
            close_to(got.max_us, max),
            "The longest of the {} actions {name:?} took {max} µs ({what}); the summary's max \
             is {} µs. (README step 3.)",
            sorted.len(),
            got.max_us
        );
    }
}

fn counts_by_outcome() {
    let mut rng = scenario::rng();
    let count = rng.usize(1..=3);
    let names = random_names(&mut rng, count);
    let mut plan = Vec::new();
    for &name in &names {
        for ending in ENDINGS {
            let times = match ending {
                Ending::Returns => rng.usize(20..=120),
                Ending::Panics => rng.usize(0..=1),
                _ => rng.usize(0..=12),
            };
            for _ in 0..times {
                plan.push(Planned::new(name, rng.u64(0..5_000), ending));
            }
        }
    }
    // Every road to a failure and to an exception at least once, under the
    // first name: no count that is always zero passes.
    for ending in [
        Ending::FailsThenErr,
        Ending::FailsThenOk,
        Ending::GuardFailed,
        Ending::Errs,
        Ending::Panics,
        Ending::GuardFinishedErr,
        Ending::GuardDropped,
    ] {
        plan.push(Planned::new(names[0], rng.u64(0..5_000), ending));
    }
    rng.shuffle(&mut plan);
    let (done, handle) = run_plan(&mut rng, &plan);
    let fed = fed(&done);
    let summaries = handle.summaries();
    check_counts(&summaries, &fed);
    only_these(
        &summaries,
        &fed,
        "Each action counts under the name it was begun with (README step 2).",
    );
    // Reading is not resetting: what was counted stays counted, however
    // often a dashboard asks.
    let again = handle.summaries();
    let counts = |all: &[Summary]| -> Vec<(u64, u64, u64)> {
        all.iter()
            .map(|s| (s.success, s.failure, s.exception))
            .collect()
    };
    assert!(
        counts(&again) == counts(&summaries),
        "The summaries read a second time, with no action in between, gave other counts \
         ({:?}, then {:?}): reading the statistics must leave them as they were, since \
         every reader (a dashboard, a test, an operator) asks again.",
        counts(&summaries),
        counts(&again)
    );
}

fn durations_come_from_the_clock() {
    let mut rng = scenario::rng();
    // One action per name, so that each summary holds one duration: its
    // p50, p90, p99 and max are all that duration. Every ending, and an
    // action run inside another.
    let names = random_names(&mut rng, ENDINGS.len() + 4);
    let mut plan: Vec<Planned> = ENDINGS
        .iter()
        .chain(&[Ending::Returns, Ending::GuardFailed])
        .zip(&names)
        .map(|(&ending, &name)| Planned::new(name, rng.u64(1..=3_000_000), ending))
        .collect();
    let inner = names[names.len() - 2];
    let outer = names[names.len() - 1];
    plan.push(Planned {
        inside: Some(outer),
        ..Planned::new(inner, rng.u64(1..=100_000), QUIET[rng.usize(..QUIET.len())])
    });
    rng.shuffle(&mut plan);
    let (done, handle) = run_plan(&mut rng, &plan);
    let summaries = handle.summaries();
    for action in &done {
        let got = summary_of(&summaries, action.name);
        let micros = action.micros.max(1);
        for (label, measured) in [
            ("max", got.max_us),
            ("p50", got.p50_us),
            ("p90", got.p90_us),
            ("p99", got.p99_us),
        ] {
            assert!(
                close_to(measured, micros),
                "The action {:?} {}, and took {micros} µs by the layer's clock, from its \
                 beginning to its end; it is the only action of that name, so each of its \
                 figures is {micros} µs, but its {label} is {measured} µs. {} (README step \
                 1.)",
                action.name,
                action.story,
                why_wrong(measured, action)
            );
        }
    }
    only_these(
        &summaries,
        &fed(&done),
        "Each action counts under the name it was begun with (README step 2).",
    );
}

fn quantiles_within_the_error_bound() {
    let mut rng = scenario::rng();
    let names = random_names(&mut rng, 2);
    let mut plan = Vec::new();
    // Spread over seven orders of magnitude, 1 µs to 10 s.
    for _ in 0..rng.usize(300..=1_500) {
        let micros = 10f64.powf(rng.f64() * 7.0) as u64;
        plan.push(Planned::new(
            names[0],
            micros,
            QUIET[rng.usize(..QUIET.len())],
        ));
    }
    // Skewed, as latencies are: most calls fast, a slow tail. A mean is
    // nothing like the median here.
    let fast = rng.u64(50..500);
    let slow = rng.u64(20_000..200_000);
    let tail = rng.usize(2..=15);
    for _ in 0..rng.usize(300..=1_500) {
        let micros = if rng.usize(..100) < tail {
            slow + rng.u64(..=slow / 10)
        } else {
            fast + rng.u64(..=fast / 5)
        };
        plan.push(Planned::new(
            names[1],
            micros,
            QUIET[rng.usize(..QUIET.len())],
        ));
    }
    rng.shuffle(&mut plan);
    let (done, handle) = run_plan(&mut rng, &plan);
    let fed = fed(&done);
    let summaries = handle.summaries();
    check_quantiles(&summaries, &fed, "whatever each one's outcome");
}

fn actions_are_kept_apart() {
    let mut rng = scenario::rng();
    let count = rng.usize(2..=4);
    let mut names = random_names(&mut rng, count);
    // One name the start of another: a name is a key, not a prefix.
    let longer = leak(format!("{}_{}", names[0], word(&mut rng, 3)));
    names.push(longer);
    rng.shuffle(&mut names);
    let mut plan = Vec::new();
    for (i, &name) in names.iter().enumerate() {
        // Each name its own order of magnitude, so that mixed durations show.
        let base = 10u64.pow(i as u32 + 1);
        for _ in 0..rng.usize(1..=30) {
            let micros = base + rng.u64(..base * 9);
            plan.push(Planned::new(name, micros, QUIET[rng.usize(..QUIET.len())]));
        }
    }
    // Some actions run inside an action of another name, or of their own.
    for _ in 0..rng.usize(2..=5) {
        let inner = names[rng.usize(..names.len())];
        let outer = names[rng.usize(..names.len())];
        let micros = rng.u64(1..=50);
        plan.push(Planned {
            inside: Some(outer),
            ..Planned::new(inner, micros, QUIET[rng.usize(..QUIET.len())])
        });
    }
    rng.shuffle(&mut plan);
    let (done, handle) = run_plan(&mut rng, &plan);
    let fed = fed(&done);
    let summaries = handle.summaries();
    check_counts(&summaries, &fed);
    check_quantiles(&summaries, &fed, "each name with its own durations");
    only_these(
        &summaries,
        &fed,
        "Each action counts under its own name (README step 2).",
    );
}

fn other_spans_are_not_counted() {
    let mut rng = scenario::rng();
    let names = random_names(&mut rng, 2);
    let (done, handle) = with_stats(|clock| {
        clock.advance_us(rng.u64(1_000..1_000_000));
        let mut done = Vec::new();
        for _ in 0..rng.usize(6..=12) {
            let name = names[rng.usize(..names.len())];
            let planned = Planned::new(name, rng.u64(1..20_000), QUIET[rng.usize(..QUIET.len())]);
            let label = word(&mut rng, 6);
            let around = rng.u64(1..5_000);
            match rng.usize(..4) {
                // An action inside a span that is not one, which lasts longer.
                0 => {
                    let request = tracing::info_span!("request", action = %name);
                    let mut inner = request.in_scope(|| {
                        clock.advance_us(around);
                        perform(&mut rng, clock, planned)
                    });
                    request.in_scope(|| clock.advance_us(around));
                    drop(request);
                    done.append(&mut inner);
                }
                // A span that is not an action inside an action: the
                // action's time includes it, and it counts for nothing.
                1 => {
                    let guard = actions::begin(name);
                    guard.span().in_scope(|| {
                        tracing::info_span!("query", otel.name = label.as_str())
                            .in_scope(|| clock.advance_us(planned.micros));
                    });
                    drop(guard);
                    done.push(Done {
                        name,
                        outcome: Outcome::Success,
                        micros: planned.micros,
                        story: "was begun, ran a span that is not an action inside it, then \
                                was dropped"
                            .to_owned(),
                        ended_at_us: now_us(clock),
                    });
                }
                // A span named like an action's, with no action's fields.
                2 => {
                    tracing::info_span!("action", kind = label.as_str())
                        .in_scope(|| clock.advance_us(around));
                    done.extend(perform(&mut rng, clock, planned));
                }
                _ => done.extend(perform(&mut rng, clock, planned)),
            }
            clock.advance_us(rng.u64(0..10_000));
        }
        done
    });
    let fed = fed(&done);
    let summaries = handle.summaries();
    only_these(
        &summaries,
        &fed,
        "Only actions are counted: spans that are not actions (a request around an action, \
         a query inside one, a span that happens to be named `action`) are left alone \
         (README step 2).",
    );
    check_counts(&summaries, &fed);
    check_quantiles(
        &summaries,
        &fed,
        "with spans that are not actions around and inside them",
    );
}
