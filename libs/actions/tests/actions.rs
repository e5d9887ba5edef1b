//! Actions end to end: through a real subscriber, into the human sink and
//! the statistics, for every way an action can end.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use actions::{
    ActionLayer, Levels, LineSink, ManualClock, Outcome, Record, RecordKind, Stats, StatsSink,
};
use tracing_subscriber::prelude::*;

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn records(&self) -> Vec<Record> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| support::parse(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

struct Harness {
    lines: Lines,
    stats: Arc<Stats>,
    clock: ManualClock,
}

fn with_actions(levels: Levels, f: impl FnOnce(&ManualClock)) -> Harness {
    let lines = Lines::default();
    let clock = ManualClock::default();
    let stats = Arc::new(Stats::with_clock(clock.clone()));
    let writer = lines.clone();
    let subscriber = tracing_subscriber::registry()
        .with(
            ActionLayer::new(LineSink::human(move || writer.clone(), levels))
                .with_clock(clock.clone()),
        )
        .with(ActionLayer::new(StatsSink::new(stats.clone())).with_clock(clock.clone()));
    tracing::subscriber::with_default(subscriber, || f(&clock));
    Harness {
        lines,
        stats,
        clock,
    }
}

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the processor is down")
    }
}

#[test]
fn every_outcome_is_recorded_with_its_data_and_duration() {
    let harness = with_actions(Levels::everything(), |clock| {
        let ok: Result<u32, Declined> = actions::run("reserve", |act| {
            act.set("talk_id", 3);
            act.set("customer", "ada lovelace");
            clock.advance_us(1_500);
            Ok(2)
        });
        assert_eq!(ok.unwrap(), 2);
        let failed: Result<(), Declined> = actions::run("charge", |act| {
            act.fail("card declined");
            Err(Declined)
        });
        assert!(failed.is_err());
        let errored: Result<(), Declined> = actions::run("charge", |_| Err(Declined));
        assert!(errored.is_err());
        let panicked = std::panic::catch_unwind(|| {
            let _: Result<(), Declined> = actions::run("price", |_| panic!("index out of bounds"));
        });
        assert!(panicked.is_err());
    });
    let records = harness.lines.records();
    let ends: Vec<(RecordKind, &str)> = records.iter().map(|r| (r.kind, r.name.as_str())).collect();
    assert_eq!(
        ends,
        [
            (RecordKind::End(Outcome::Success), "reserve"),
            (RecordKind::End(Outcome::Failure), "charge"),
            (RecordKind::End(Outcome::Exception), "charge"),
            (RecordKind::End(Outcome::Exception), "price"),
        ]
    );
    let reserve = &records[0];
    assert_eq!(
        reserve.duration_us,
        Some(1_500),
        "measured with the manual clock"
    );
    assert_eq!(reserve.fields[0], ("talk_id".to_owned(), 3.into()));
    assert_eq!(
        reserve.fields[1],
        ("customer".to_owned(), "ada lovelace".into())
    );
    assert_eq!(
        records[1].fields,
        [("reason".to_owned(), "card declined".into())],
        "a failure keeps its reason, not the error"
    );
    assert_eq!(
        records[2].fields,
        [("reason".to_owned(), "the processor is down".into())],
        "an error escaping with ? is an exception"
    );
    assert_eq!(
        records[3].fields,
        [("reason".to_owned(), "panicked".into())]
    );

    harness.clock.advance_secs(5);
    let stats = harness.stats.snapshot();
    let charge = stats.iter().find(|s| s.action == "charge").unwrap();
    assert_eq!((charge.count, charge.failure, charge.exception), (2, 1, 1));
    let reserve = stats.iter().find(|s| s.action == "reserve").unwrap();
    assert!(reserve.p50_us.abs_diff(1_500) <= 2, "{}", reserve.p50_us);
}

#[test]
fn a_quiet_service_writes_only_what_went_wrong_but_counts_everything() {
    let harness = with_actions(Levels::default(), |_| {
        for _ in 0..3 {
            let _: Result<(), Declined> = actions::run("reserve", |_| Ok(()));
        }
        let _: Result<(), Declined> = actions::run("reserve", |act| {
            act.fail("sold out");
            Ok(())
        });
    });
    let records = harness.lines.records();
    assert_eq!(
        records.len(),
        1,
        "successes are DEBUG, below the INFO threshold"
    );
    assert_eq!(records[0].kind, RecordKind::End(Outcome::Failure));
    assert_eq!(
        harness.stats.snapshot()[0].count,
        4,
        "statistics count every action"
    );
}

#[test]
fn actions_nest_and_say_things_as_they_run() {
    let harness = with_actions(Levels::everything(), |_| {
        let _: Result<(), Declined> = actions::run("place_order", |order| {
            order.comment("3 lines");
            let _: Result<(), Declined> = actions::run("charge", |charge| {
                charge.warn("retrying after 10 ms");
                Ok(())
            });
            Ok(())
        });
    });
    let records = harness.lines.records();
    let seen: Vec<(RecordKind, &str)> = records.iter().map(|r| (r.kind, r.name.as_str())).collect();
    assert_eq!(
        seen,
        [
            (RecordKind::Comment, "place_order"),
            (RecordKind::Warning, "charge"),
            (RecordKind::End(Outcome::Success), "charge"),
            (RecordKind::End(Outcome::Success), "place_order"),
        ],
        "the inner action ends first, inside the outer one"
    );
    assert_eq!(
        records[1].fields,
        [("text".to_owned(), "retrying after 10 ms".into())]
    );
}

#[test]
fn an_async_action_spans_its_awaits() {
    let harness = with_actions(Levels::everything(), |clock| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let clock = clock.clone();
        let result: Result<u32, Declined> =
            runtime.block_on(actions::run_async("quote", |act| async move {
                act.set("lines", 2);
                tokio::task::yield_now().await;
                clock.advance_us(700);
                tokio::task::yield_now().await;
                Ok(7)
            }));
        assert_eq!(result.unwrap(), 7);
    });
    let records = harness.lines.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].duration_us, Some(700));
    assert_eq!(records[0].fields, [("lines".to_owned(), 2.into())]);
}
