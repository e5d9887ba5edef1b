//! The rules of the line count, on tricky code.

use ratio::{FunctionReport, Rules, analyze_source};

fn count(source: &str) -> Vec<(String, usize, usize)> {
    analyze_source(source, &Rules::default())
        .expect("valid Rust")
        .into_iter()
        .map(
            |FunctionReport {
                 name,
                 business,
                 admin,
                 ..
             }| (name, business, admin),
        )
        .collect()
}

fn one(source: &str) -> (usize, usize) {
    let all = count(source);
    assert_eq!(all.len(), 1, "{all:?}");
    (all[0].1, all[0].2)
}

#[test]
fn log_lines_timing_and_plain_code() {
    let source = r#"
fn place(order: &Order) -> Result<u64, Error> {
    let start = Instant::now();
    info!(order_id = order.id, "start");

    // a comment is neutral
    let total = price(order)?;
    charge(total)?;
    let elapsed = start.elapsed().as_millis() as u64;
    info!(elapsed, "end");
    Ok(total)
}
"#;
    assert_eq!(
        one(source),
        (3, 4),
        "business: price, charge, Ok; admin: start, info, elapsed, info"
    );
}

#[test]
fn a_multi_line_macro_counts_every_line() {
    let source = r#"
fn f() {
    tracing::error!(
        order_id = 7,
        reason = "declined",
        "charge failed"
    );
    work();
}
"#;
    assert_eq!(one(source), (1, 5));
}

#[test]
fn macros_inside_closures_and_match_arms() {
    let source = r#"
fn f(items: &[Item], outcome: Outcome) {
    items.iter().for_each(|item| {
        debug!(?item, "pricing");
        price(item);
    });
    match outcome {
        Outcome::Ok => info!("done"),
        Outcome::Failed(e) => {
            warn!(%e, "failed");
            retry();
        }
    }
}
"#;
    // business: for_each, price, match, Ok arm?, Failed arm line, retry
    let (business, admin) = one(source);
    assert_eq!(admin, 3, "debug, the Ok arm's info, warn");
    assert_eq!(business, 5, "for_each, price, match, the Failed arm, retry");
}

#[test]
fn instrument_attributes_count_one_admin_line_each() {
    let source = r#"
#[tracing::instrument(skip(db), err)]
async fn reserve(db: &Db, id: u32) -> Result<(), Error> {
    db.reserve(id).await?;
    Ok(())
}

#[instrument(
    skip_all,
    fields(order_id = order.id)
)]
fn charge(order: &Order) {
    pay(order);
}
"#;
    assert_eq!(
        count(source),
        [("reserve".to_owned(), 2, 1), ("charge".to_owned(), 1, 1)],
        "an attribute is one admin line, however it is laid out"
    );
}

#[test]
fn async_blocks_and_span_plumbing() {
    let source = r#"
async fn f(span: Span) -> u32 {
    let _guard = span.enter();
    let value = async {
        trace!("inside");
        compute().await
    }
    .instrument(info_span!("inner"))
    .await;
    Span::current().record("value", value);
    value
}
"#;
    let (business, admin) = one(source);
    assert_eq!(admin, 4, "the guard, trace!, .instrument(..), record");
    assert_eq!(business, 4, "let value = async {{, compute, .await, value");
}

#[test]
fn nested_functions_are_measured_on_their_own() {
    let source = r#"
fn outer() {
    fn helper() {
        info!("in the helper");
        work();
    }
    helper();
    debug!("outer");
}
"#;
    assert_eq!(
        count(source),
        [("outer".to_owned(), 1, 1), ("helper".to_owned(), 1, 1)]
    );
}

#[test]
fn a_method_named_info_is_not_a_macro() {
    let source = r#"
fn f(logger: &Logger, registry: &Registry) {
    logger.info("this is business: a call of the program's own");
    registry.record("a record method that is not a span's");
}
"#;
    assert_eq!(one(source), (2, 0));
}

#[test]
fn a_line_that_holds_an_admin_statement_is_admin() {
    // Joining a log line onto a business line does not hide it.
    let source = r#"
fn f() {
    let x = work(); debug!(x);
    let y = more().map_err(|e| { error!(%e); e })?;
    let z = async_work().instrument(info_span!("z")).await;
}
"#;
    assert_eq!(
        one(source),
        (1, 2),
        "admin: the joined debug!, the error! statement in the closure; business: the \
         instrumented call, where admin code is only part of a business statement"
    );
}

#[test]
fn renamed_imports_and_wrapper_macros_are_followed() {
    let source = r#"
use tracing::info as note;
use std::time::Instant as Clock;
use tracing::instrument as traced;

macro_rules! audit {
    ($($t:tt)*) => { tracing::warn!($($t)*) };
}

#[traced(skip_all)]
fn f() {
    let started = Clock::now();
    note!("start");
    audit!("careful");
    work();
}
"#;
    assert_eq!(one(source), (1, 4), "traced, Clock::now, note!, audit!");
}

#[test]
fn moving_admin_code_to_another_module_still_counts_it() {
    let dir = std::env::temp_dir().join(format!("ratio-crate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("lib.rs"),
        "mod log;\nfn f() {\n    log::start!();\n    work();\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("log.rs"),
        "macro_rules! start {\n    () => { tracing::info!(\"start\") };\n}\npub(crate) use start;\n",
    )
    .unwrap();
    let report = ratio::analyze_paths(std::slice::from_ref(&dir), &Rules::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        (report.business, report.admin),
        (1, 1),
        "the wrapper in log.rs makes `log::start!()` in lib.rs a log line"
    );
}

#[test]
fn ratios_are_infinite_without_admin() {
    assert_eq!(ratio::ratio(5, 0), None);
    assert_eq!(ratio::ratio(6, 3), Some(2.0));
}

#[test]
fn extra_macros_and_paths_can_be_configured() {
    let source = r#"
fn f() {
    audit!("x");
    telemetry::track("y");
    work();
}
"#;
    let mut rules = Rules::default();
    rules.macros.insert("audit".to_owned());
    rules.paths.insert("telemetry::track".to_owned());
    let report = analyze_source(source, &rules).unwrap();
    assert_eq!((report[0].business, report[0].admin), (1, 2));
}
