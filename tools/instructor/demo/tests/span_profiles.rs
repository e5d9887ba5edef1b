//! Span profiles on the real binaries (`just demo --profile`): with the
//! pricing hot spot planted, the CPU samples taken inside pricing's
//! `index_coupons` spans are mostly in the function that builds the coupon
//! index, the hot function, and none of its callers' own samples is (they
//! are the child span's); with the fix, no sample of pricing's request
//! spans is in it any more. The collector's answers are read as the
//! critical-paths page's links read them (`/api/profiles/folded`); the page's
//! link itself is followed in headless Chromium by the collector's own
//! browser tests.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chromium::Chromium;
use collector_client::{Client, ProfileShape, loopback, routes};
use demo::SERVICES;

use crate::support::{Demo, PORTS, STARTUP, build_the_shop, eventually, free_ports, work_dir};

/// The function that builds the coupon index (planted problem 3).
const HOT_FUNCTION: &str = "CouponIndex::new";

/// Each sample stands for this much CPU time: the services sample 100
/// times a second, and the folded stacks count CPU nanoseconds.
const SAMPLE_NS: u64 = 10_000_000;

/// Samples enough to judge a share by: at 100 a second of pricing's CPU,
/// seconds of load.
const ENOUGH: u64 = 40;

/// Samples enough in the flame graph the critical-paths page links to for
/// its widest frame to be the hot function's, not chance's.
const LINKED_ENOUGH: u64 = 10;

/// One demo at a time in this file: each test's load is its own.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The folded stacks (root first) of the samples taken inside `service`'s
/// `operation` spans, with their CPU nanoseconds, as the collector answers
/// them.
async fn folded(ui: &str, service: &str, operation: &str) -> Result<BTreeMap<String, u64>, String> {
    let answer = Client::new(ui)
        .map_err(|err| err.to_string())?
        .with_timeout(Duration::from_secs(5))
        .operation_profile(service, operation, ProfileShape::Folded)
        .await
        .map_err(|err| err.to_string())?;
    let text = String::from_utf8(answer).map_err(|err| err.to_string())?;
    let mut stacks = BTreeMap::new();
    for line in text.lines() {
        let (stack, count) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("not a folded line: {line:?}"))?;
        let count: u64 = count
            .parse()
            .map_err(|_| format!("not a folded count: {line:?}"))?;
        *stacks.entry(stack.to_owned()).or_default() += count;
    }
    Ok(stacks)
}

/// Samples in all, and those whose stack holds [`HOT_FUNCTION`].
fn in_hot_function(stacks: &BTreeMap<String, u64>) -> (u64, u64) {
    let total: u64 = stacks.values().sum();
    let hot: u64 = stacks
        .iter()
        .filter(|(stack, _)| stack.contains(HOT_FUNCTION))
        .map(|(_, cpu_ns)| cpu_ns)
        .sum();
    (total / SAMPLE_NS, hot / SAMPLE_NS)
}

/// Quotes with a coupon code, four at a time, sent straight to the pricing
/// service until aborted: on top of the demo's own small load, so that
/// pricing burns CPU in its quotes even on a machine busy with other work
/// (where a process timer's samples come more rarely).
fn quotes_with_a_coupon(base: u16) -> Vec<tokio::task::JoinHandle<()>> {
    let offset = SERVICES
        .iter()
        .find_map(|(name, offset)| (*name == "pricing").then_some(*offset))
        .expect("a pricing service");
    let url = format!("{}/quote", loopback(base + offset));
    (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let quote =
                    r#"{"lines": [{"talk_id": 1, "quantity": 1}], "coupon": "guest-00042"}"#;
                loop {
                    // A refused connection while the shop starts: the next
                    // one is tried.
                    let _ = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(quote)
                        .send()
                        .await;
                }
            })
        })
        .collect()
}

/// In headless Chromium, the critical-paths page of the shop's orders:
/// the share of the widest [`HOT_FUNCTION`] frame in the CPU flame graph
/// its link for pricing's `operation` leads to (all bands); `None` where no
/// Chromium is installed (never on CI: `find_or_skip`).
///
/// The page lists the operations on the critical paths of the orders it
/// analyses, and links each to the samples taken inside it in those
/// orders: waited for until the demo's own orders have put `operation`
/// there with [`LINKED_ENOUGH`] samples. One order in four carries a
/// coupon, and its index takes about one sample, so the first few orders on
/// the page can hold none, and a share of none says nothing.
async fn linked_share_of_the_hot_function(ui: &str, base: u16, operation: &str) -> Option<f64> {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("span-profiles-{base}"));
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let browser = Arc::new(Chromium::find_or_skip(scratch.join("chromium"))?);
    let page = format!("{ui}/critical-paths?service=gateway&operation=POST%20/orders");
    let wanted = format!("service=pricing&amp;operation={operation}&amp;");
    let svg = eventually(
        &format!("the page's pricing {operation} flame graph with {LINKED_ENOUGH} samples"),
        STARTUP,
        async || {
            let (browser, page) = (Arc::clone(&browser), page.clone());
            let dom = tokio::task::spawn_blocking(move || browser.dump_dom(&page))
                .await
                .map_err(|err| err.to_string())?
                .map_err(|err| format!("Chromium did not draw the page: {err}"))?;
            let link = dom
                .split("href=\"")
                .filter_map(|rest| rest.split('"').next())
                .find(|href| {
                    href.starts_with(routes::PROFILE_FLAME_GRAPH)
                        && href.contains(&wanted)
                        && !href.contains("band=")
                })
                .ok_or_else(|| format!("no link to {operation}'s CPU flame graph on the page yet"))?
                .replace("&amp;", "&");
            let svg = reqwest::get(format!("{ui}{link}"))
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|err| format!("the linked flame graph: {err}"))?
                .text()
                .await
                .map_err(|err| format!("its SVG: {err}"))?;
            let samples = samples_in(&svg);
            match samples >= LINKED_ENOUGH {
                true => Ok(svg),
                false => Err(format!("{samples} samples in it so far")),
            }
        },
    )
    .await;
    let frames = profile::frames(&svg);
    Some(profile::hottest_frame(&frames, HOT_FUNCTION).map_or(0.0, |(_, share)| share))
}

/// The samples a flame graph holds: its widest frame's (`name (N samples,
/// P%)`), which every other frame is part of.
fn samples_in(svg: &str) -> u64 {
    profile::frames(svg)
        .iter()
        .filter_map(|frame| {
            let (_, count) = frame.rsplit_once(" (")?;
            count.split(' ').next()?.replace(',', "").parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Whether a stack is in [`HOT_FUNCTION`]'s own work, not in the opening or
/// closing of its span: `#[instrument]` makes the span inside the function,
/// so a sample there while the span is being made, entered, exited or
/// closed (tracing's and OpenTelemetry's work) belongs to the caller's span,
/// and rightly so.
fn in_the_functions_own_work(stack: &str) -> bool {
    let Some(at) = stack.find(HOT_FUNCTION) else {
        return false;
    };
    let mut below = stack[at..].split(';').skip(1);
    below
        .next()
        .is_some_and(|callee| !callee.contains("tracing"))
}

/// Waits until the samples of `service`'s `operations` add up to
/// [`ENOUGH`], and returns them merged.
async fn enough_samples(ui: &str, service: &str, operations: &[&str]) -> BTreeMap<String, u64> {
    eventually(
        &format!("{ENOUGH} CPU samples in {service}'s {operations:?} spans"),
        STARTUP,
        async || {
            let mut merged = BTreeMap::new();
            for operation in operations {
                for (stack, count) in folded(ui, service, operation).await? {
                    *merged.entry(stack).or_default() += count;
                }
            }
            let (total, _) = in_hot_function(&merged);
            if total >= ENOUGH {
                Ok(merged)
            } else {
                Err(format!("{total} samples so far"))
            }
        },
    )
    .await
}

#[tokio::test]
async fn the_hot_spots_span_profile_is_its_hot_function_and_the_fix_removes_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    build_the_shop();

    let base = free_ports(PORTS);
    let planted = Demo::start(base, &work_dir("span-profiles", base), &["--profile"], &[]);
    let ui = loopback(base + 5);
    let load = quotes_with_a_coupon(base);
    let stacks = enough_samples(&ui, "pricing", &["index_coupons"]).await;
    let (total, hot) = in_hot_function(&stacks);
    println!("planted: {hot} of {total} samples in index_coupons spans are in {HOT_FUNCTION}");
    assert!(
        hot * 2 >= total,
        "only {hot} of {total} samples taken inside index_coupons are in {HOT_FUNCTION}: {stacks:#?}{}",
        planted.output()
    );
    // Its callers' spans own their own samples, not their child's: the
    // hot function shows under index_coupons alone.
    let callers = enough_samples(&ui, "pricing", &["POST /quote", "price"]).await;
    load.iter().for_each(tokio::task::JoinHandle::abort);
    let (total, hot) = in_hot_function(&callers);
    let working: Vec<&String> = callers
        .keys()
        .filter(|stack| in_the_functions_own_work(stack))
        .collect();
    println!(
        "planted: {hot} of {total} samples in its callers' own spans are in {HOT_FUNCTION}, \
         all in its span's opening and closing"
    );
    assert!(
        working.is_empty(),
        "samples of index_coupons' callers in {HOT_FUNCTION}'s own work, which runs in the child span: {working:#?}"
    );
    if let Some(share) = linked_share_of_the_hot_function(&ui, base, "index_coupons").await {
        println!("planted: the page's index_coupons flame graph: {HOT_FUNCTION} {share}%");
        assert!(
            share >= 50.0,
            "the critical-paths page's index_coupons flame graph: {HOT_FUNCTION} is {share}% wide"
        );
    }
    drop(planted);

    let base = free_ports(PORTS);
    let fixed = Demo::start(
        base,
        &work_dir("span-profiles-fixed", base),
        &["--profile", "--fixed"],
        &[],
    );
    let ui = loopback(base + 5);
    let load = quotes_with_a_coupon(base);
    let stacks = enough_samples(&ui, "pricing", &["POST /quote", "price"]).await;
    load.iter().for_each(tokio::task::JoinHandle::abort);
    let (total, hot) = in_hot_function(&stacks);
    println!("fixed: {hot} of {total} samples in pricing's request spans are in {HOT_FUNCTION}");
    assert_eq!(
        hot,
        0,
        "with the fix, {hot} of {total} samples in pricing's request spans are still in {HOT_FUNCTION}{}",
        fixed.output()
    );
}
