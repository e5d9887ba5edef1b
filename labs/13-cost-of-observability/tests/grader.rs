//! The grader of lab 13. `just lab 13` runs it and explains each result.
//!
//! Every batch of readings is drawn fresh (`grader_kit::scenario::rng()`):
//! about ten thousand readings from a few sensors, anomalies at random
//! places (often the first or the last reading, sometimes several in a
//! row), now and then a reading of exactly the limit, which is none. The
//! timed runs and the checked runs draw their batches alike and run under
//! the same subscriber, a service's (log lines at INFO and above, into a
//! sink) with a capture of what it records: nothing tells a timed run from
//! a checked one, and every timed run is checked too.
//!
//! The cost is a ratio, never a time: your `summarize` against the same
//! loop with no telemetry (`summarize_uninstrumented`), in alternating
//! rounds, each run on a batch of its own and timed on the CPU, measured
//! again if the machine disturbed it (`grader_kit::timing`).

use std::ops::RangeInclusive;

use grader_kit::checks::{evidence, measured};
use grader_kit::scenario::{self, Rng};
use grader_kit::timing::{Plan, Side, steady_cost_ratio};
use grader_kit::{CaptureLayer, Captured, EventRecord, Value};
use lab13::readings::{LIMIT, Reading, Summary, summarize_uninstrumented};
use lab13::summarize::summarize;
use tracing::subscriber::NoSubscriber;
use tracing::{Dispatch, Level};
use tracing_subscriber::prelude::*;

grader_kit::checks![
    cost_within_twice_the_baseline,
    one_span_for_the_batch,
    warns_once_per_anomaly,
    summarizes_once_at_the_end,
];

/// The most your loop may cost, as a multiple of the uninstrumented one.
const TARGET: f64 = 2.0;
/// Below this, a measured cost is the machine's doing: your loop folds
/// every reading as the uninstrumented one does, and then some.
const FLOOR: f64 = 0.7;
const ROUNDS: usize = 7;
const RUNS_PER_ROUND: usize = 3;
/// How many readings a batch has, timed or checked.
const READINGS: RangeInclusive<usize> = 8_000..=12_000;

/// A reading above the limit: an anomaly.
fn anomaly(rng: &mut Rng) -> f64 {
    LIMIT + 0.01 + rng.f64() * 15.0
}

/// `len` readings as sensors send them: a few sensors named afresh,
/// temperatures mostly in range with an anomaly every few hundred readings,
/// now and then exactly the limit (no anomaly), payloads of random bytes.
/// Often an anomaly at the very first or last reading, or a few in a row.
fn batch(rng: &mut Rng, len: usize) -> Vec<Reading> {
    let sensor_count = rng.usize(2..=9);
    let sensors = scenario::distinct(rng, sensor_count, |r| {
        format!("{}-{}", scenario::word(r, 5), r.u16(1..1000))
    });
    let one_in = rng.u32(300..=800);
    let mut readings: Vec<Reading> = (0..len)
        .map(|_| {
            let celsius = if rng.u32(..one_in) == 0 {
                anomaly(rng)
            } else if rng.u32(..200) == 0 {
                LIMIT
            } else {
                -20.0 + rng.f64() * (LIMIT + 20.0)
            };
            let mut raw_payload = vec![0_u8; rng.usize(56..=72)];
            rng.fill(&mut raw_payload);
            Reading {
                sensor: sensors[rng.usize(..sensors.len())].clone(),
                celsius,
                raw_payload,
            }
        })
        .collect();
    if len > 0 && rng.bool() {
        readings[0].celsius = anomaly(rng);
    }
    if len > 0 && rng.bool() {
        readings[len - 1].celsius = anomaly(rng);
    }
    if len >= 4 && rng.bool() {
        let run = rng.usize(2..=3);
        let at = rng.usize(..=len - run);
        for reading in &mut readings[at..at + run] {
            reading.celsius = anomaly(rng);
        }
    }
    readings
}

/// A batch the size the cost is measured on.
fn full_batch(rng: &mut Rng) -> Vec<Reading> {
    let len = rng.usize(READINGS);
    batch(rng, len)
}

/// What the checks of facts summarize: two full batches and three small
/// ones with the edges (a single anomaly, nothing but anomalies, readings
/// up to exactly the limit and none above), in a random order.
fn batches_to_check(rng: &mut Rng) -> Vec<Vec<Reading>> {
    let mut single = batch(rng, 1);
    single[0].celsius = anomaly(rng);
    let len = rng.usize(2..=6);
    let mut all = batch(rng, len);
    for reading in &mut all {
        reading.celsius = anomaly(rng);
    }
    let len = rng.usize(3..=40);
    let mut calm = batch(rng, len);
    for reading in &mut calm {
        reading.celsius = reading.celsius.min(LIMIT);
    }
    // The largest batch the timed check draws, too: facts do not depend on
    // the size of the batch.
    let largest = batch(rng, *READINGS.end());
    let mut batches = vec![full_batch(rng), largest, single, all, calm];
    rng.shuffle(&mut batches);
    batches
}

/// A service's subscriber: log lines at INFO and above (into a sink, so that
/// what is measured is the instrumentation, not a terminal), with a capture
/// of what it records. Made before the code runs, so that making it is not
/// timed.
fn service() -> (Dispatch, Captured) {
    let capture = CaptureLayer::default();
    let captured = capture.captured();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(Level::INFO)
        .with_writer(std::io::sink)
        .finish()
        .with(capture);
    (Dispatch::new(subscriber), captured)
}

/// One run: a batch, and the subscriber it is summarized under.
struct Run {
    readings: Vec<Reading>,
    dispatch: Dispatch,
    captured: Captured,
}

impl Run {
    fn in_service(readings: Vec<Reading>) -> Self {
        let (dispatch, captured) = service();
        Self {
            readings,
            dispatch,
            captured,
        }
    }

    /// With nothing recording at all.
    fn unrecorded(readings: Vec<Reading>) -> Self {
        Self {
            readings,
            dispatch: Dispatch::new(NoSubscriber::new()),
            captured: Captured::default(),
        }
    }

    fn summarize(&self, side: Side) -> Summary {
        let readings = std::hint::black_box(&self.readings[..]);
        tracing::dispatcher::with_default(&self.dispatch, || match side {
            Side::Baseline => summarize_uninstrumented(readings),
            Side::Yours => summarize(readings),
        })
    }
}

/// Your `summarize` on `readings`, as a service runs it.
fn in_service(readings: &[Reading]) -> Captured {
    let run = Run::in_service(readings.to_vec());
    let summary = run.summarize(Side::Yours);
    assert_same_summary(readings, &summary);
    run.captured
}

fn assert_same_summary(readings: &[Reading], yours: &Summary) {
    let original = summarize_uninstrumented(readings);
    assert!(
        *yours == original,
        "on a batch of {} readings your `summarize` returned {yours:?}, where the original \
         returns {original:?}: the summary itself must not change, only its telemetry",
        readings.len()
    );
}

/// The indices of the readings above the limit, in order.
fn anomalies(readings: &[Reading]) -> Vec<u64> {
    (0..readings.len() as u64)
        .filter(|&i| readings[i as usize].celsius > LIMIT)
        .collect()
}

/// Whether the WARN events are one per anomaly, each with its reading's
/// index as an integer field, in order; what is wrong if not.
fn warnings_broken(readings: &[Reading], captured: &Captured) -> Option<String> {
    let mut warned = Vec::new();
    for event in captured.events_at(Level::WARN) {
        match event.field("index") {
            None => {
                return Some(format!(
                    "a WARN event has no `index` field ({})",
                    describe_event(&event)
                ));
            }
            Some(value) => match value.as_u64() {
                Some(index) => warned.push(index),
                None => {
                    return Some(format!(
                        "a WARN event records `index` as {}: an index is an integer, which a \
                         log backend can compare and sort ({})",
                        describe_value(value),
                        describe_event(&event)
                    ));
                }
            },
        }
    }
    let expected = anomalies(readings);
    if warned == expected {
        return None;
    }
    let missing: Vec<u64> = expected
        .iter()
        .filter(|i| !warned.contains(i))
        .copied()
        .collect();
    let wrong: Vec<u64> = warned
        .iter()
        .filter(|i| !expected.contains(i))
        .copied()
        .collect();
    let twice: Vec<u64> = expected
        .iter()
        .filter(|&&i| warned.iter().filter(|&&w| w == i).count() > 1)
        .copied()
        .collect();
    let mut what = Vec::new();
    if !missing.is_empty() {
        what.push(format!("no WARN for the anomalies at {}", list(&missing)));
    }
    if !wrong.is_empty() {
        what.push(format!(
            "a WARN for readings that are no anomaly, at {}",
            list(&wrong)
        ));
    }
    if !twice.is_empty() {
        what.push(format!("more than one WARN for {}", list(&twice)));
    }
    if what.is_empty() {
        what.push("the right readings, in another order".to_owned());
    }
    Some(format!(
        "a batch of {} readings has {} anomalies (at {}); its WARN events name {} \
         (indices {}): {}",
        readings.len(),
        expected.len(),
        list(&expected),
        warned.len(),
        list(&warned),
        what.join("; ")
    ))
}

/// Whether one INFO event, the last event at INFO or above, carries the
/// batch's `count` and `anomalies` as integers; what is wrong if not.
fn summary_broken(readings: &[Reading], captured: &Captured) -> Option<String> {
    let summary = summarize_uninstrumented(readings);
    let infos = captured.events_at(Level::INFO);
    let [event] = &infos[..] else {
        return Some(format!(
            "a batch of {} readings made {} INFO events: at INFO, one line for the whole batch, \
             not one per reading",
            readings.len(),
            infos.len()
        ));
    };
    for (field, value) in [("count", summary.count), ("anomalies", summary.anomalies)] {
        match event.field(field) {
            None => {
                return Some(format!(
                    "the INFO summary has no `{field}` field ({})",
                    describe_event(event)
                ));
            }
            Some(recorded) if recorded.as_u64() != Some(value) => {
                return Some(format!(
                    "the INFO summary records `{field}` as {}, but the batch's {field} is the \
                     integer {value} ({})",
                    describe_value(recorded),
                    describe_event(event)
                ));
            }
            Some(_) => {}
        }
    }
    // At the end: no WARN (nor anything else at INFO or above) after it.
    let events = captured.events();
    let last = events.last().expect("the summary was recorded");
    if last.level != Level::INFO {
        return Some(format!(
            "the INFO summary is not the last line of the batch: {} comes after it",
            describe_event(last)
        ));
    }
    None
}

/// What a capture holds, short enough for a failure message: the tree of
/// spans and events for a small capture, counts and the first events for a
/// large one (a span per reading is ten thousand).
fn recorded(captured: &Captured) -> String {
    let (spans, events) = (captured.spans(), captured.events());
    if spans.len() + events.len() <= 60 {
        return captured.describe();
    }
    let at = |level: Level| events.iter().filter(|e| e.level == level).count();
    let mut text = format!(
        "  {} spans; {} events: {} ERROR, {} WARN, {} INFO, {} DEBUG, {} TRACE. The first events:\n",
        spans.len(),
        events.len(),
        at(Level::ERROR),
        at(Level::WARN),
        at(Level::INFO),
        at(Level::DEBUG),
        at(Level::TRACE),
    );
    for event in events.iter().take(12) {
        text.push_str(&format!("    {}\n", describe_event(event)));
    }
    text
}

fn describe_event(event: &EventRecord) -> String {
    let fields: String = event
        .fields
        .iter()
        .map(|(name, value)| format!(" {name}={value}"))
        .collect();
    format!(
        "{} {:?}{fields}",
        event.level,
        event.message.as_deref().unwrap_or("")
    )
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::Str(text) => format!("the text {text:?}"),
        Value::Debug(text) => format!("the formatted text {text}"),
        Value::F64(n) => format!("the float {n}"),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::I64(n) => format!("{n}"),
        Value::U64(n) => format!("{n}"),
    }
}

/// At most ten numbers, then how many more.
fn list(numbers: &[u64]) -> String {
    let shown: Vec<String> = numbers.iter().take(10).map(u64::to_string).collect();
    match numbers.len() {
        0 => "none".to_owned(),
        n if n > 10 => format!("{} and {} more", shown.join(", "), n - 10),
        _ => shown.join(", "),
    }
}

/// Your loop's cost, at most `TARGET` times the uninstrumented loop's, on
/// runs that still say what matters.
fn cost_within_twice_the_baseline() {
    let mut rng = scenario::rng();
    let plan = Plan {
        rounds: ROUNDS,
        runs_per_round: RUNS_PER_ROUND,
        floor: FLOOR,
        target: Some(TARGET),
        ..Plan::default()
    };
    // What the timed runs of yours recorded: the first that did not say
    // what matters, and how much the last one recorded.
    let mut broken: Option<String> = None;
    let mut last_seen = (0, 0, 0); // (readings, spans, INFO events)
    let cost = steady_cost_ratio(
        &plan,
        || Run::in_service(full_batch(&mut rng)),
        |run: &Run, side| run.summarize(side),
        |run: &Run, original: Summary, yours: Summary| {
            assert!(
                yours == original,
                "a timed call of your `summarize`, on a batch of {} readings, returned {yours:?}; \
                 the original returns {original:?} on the same readings. A cheaper loop must \
                 give the very same summary.",
                run.readings.len()
            );
            if broken.is_none() {
                broken = warnings_broken(&run.readings, &run.captured)
                    .or_else(|| summary_broken(&run.readings, &run.captured));
            }
            last_seen = (
                run.readings.len(),
                run.captured.spans().len(),
                run.captured.events_at(Level::INFO).len(),
            );
        },
    );
    let says_what_matters = |problem: String, figure: &str| {
        format!(
            "{figure}But a timed run of your loop no longer said what matters: {problem}. Cheaper \
             is worth nothing without the facts: one WARN per anomaly with its `index`, and one \
             INFO summary with `count` and `anomalies` (README, Goal and step 4)."
        )
    };
    let cost = match cost {
        Ok(cost) => cost,
        Err(disturbed) => {
            if let Some(problem) = broken {
                panic!("{}", says_what_matters(problem, ""));
            }
            grader_kit::checks::disturbed(format!(
                "{}; the last measurement put your loop at {:.2}x",
                disturbed.reason, disturbed.last.median
            ));
            return;
        }
    };
    let median = cost.median;
    measured(
        format!(
            "your loop: {median:.2}x the cost of the uninstrumented one; target at most {TARGET}x"
        ),
        median,
        TARGET,
    );
    if median > TARGET {
        let costs = costs_still_paid(last_seen, &mut rng);
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
             rounds, each the cheapest of {RUNS_PER_ROUND} runs on fresh batches of about 10,000 \
             readings, under a service's subscriber logging at INFO); the target is at most \
             {TARGET}x. {what}"
        );
    }
    if let Some(problem) = broken {
        panic!(
            "{}",
            says_what_matters(
                problem,
                &format!("Your loop costs {median:.1}x the uninstrumented one, under the target. ")
            )
        );
    }
}

/// Which of the starter's three costs your loop still pays, each with the
/// README step that removes it, from what its last timed run recorded.
fn costs_still_paid(
    (readings, spans, infos): (usize, usize, usize),
    rng: &mut Rng,
) -> Vec<&'static str> {
    let mut costs = Vec::new();
    if spans >= readings / 2 {
        costs.push("a span per reading, recorded at INFO (README, step 2)");
    }
    // With nothing recorded at all, spans and events cost next to nothing:
    // what still costs is work done before the macros decide, such as a
    // payload formatted into a `String` for a TRACE line.
    let quick = Plan {
        rounds: 3,
        runs_per_round: 1,
        max_spread: f64::INFINITY,
        attempts: 1,
        ..Plan::default()
    };
    let unrecorded = steady_cost_ratio(
        &quick,
        || Run::unrecorded(full_batch(rng)),
        |run: &Run, side| run.summarize(side),
        |_: &Run, original: Summary, yours: Summary| {
            assert!(
                yours == original,
                "the same summary, with nothing recorded too"
            );
        },
    );
    if unrecorded.is_ok_and(|cost| cost.median > 1.5) {
        costs.push(
            "work done on every pass even when nothing is recorded at all: with no subscriber, \
             your loop still costs well above the uninstrumented one, so something is computed \
             for telemetry before any macro has checked its level (README, step 3)",
        );
    }
    if infos >= readings / 2 {
        costs.push("an INFO line per reading (README, step 4)");
    }
    costs
}

/// One span around the batch, not one per reading: at the service's level
/// (INFO) no more than one span is made, and at every level one span holds
/// every WARN and the summary, and is closed when `summarize` returns.
fn one_span_for_the_batch() {
    let mut rng = scenario::rng();
    for readings in batches_to_check(&mut rng) {
        let service = in_service(&readings);
        let spans = service.spans().len();
        evidence(
            "what your loop recorded at INFO and above",
            recorded(&service),
        );
        assert!(
            spans <= 1,
            "a batch of {} readings made {spans} spans under a service logging at INFO, where at \
             most one is wanted whatever the batch's size: a span per reading costs as much as \
             the work it wraps, and tells a reader nothing the batch's context does not (README, \
             step 2).",
            readings.len()
        );
        // Every level: a batch's span may be below INFO, where a service
        // does not even make it; it must be there when someone looks.
        let (summary, everything) = grader_kit::capture(|| summarize(&readings));
        assert_same_summary(&readings, &summary);
        let facts: Vec<EventRecord> = everything
            .events()
            .into_iter()
            .filter(|e| e.level <= Level::INFO)
            .collect();
        let batch_span = everything.spans().into_iter().find(|span| {
            span.parent.is_none() && facts.iter().all(|e| everything.is_within(e, span))
        });
        let Some(batch_span) = batch_span else {
            evidence(
                "what your loop recorded, at every level",
                recorded(&everything),
            );
            panic!(
                "on a batch of {} readings, no span holds all of the batch's WARN events and its \
                 summary: {}. Its warnings and its summary are then read out of the batch's \
                 context: nothing ties them to the batch they came from (README, step 2).",
                readings.len(),
                if everything.spans().is_empty() {
                    "your loop made no span at all".to_owned()
                } else {
                    format!(
                        "of its {} spans, none is around them all",
                        everything.spans().len()
                    )
                }
            );
        };
        assert!(
            batch_span.closed,
            "the batch's span `{}` was still open after `summarize` returned: a span stays open \
             as long as something holds it, and a span never closed is never exported",
            batch_span.name
        );
    }
}

/// One WARN per anomaly, with its reading's index, in order, over every
/// batch.
fn warns_once_per_anomaly() {
    let mut rng = scenario::rng();
    // Every batch is summarized twice, as a retried job is: the second
    // call records its facts as the first did.
    for readings in batches_to_check(&mut rng) {
        for captured in [in_service(&readings), in_service(&readings)] {
            evidence(
                "what your loop recorded at INFO and above",
                recorded(&captured),
            );
            if let Some(problem) = warnings_broken(&readings, &captured) {
                panic!(
                    "{problem}. One WARN event per reading above {LIMIT} °C, with the reading's \
                     `index` as an integer field, in order: the warnings are the facts a \
                     cheaper loop must keep."
                );
            }
        }
    }
}

/// One INFO summary per batch, at the end, with its count and anomalies.
fn summarizes_once_at_the_end() {
    let mut rng = scenario::rng();
    // Every batch is summarized twice, as a retried job is: the second
    // call records its facts as the first did.
    for readings in batches_to_check(&mut rng) {
        for captured in [in_service(&readings), in_service(&readings)] {
            evidence(
                "what your loop recorded at INFO and above",
                recorded(&captured),
            );
            if let Some(problem) = summary_broken(&readings, &captured) {
                panic!(
                    "{problem}. At INFO, exactly one event for the whole batch, after its \
                     warnings, carrying `count` and `anomalies`: a service logging at INFO writes \
                     every event it lets through, and reads of a batch only its summary (README, \
                     step 4)."
                );
            }
        }
    }
}
