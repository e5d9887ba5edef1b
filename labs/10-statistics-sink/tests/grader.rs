//! The grader of lab 10. `just lab 10` runs it and explains each result.
//!
//! Each check installs your layer with a clock it moves by hand, runs
//! actions that "take" exactly the durations it chooses, and compares your
//! summaries with what it fed in: counts exactly, quantiles within the
//! histogram's stated precision (3 significant digits: 0.1 %).

use actions::ManualClock;
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
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}

/// Runs `f` with your layer installed; returns what it summarised.
fn with_stats(f: impl FnOnce(&ManualClock)) -> StatsHandle {
    let clock = ManualClock::default();
    let layer = StatsLayer::new(clock.clone());
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || f(&clock));
    handle
}

/// An action named `name` that takes `micros` by the clock, then ends well.
fn timed(clock: &ManualClock, name: &'static str, micros: u64) {
    let _: Result<(), Boom> = actions::run(name, |_| {
        clock.advance_us(micros);
        Ok(())
    });
}

fn summary(handle: &StatsHandle, action: &str) -> Summary {
    let summaries = handle.summaries();
    summaries.iter().find(|s| s.action == action).cloned().unwrap_or_else(|| {
        panic!(
            "No summary for the action {action:?}; the summaries were {summaries:?}. Record each \
             action when its span closes (README step 2), and build one `Summary` per action \
             (step 3)."
        )
    })
}

fn close_to(measured: u64, exact: u64) -> bool {
    measured.abs_diff(exact) <= exact / 1_000 + 1
}

fn counts_by_outcome() {
    let handle = with_stats(|clock| {
        for _ in 0..100 {
            timed(clock, "reserve", 10);
        }
        for _ in 0..5 {
            let _: Result<(), Boom> = actions::run("reserve", |act| {
                act.fail("sold out");
                Err(Boom)
            });
        }
        for _ in 0..3 {
            let _: Result<(), Boom> = actions::run("reserve", |_| Err(Boom));
        }
    });
    let reserve = summary(&handle, "reserve");
    assert_eq!(
        (reserve.success, reserve.failure, reserve.exception),
        (100, 5, 3),
        "100 successes, 5 failures and 3 exceptions were fed in; count each action under its \
         outcome (README step 2)."
    );
}

fn durations_come_from_the_clock() {
    let handle = with_stats(|clock| timed(clock, "charge", 1_500));
    let charge = summary(&handle, "charge");
    assert!(
        close_to(charge.max_us, 1_500),
        "One action that took 1,500 µs by the layer's clock; the summary's max is {} µs. \
         Measure with `self.clock.now_ns()` at the end against the start kept in `Running`, in \
         microseconds (README step 1), not with the system clock.",
        charge.max_us
    );
}

fn quantiles_within_the_error_bound() {
    // 10 µs, 20 µs, … 10,000 µs, in a shuffled order.
    let handle = with_stats(|clock| {
        for i in 0..1_000u64 {
            timed(clock, "price", (i * 367 % 1_000 + 1) * 10);
        }
    });
    let price = summary(&handle, "price");
    for (name, measured, exact) in [
        ("p50", price.p50_us, 5_000),
        ("p90", price.p90_us, 9_000),
        ("p99", price.p99_us, 9_900),
        ("max", price.max_us, 10_000),
    ] {
        assert!(
            close_to(measured, exact),
            "{name} of 10, 20, … 10,000 µs is {exact} µs; the summary says {measured}. Read \
             quantiles with `value_at_quantile(0.5)` (and 0.9, 0.99) and the maximum with \
             `max()` (README step 3)."
        );
    }

    // Skewed, as latencies are: 900 fast calls and 100 slow ones. Here a
    // mean (5,090 µs) is nothing like the median (100 µs).
    let handle = with_stats(|clock| {
        for i in 0..1_000u64 {
            let micros = if i % 10 == 3 { 50_000 } else { 100 };
            timed(clock, "charge", micros);
        }
    });
    let charge = summary(&handle, "charge");
    for (name, measured, exact) in [
        ("p50", charge.p50_us, 100),
        ("p90", charge.p90_us, 100),
        ("p99", charge.p99_us, 50_000),
        ("max", charge.max_us, 50_000),
    ] {
        assert!(
            close_to(measured, exact),
            "For 900 calls of 100 µs and 100 of 50,000 µs, {name} is {exact} µs; the summary \
             says {measured}. A quantile is the value below which that share of the calls \
             fall, not an average: `value_at_quantile` (README step 3)."
        );
    }
}

fn actions_are_kept_apart() {
    let handle = with_stats(|clock| {
        timed(clock, "reserve", 100);
        timed(clock, "charge", 3_000);
        timed(clock, "reserve", 200);
    });
    let (reserve, charge) = (summary(&handle, "reserve"), summary(&handle, "charge"));
    assert_eq!(
        (reserve.success, charge.success),
        (2, 1),
        "Each action is counted under its own name."
    );
    assert!(
        close_to(reserve.max_us, 200) && close_to(charge.max_us, 3_000),
        "{reserve:?} {charge:?}"
    );
}

fn other_spans_are_not_counted() {
    let handle = with_stats(|clock| {
        tracing::info_span!("not_an_action").in_scope(|| clock.advance_us(50));
        timed(clock, "reserve", 10);
    });
    let summaries = handle.summaries();
    assert!(
        summaries.iter().all(|s| s.action == "reserve"),
        "Only actions are counted, not every span: {summaries:?}"
    );
    assert_eq!(summary(&handle, "reserve").success, 1);
}
