//! The grader of lab 13. `just lab 13` runs it and explains each result.
//!
//! The cost is judged as a ratio: your `summarize` against the same loop
//! with no telemetry (`summarize_uninstrumented`), in alternating rounds in
//! this process, under the subscriber a service runs with (log lines at
//! INFO and above). The facts are checked on captured records: a warning
//! per anomaly, and one summary at the end.

use grader_kit::timing::{Side, median_cost_ratio};
use grader_kit::{CaptureLayer, Captured, Value};
use lab13::readings::{LIMIT, Reading, sample_readings, summarize_uninstrumented};
use lab13::summarize::summarize;
use tracing::Level;
use tracing::subscriber::NoSubscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

grader_kit::checks![
    cost_within_twice_the_baseline,
    warns_once_per_anomaly,
    summarizes_once_at_the_end,
];

/// The most your loop may cost, as a multiple of the uninstrumented one.
const TARGET: f64 = 2.0;
const ROUNDS: usize = 7;
const READINGS: usize = 10_000;

/// What a service records: INFO and above, as log lines (here into a sink,
/// so that the measurement is of the instrumentation, not of a terminal).
fn service_subscriber() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_max_level(Level::INFO)
        .with_writer(std::io::sink)
        .finish()
}

/// What the service keeps, captured for inspection: INFO and above.
fn capture_at_info(readings: &[Reading]) -> Captured {
    let layer = CaptureLayer::default();
    let captured = layer.captured();
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(LevelFilter::INFO));
    let summary = tracing::subscriber::with_default(subscriber, || summarize(readings));
    assert_eq!(
        summary,
        summarize_uninstrumented(readings),
        "the summary itself must not change: only its telemetry"
    );
    captured
}

/// The cost of `summarize` against the uninstrumented loop, as a median
/// ratio, under `subscriber`.
fn cost_ratio(readings: &[Reading], subscriber: impl tracing::Subscriber + Send + Sync) -> f64 {
    tracing::subscriber::with_default(subscriber, || {
        median_cost_ratio(ROUNDS, |_, side| {
            let readings = std::hint::black_box(readings);
            match side {
                Side::Baseline => std::hint::black_box(summarize_uninstrumented(readings)),
                Side::Yours => std::hint::black_box(summarize(readings)),
            };
        })
    })
}

/// Which of the starter's three costs your loop still pays, each with the
/// README step that removes it.
fn costs_still_paid(readings: &[Reading]) -> Vec<&'static str> {
    let captured = capture_at_info(readings);
    let mut costs = Vec::new();
    if captured.spans().len() >= readings.len() / 2 {
        costs.push("a span per reading, recorded at INFO (README, step 2)");
    }
    // With nothing recorded at all, spans and events cost next to nothing:
    // what still costs is work done before the macros decide, such as a
    // payload formatted into a `String` for a TRACE line.
    if cost_ratio(readings, NoSubscriber::new()) > 1.5 {
        costs.push(
            "work done on every pass even when no event is recorded: a payload formatted \
             before the TRACE line that nobody reads (a lazy field instead, README step 3)",
        );
    }
    if captured.events_at(Level::INFO).len() >= readings.len() / 2 {
        costs.push("an INFO line per reading (README, step 4)");
    }
    costs
}

fn cost_within_twice_the_baseline() {
    let readings = sample_readings(READINGS);
    let median = cost_ratio(&readings, service_subscriber());
    grader_kit::checks::measured(
        format!(
            "your loop: {median:.2}x the cost of the uninstrumented one; target at most {TARGET}x"
        ),
        median,
        TARGET,
    );
    if median > TARGET {
        let costs = costs_still_paid(&readings);
        let what = if costs.is_empty() {
            "None of the starter's three costs is left as it was: look for what else each \
             pass pays for that nobody reads."
                .to_owned()
        } else {
            format!(
                "What it still pays for that nobody reads: {}.",
                costs.join("; ")
            )
        };
        panic!(
            "Your loop costs {median:.1}x the uninstrumented one (median of {ROUNDS} alternating \
             rounds of {READINGS} readings, logging at INFO); the target is at most {TARGET}x. \
             {what}"
        );
    }
}

fn warns_once_per_anomaly() {
    let readings = sample_readings(READINGS);
    let captured = capture_at_info(&readings);
    let expected: Vec<u64> = (0..readings.len() as u64)
        .filter(|&i| readings[i as usize].celsius > LIMIT)
        .collect();
    let warned: Vec<u64> = captured
        .events_at(Level::WARN)
        .iter()
        .filter_map(|event| event.field("index").and_then(Value::as_u64))
        .collect();
    assert_eq!(
        warned, expected,
        "one WARN event per reading above {LIMIT} °C, with the reading's `index` as a field, \
         in order: the warnings are the facts a cheaper loop must keep"
    );
}

fn summarizes_once_at_the_end() {
    let readings = sample_readings(READINGS);
    let summary = summarize_uninstrumented(&readings);
    let captured = capture_at_info(&readings);
    let infos = captured.events_at(Level::INFO);
    assert_eq!(
        infos.len(),
        1,
        "at INFO, one line for the whole batch, not one per reading: found {} INFO events. \
         Per-reading progress belongs at DEBUG or TRACE (README, step 4).",
        infos.len()
    );
    let event = &infos[0];
    for (field, value) in [("count", summary.count), ("anomalies", summary.anomalies)] {
        assert_eq!(
            event.field(field).and_then(Value::as_u64),
            Some(value),
            "the summary event carries `{field}` = {value}: {event:?}"
        );
    }
}
