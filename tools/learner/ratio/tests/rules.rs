//! The rules of the statement count, on tricky code.

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
fn a_multi_line_macro_is_one_statement() {
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
    assert_eq!(one(source), (1, 1));
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
    let (business, admin) = one(source);
    assert_eq!(admin, 3, "debug, the Ok arm's info, warn");
    assert_eq!(
        business, 4,
        "for_each, price, match, retry: the Ok arm's pattern is no business of the match"
    );
}

#[test]
fn instrument_attributes_count_one_admin_statement_each() {
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
        "an attribute is one admin statement, however it is laid out"
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
    assert_eq!(
        admin, 4,
        "the guard, trace!, `let value` (for its .instrument(..)), record"
    );
    assert_eq!(
        business, 3,
        "`let value` (for its .await), compute().await, value"
    );
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
fn joined_statements_count_apart_and_a_mixed_one_in_both() {
    // Joining a log line onto a business line does not hide it, nor does
    // tucking admin code into a business statement.
    let source = r#"
fn f() {
    let x = work(); debug!(x);
    let y = more().map_err(|e| { error!(%e); e })?;
    let z = async_work().instrument(info_span!("z")).await;
    let w = (info!("start"), compute()).1;
}
"#;
    assert_eq!(
        one(source),
        (5, 4),
        "business: x, y, the closure's `e`, z, w; admin: debug!, the closure's error!, \
         z's .instrument(..), w's info!"
    );
}

#[test]
fn the_layout_changes_nothing() {
    // What rustfmt may do, or a person splitting or joining lines: the
    // same statements, the same figures.
    let compact = r#"
fn place(shop: &mut Shop, order: &Order) -> Result<u64, Error> {
    let start = Instant::now(); info!(order_id = order.id, "start");
    let cents = match reserve(shop, order) { Ok(cents) => cents, Err(err) => { error!(%err); return Err(err); } };
    let total: u64 = order.lines.iter().map(|line| line.price * line.seats).sum();
    debug!(elapsed_ms = start.elapsed().as_secs_f64() * 1e3, "end"); Ok(cents + total)
}
"#;
    let spread = r#"
fn place(
    shop: &mut Shop,
    order: &Order,
) -> Result<u64, Error> {
    let start =
        Instant::now();
    info!(
        order_id = order.id,
        "start"
    );
    let cents = match reserve(shop, order) {
        Ok(cents) => {
            cents
        }
        Err(err) => {
            error!(%err);
            return Err(err);
        }
    };
    let total: u64 = order
        .lines
        .iter()
        .map(|line| {
            line.price * line.seats
        })
        .sum();
    debug!(
        elapsed_ms = start.elapsed().as_secs_f64() * 1e3,
        "end"
    );
    Ok(cents + total)
}
"#;
    assert_eq!(
        one(compact),
        (6, 4),
        "business: let cents, the Ok arm's cents, return, let total, the closure's \
         product, Ok; admin: start, info!, error!, debug!"
    );
    assert_eq!(
        one(spread),
        one(compact),
        "the same code, laid out otherwise"
    );
}

#[test]
fn a_value_computed_from_a_timer_is_admin() {
    let source = r#"
fn f() -> u64 {
    let start = Instant::now();
    let total = work();
    let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
    let late = -(start.elapsed().as_millis() as i64) + 5;
    total
}
"#;
    assert_eq!(
        one(source),
        (2, 3),
        "start, elapsed_ms and late serve the timer"
    );
}

#[test]
fn timing_helpers_count_as_admin() {
    // Moving the timer and the logs into a helper does not make them
    // business: a type that logs when dropped, a function that is handed
    // the work to time, a function that only logs.
    let source = r#"
struct Timer { name: &'static str, start: Instant }

impl Timer {
    fn start(name: &'static str) -> Self { Timer { name, start: Instant::now() } }
}

impl Drop for Timer {
    fn drop(&mut self) { info!(name = self.name, elapsed = ?self.start.elapsed(), "end"); }
}

fn timed<T>(name: &str, work: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = work();
    info!(name, elapsed_ms = start.elapsed().as_millis() as u64, "done");
    out
}

fn log_start(id: u64) {
    debug!(id, "start");
}

fn place(order: &Order) -> u64 {
    let _timer = Timer::start("place");
    log_start(order.id);
    let cents = timed("price", || price(order));
    cents
}
"#;
    assert_eq!(
        count(source),
        [
            ("start".to_owned(), 0, 1),
            ("drop".to_owned(), 0, 1),
            ("timed".to_owned(), 2, 2),
            ("log_start".to_owned(), 0, 1),
            ("place".to_owned(), 2, 3),
        ],
        "place: the timer, log_start and timed are admin; price and cents business"
    );
}

#[test]
fn business_that_holds_an_instant_or_logs_is_no_helper() {
    // A deadline is data, not a timer; a retry loop that logs is business
    // that also logs.
    let source = r#"
struct Lease { until: Instant }

fn lease(until: Instant) -> Lease {
    Lease { until }
}

fn retry(op: impl Fn() -> Result<(), E>) -> Result<(), E> {
    for attempt in 0..3 {
        match op() {
            Ok(()) => return Ok(()),
            Err(e) => warn!(%e, attempt, "retrying"),
        }
    }
    op()
}

fn f() {
    retry(|| work());
}
"#;
    assert_eq!(
        count(source),
        [
            ("lease".to_owned(), 1, 0),
            ("retry".to_owned(), 4, 1),
            ("f".to_owned(), 2, 0),
        ]
    );
}

#[test]
fn actions_and_in_scope_are_span_plumbing() {
    // Like `#[action]` and `#[instrument]`: the wrapper is admin, the work
    // in its closure business.
    let source = r#"
fn reserve(shop: &mut Shop, order: &Order) -> Result<u64, Error> {
    actions::run("reserve", |act| {
        act.set("order_id", order.id);
        shop.take_seats(order.talk_id, order.seats)?;
        Ok(shop.price(order.talk_id)? * u64::from(order.seats))
    })
}

fn charge(span: Span, order: &Order) -> Result<(), Error> {
    span.in_scope(|| pay(order))
}
"#;
    assert_eq!(
        count(source),
        [("reserve".to_owned(), 3, 1), ("charge".to_owned(), 1, 1)]
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

#[test]
fn a_closure_that_only_logs_is_a_helper_where_it_is_called() {
    // Binding the log line to a local name writes it once, but every call
    // of it still does only admin work; a closure that does business stays
    // business.
    let source = r#"
fn place(order: &Order) -> u64 {
    let note = |step: &str| debug!(step, order = order.id, "done");
    let total = |o: &Order| o.seats * o.price;
    reserve(order);
    note("reserve");
    let cents = total(order);
    note("price");
    cents
}
"#;
    assert_eq!(
        one(source),
        (5, 4),
        "admin: `note`'s binding, its body and both calls; business: `total`'s binding \
         and body, `reserve`, `cents` twice"
    );
}
