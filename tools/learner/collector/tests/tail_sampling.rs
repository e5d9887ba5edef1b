//! Tail sampling (`collector --tail-sampling`) through the real OTLP/HTTP
//! ingestion on loopback: traces built from the protocol's own types and
//! posted as an exporter posts them, the decisions read back through the
//! query API and `GET /metrics`. The decision wait is 200 ms unless a test
//! says otherwise, and no test sleeps to let it pass: each waits for its
//! counts to settle, within a generous bound.

#[allow(
    dead_code,
    reason = "each test binary uses a part of the shared helpers"
)]
mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use collector::tail_sampling::{
    EXCEPTION_EVENT, Rule, Settings, WARM_UP_DURATIONS, WINDOW_DURATIONS,
};
use collector_client::{Client, MAX_LIMIT, TraceSearch};
use common::program::Program;
use common::{Collector, Span, failed, post, request, span};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::Event;
use serde_json::Value;

const DECISION_WAIT: Duration = Duration::from_millis(200);
/// How long counts may take to settle before a test fails: far more than
/// the decision wait, for a machine busy with other tests.
const SETTLED_WITHIN: Duration = Duration::from_secs(60);
const SERVER: i32 = 2;
const CLIENT: i32 = 3;

fn settings(keep_share: f64) -> Settings {
    Settings {
        keep_share,
        decision_wait: DECISION_WAIT,
        ..Settings::default()
    }
}

/// A trace id of 16 bytes, from its high and low halves.
fn trace_id(high: u64, low: u64) -> [u8; 16] {
    let mut id = [0; 16];
    id[..8].copy_from_slice(&high.to_be_bytes());
    id[8..].copy_from_slice(&low.to_be_bytes());
    id
}

/// A trace id as the collector shows it: lowercase hex.
fn hex(id: [u8; 16]) -> String {
    id.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Trace `id`: a server root named `operation` lasting `root_us`, and
/// `children` client spans under it.
fn trace(id: [u8; 16], operation: &str, root_us: u64, children: u8) -> Vec<Span> {
    let mut root = span(0, 1, None, 0, root_us, SERVER);
    root.name = operation.to_owned();
    let mut spans = vec![root];
    spans.extend(
        (0..children).map(|child| span(0, child + 2, Some(1), root_us / 4, root_us / 2, CLIENT)),
    );
    for span in &mut spans {
        span.trace_id = id.to_vec();
    }
    spans
}

/// What the collector's `GET /metrics` says.
struct Scrape(openmetrics::Exposition);

impl Scrape {
    async fn of(collector: &Collector) -> Self {
        let text = reqwest::get(format!("{}/metrics", collector.ui))
            .await
            .expect("the collector answers")
            .text()
            .await
            .expect("metrics are text");
        Self(
            openmetrics::parse(&text)
                .unwrap_or_else(|err| panic!("not OpenMetrics ({err}):\n{text}")),
        )
    }

    /// The sum of the samples named `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.0.sum(name, labels) as u64
    }

    fn decided(&self) -> u64 {
        self.sum("collector_tail_sampling_traces_total", &[])
    }

    fn kept_by(&self, rule: Rule) -> u64 {
        self.sum(
            "collector_tail_sampling_traces_total",
            &[("decision", "kept"), ("rule", rule.label())],
        )
    }

    fn dropped(&self) -> u64 {
        self.sum(
            "collector_tail_sampling_traces_total",
            &[("decision", "dropped")],
        )
    }

    fn spans(&self, decision: &str) -> u64 {
        self.sum(
            "collector_tail_sampling_spans_total",
            &[("decision", decision)],
        )
    }

    fn late_spans(&self, decision: &str) -> u64 {
        self.sum(
            "collector_tail_sampling_late_spans_total",
            &[("decision", decision)],
        )
    }

    fn decided_early(&self) -> u64 {
        self.sum("collector_tail_sampling_traces_decided_early_total", &[])
    }

    fn pending_spans(&self) -> u64 {
        self.sum("collector_tail_sampling_pending_spans", &[])
    }

    fn pending_traces(&self) -> u64 {
        self.sum("collector_tail_sampling_pending_traces", &[])
    }

    fn pending_bytes(&self) -> u64 {
        self.sum("collector_tail_sampling_pending_size_bytes", &[])
    }

    /// Whether any sample is tail sampling's.
    fn samples_at_the_tail(&self) -> bool {
        self.0
            .samples
            .iter()
            .any(|sample| sample.name.starts_with("collector_tail_sampling_"))
    }
}

/// Scrapes the collector until `settled` holds, and answers that scrape;
/// fails, saying `what` it waited for, past [`SETTLED_WITHIN`].
async fn scrape_until(
    collector: &Collector,
    what: &str,
    settled: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let deadline = Instant::now() + SETTLED_WITHIN;
    loop {
        let scrape = Scrape::of(collector).await;
        if settled(&scrape) {
            return scrape;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {SETTLED_WITHIN:?}; decided {}, waiting {} spans",
            scrape.decided(),
            scrape.pending_spans()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every trace posted is decided, and none waits.
async fn all_decided(collector: &Collector, traces: u64) -> Scrape {
    scrape_until(collector, &format!("{traces} traces decided"), |scrape| {
        scrape.decided() == traces && scrape.pending_spans() == 0
    })
    .await
}

/// How many spans of trace `id` the collector stores: none when it stores
/// no such trace.
async fn stored(collector: &Collector, id: [u8; 16]) -> usize {
    let response = reqwest::get(format!("{}/api/traces/{}", collector.ui, hex(id)))
        .await
        .expect("the collector answers");
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return 0;
    }
    let answer: Value = response.json().await.expect("a trace in JSON");
    answer["data"][0]["spans"].as_array().map_or(0, Vec::len)
}

/// The traces stored whose root is `service`'s `operation`, as the query
/// API finds them: each one's id and its number of spans.
async fn stored_traces(
    collector: &Collector,
    service: &str,
    operation: &str,
) -> Vec<(String, usize)> {
    let search = TraceSearch {
        service: Some(service.to_owned()),
        operation: Some(operation.to_owned()),
        limit: Some(MAX_LIMIT),
        ..TraceSearch::default()
    };
    let traces = Client::new(&collector.ui)
        .expect("an HTTP address")
        .traces(&search)
        .await
        .expect("the collector answers the search");
    assert!(
        traces.len() < MAX_LIMIT,
        "every trace of {service} {operation} fits in one answer"
    );
    traces
        .into_iter()
        .map(|trace| (trace.trace_id, trace.spans.len()))
        .collect()
}

/// Warms `service`'s `operation` up: [`WARM_UP_DURATIONS`] traces of
/// `root_us`, all kept while it warms up, and decided before this returns.
async fn warm_up(collector: &Collector, service: &str, operation: &str, root_us: u64) {
    let spans = (0..WARM_UP_DURATIONS)
        .flat_map(|n| trace(trace_id(u64::MAX, n), operation, root_us, 0))
        .collect();
    post(&collector.otlp, &request(service, spans)).await;
    scrape_until(collector, "the endpoint warmed up", |scrape| {
        scrape.kept_by(Rule::WarmingUp) == WARM_UP_DURATIONS && scrape.pending_spans() == 0
    })
    .await;
}

/// A small seeded generator (SplitMix64), so that a failing scenario is
/// run again from the seed it printed.
struct Rng(u64);

impl Rng {
    fn draw(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.draw() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.draw() % bound
    }

    /// A standard normal draw (Box and Muller's).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The scenario's endpoints, each a root's service and operation.
const ENDPOINTS: [(&str, &str); 3] = [
    ("gateway", "POST /orders"),
    ("catalog", "GET /talks"),
    ("payments", "POST /charges"),
];
/// Traces per endpoint: at most half a window, so that an endpoint's
/// window holds every duration decided before (it turns only once its
/// recent half is full).
const TRACES_PER_ENDPOINT: usize = 900;
const _: () = assert!(
    TRACES_PER_ENDPOINT as u64 <= WINDOW_DURATIONS / 2,
    "the scenario's model assumes a window that holds every earlier root"
);
const TRACES_PER_EXPORT: usize = 30;
/// A span of the trace fails (status ERROR).
const ERROR_RATE: f64 = 0.01;
/// A span of the trace records an exception, its status unset.
const EXCEPTION_RATE: f64 = 0.005;
/// The root lasts 10 to 20 times a usual one: far slower than the rest.
const FAR_SLOWER_RATE: f64 = 0.005;
/// A usual root's median, in µs; the durations are log-normal about it.
const MEDIAN_US: f64 = 20_000.0;
const LOG_SIGMA: f64 = 0.5;
/// The share of the rest kept: the default's.
const SHARE: f64 = 0.05;

/// One trace posted, and what the rules must make of it.
struct Posted {
    id: [u8; 16],
    endpoint: usize,
    spans: usize,
    failed: bool,
    /// Decided after its endpoint warmed up.
    warm: bool,
    latency: Expected,
}

/// How a root compares with the p99 of its endpoint's roots decided
/// before it, as the collector must judge it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expected {
    WarmingUp,
    /// Above the p99 by more than its histogram's resolution (1 %).
    Slow,
    /// At or below the p99.
    Usual,
    /// Above the exact p99, within its resolution: either.
    EitherSide,
}

/// The scenario of one seed: its exports, in the order they are posted,
/// and each trace, in the order the collector decides them.
fn scenario(seed: u64) -> (Vec<ExportTraceServiceRequest>, Vec<Posted>) {
    let mut rng = Rng(seed);
    let mut order: Vec<usize> = ENDPOINTS
        .iter()
        .enumerate()
        .flat_map(|(endpoint, _)| std::iter::repeat_n(endpoint, TRACES_PER_ENDPOINT))
        .collect();
    for at in (1..order.len()).rev() {
        let other = rng.below(at as u64 + 1) as usize;
        order.swap(at, other);
    }
    // Each endpoint's roots so far, sorted, as its window holds them.
    let mut windows: Vec<Vec<u64>> = vec![Vec::new(); ENDPOINTS.len()];
    let mut posted = Vec::new();
    let mut exports = Vec::new();
    for chunk in order.chunks(TRACES_PER_EXPORT) {
        let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); ENDPOINTS.len()];
        for &endpoint in chunk {
            let id = trace_id(rng.draw(), rng.draw());
            let mut root_us = (MEDIAN_US * (LOG_SIGMA * rng.normal()).exp()) as u64 + 1;
            if rng.chance(FAR_SLOWER_RATE) {
                root_us *= 10 + rng.below(11);
            }
            let mut spans = trace(id, ENDPOINTS[endpoint].1, root_us, rng.below(7) as u8);
            let failing = rng.chance(ERROR_RATE);
            if failing {
                let at = rng.below(spans.len() as u64) as usize;
                spans[at] = failed(spans[at].clone());
            }
            let excepting = rng.chance(EXCEPTION_RATE);
            if excepting {
                let at = rng.below(spans.len() as u64) as usize;
                let time_unix_nano = spans[at].start_time_unix_nano;
                spans[at].events.push(Event {
                    name: EXCEPTION_EVENT.to_owned(),
                    time_unix_nano,
                    ..Event::default()
                });
            }
            let window = &mut windows[endpoint];
            let latency = judged(window, root_us);
            let place = window.partition_point(|&d| d <= root_us);
            window.insert(place, root_us);
            posted.push(Posted {
                id,
                endpoint,
                spans: spans.len(),
                failed: failing || excepting,
                warm: latency != Expected::WarmingUp,
                latency,
            });
            by_service[endpoint].extend(spans);
        }
        let mut export = ExportTraceServiceRequest::default();
        for (endpoint, spans) in by_service.into_iter().enumerate() {
            if !spans.is_empty() {
                export
                    .resource_spans
                    .extend(request(ENDPOINTS[endpoint].0, spans).resource_spans);
            }
        }
        exports.push(export);
    }
    (exports, posted)
}

/// How a root of `root_us` compares with `window`'s p99, `window` sorted:
/// the p99 is the duration at rank ⌈0.99 n⌉, as hdrhistogram ranks it,
/// which the histogram knows within 1 %.
fn judged(window: &[u64], root_us: u64) -> Expected {
    if (window.len() as u64) < WARM_UP_DURATIONS {
        return Expected::WarmingUp;
    }
    let rank = ((0.99 * window.len() as f64).ceil() as usize).max(1);
    let p99 = window[rank - 1];
    if root_us <= p99 {
        Expected::Usual
    } else if root_us > p99 + p99 / 100 + 1 {
        Expected::Slow
    } else {
        Expected::EitherSide
    }
}

/// The share rule as the OpenTelemetry SDK's ratio sampler has it: the
/// id's low 8 bytes, shifted right once, below `share` of 2^63.
fn in_share(id: [u8; 16], share: f64) -> bool {
    let mut low = [0; 8];
    low.copy_from_slice(&id[8..]);
    (u64::from_be_bytes(low) >> 1) < (share * (1u64 << 63) as f64) as u64
}

/// Error traces are 1.5 % (1 % ERROR statuses, 0.5 % exceptions), far
/// slower ones 0.5 %, the rest log-normal about 20 ms; 900 traces for each
/// of three endpoints, in exports of 30 mixing them. After warm-up: every
/// error trace and every trace above its endpoint's p99 at its decision is
/// stored, whole; of the rest, exactly those whose id is in the share,
/// which is within binomial bounds of 5 %; and the spans kept are at most
/// 10 % of those received. Three seeds a run, printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_the_slow_tail_are_kept_and_a_share_of_the_rest() {
    let first = std::env::var("TAIL_SAMPLING_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |since| since.as_nanos() as u64)
        });
    println!("scenarios from seed {first} (TAIL_SAMPLING_SEED={first} runs them again)");
    for seed in (0..3).map(|n| first.wrapping_add(n)) {
        println!("seed {seed}");
        one_scenario(seed).await;
    }
}

async fn one_scenario(seed: u64) {
    let collector = common::start_sampled(settings(SHARE)).await;
    let (exports, posted) = scenario(seed);
    for export in &exports {
        post(&collector.otlp, export).await;
    }
    let scrape = all_decided(&collector, posted.len() as u64).await;

    let mut kept = std::collections::HashMap::new();
    for (service, operation) in ENDPOINTS {
        kept.extend(stored_traces(&collector, service, operation).await);
    }
    let (mut rest, mut rest_kept) = (0u64, 0u64);
    let (mut warm_spans, mut warm_spans_kept) = (0usize, 0usize);
    for trace in &posted {
        let id = hex(trace.id);
        let stored = kept.get(&id).copied();
        let (service, operation) = ENDPOINTS[trace.endpoint];
        let what = format!("seed {seed}: trace {id} of {service} {operation}");
        if let Some(spans) = stored {
            assert_eq!(spans, trace.spans, "{what} is stored whole");
        }
        let must = trace.failed || matches!(trace.latency, Expected::WarmingUp | Expected::Slow);
        if must {
            assert!(
                stored.is_some(),
                "{what} is kept: failed {}, {}",
                trace.failed,
                match trace.latency {
                    Expected::WarmingUp => "while its endpoint warmed up",
                    _ => "above its endpoint's p99",
                }
            );
        }
        if !trace.failed && trace.latency == Expected::Usual {
            rest += 1;
            rest_kept += u64::from(stored.is_some());
            assert_eq!(
                stored.is_some(),
                in_share(trace.id, SHARE),
                "{what}, neither failed nor slow, is kept when its id is in the share"
            );
        }
        if trace.warm {
            warm_spans += trace.spans;
            warm_spans_kept += stored.unwrap_or(0);
        }
    }
    // The share of the rest kept: within five standard deviations of a
    // binomial draw of 5 %.
    let expected = SHARE * rest as f64;
    let spread = 5.0 * (expected * (1.0 - SHARE)).sqrt() + 1.0;
    assert!(
        (rest_kept as f64 - expected).abs() <= spread,
        "seed {seed}: {rest_kept} of {rest} usual traces kept, {expected:.0} ± {spread:.0} expected"
    );
    assert!(
        warm_spans_kept * 10 <= warm_spans,
        "seed {seed}: after warm-up, {warm_spans_kept} of {warm_spans} spans kept: more than 10 %"
    );
    let slow = posted
        .iter()
        .filter(|trace| trace.latency == Expected::Slow)
        .count();
    println!(
        "seed {seed}: {} traces; every one of {} failed and {slow} slow kept; \
         {rest_kept} of {rest} usual kept; after warm-up {warm_spans_kept} of {warm_spans} spans kept ({:.1} %)",
        posted.len(),
        posted.iter().filter(|trace| trace.failed).count(),
        100.0 * warm_spans_kept as f64 / warm_spans as f64
    );

    // The counts say the same.
    let failing = posted.iter().filter(|trace| trace.failed).count() as u64;
    let warming = posted
        .iter()
        .filter(|trace| !trace.failed && trace.latency == Expected::WarmingUp)
        .count() as u64;
    assert_eq!(scrape.kept_by(Rule::Error), failing, "seed {seed}");
    assert_eq!(scrape.kept_by(Rule::WarmingUp), warming, "seed {seed}");
    assert_eq!(
        scrape.decided() - scrape.dropped(),
        kept.len() as u64,
        "seed {seed}: every trace counted kept is stored"
    );
    let spans_posted = posted.iter().map(|trace| trace.spans as u64).sum::<u64>();
    let spans_kept = kept.values().map(|&spans| spans as u64).sum::<u64>();
    assert_eq!(scrape.spans("kept"), spans_kept, "seed {seed}");
    assert_eq!(
        scrape.spans("kept") + scrape.spans("dropped"),
        spans_posted,
        "seed {seed}"
    );
    assert_eq!(scrape.late_spans("kept") + scrape.late_spans("dropped"), 0);
    assert_eq!(
        scrape.decided_early(),
        0,
        "seed {seed}: the buffer had room"
    );
}

/// The children first, the root after them in another export, well within
/// the decision wait (a second here, so that a busy machine cannot stretch
/// two posts past it): each trace is decided once, with its root, kept or
/// dropped whole. Decided without its root, the children would have made
/// an endpoint of their own, warming up, and been kept.
#[tokio::test]
async fn a_trace_whose_root_comes_last_in_another_export_is_decided_once_whole() {
    let collector = common::start_sampled(Settings {
        keep_share: 0.0,
        decision_wait: Duration::from_secs(1),
        ..Settings::default()
    })
    .await;
    warm_up(&collector, "shop", "GET /talks", 10_000).await;
    let failing = trace_id(1, 1);
    let usual = trace_id(2, 2);
    let mut failing_spans = trace(failing, "GET /talks", 12_000, 2);
    failing_spans[2] = failed(failing_spans[2].clone());
    // Faster than every warm-up trace, and no share is kept: dropped.
    let usual_spans = trace(usual, "GET /talks", 5_000, 2);
    let children: Vec<Span> = failing_spans[1..]
        .iter()
        .chain(&usual_spans[1..])
        .cloned()
        .collect();
    let roots = vec![failing_spans[0].clone(), usual_spans[0].clone()];
    post(&collector.otlp, &request("shop", children)).await;
    post(&collector.otlp, &request("shop", roots)).await;

    let scrape = all_decided(&collector, WARM_UP_DURATIONS + 2).await;
    assert_eq!(scrape.kept_by(Rule::Error), 1, "the failing trace, once");
    assert_eq!(scrape.dropped(), 1, "the usual one, once");
    assert_eq!(
        scrape.kept_by(Rule::WarmingUp),
        WARM_UP_DURATIONS,
        "no other endpoint"
    );
    assert_eq!(scrape.late_spans("kept") + scrape.late_spans("dropped"), 0);
    assert_eq!(stored(&collector, failing).await, 3, "kept whole");
    assert_eq!(stored(&collector, usual).await, 0, "dropped whole");
    assert_eq!(scrape.spans("dropped"), 3);
}

/// A span that arrives once its trace was decided follows the decision:
/// stored with a kept trace, counted late and dropped with a dropped one.
#[tokio::test]
async fn a_late_span_follows_its_traces_decision() {
    let collector = common::start_sampled(settings(0.0)).await;
    warm_up(&collector, "shop", "GET /talks", 10_000).await;
    let kept = trace_id(1, 1);
    let dropped = trace_id(2, 2);
    let mut spans = trace(kept, "GET /talks", 12_000, 1);
    spans[0] = failed(spans[0].clone());
    spans.extend(trace(dropped, "GET /talks", 5_000, 1));
    post(&collector.otlp, &request("shop", spans)).await;
    all_decided(&collector, WARM_UP_DURATIONS + 2).await;
    assert_eq!(stored(&collector, kept).await, 2);
    assert_eq!(stored(&collector, dropped).await, 0);

    let late = |id: [u8; 16]| {
        let mut span = span(0, 9, Some(1), 1_000, 2_000, CLIENT);
        span.trace_id = id.to_vec();
        span
    };
    post(
        &collector.otlp,
        &request("shop", vec![late(kept), late(dropped)]),
    )
    .await;
    let scrape = scrape_until(&collector, "the late spans counted", |scrape| {
        scrape.late_spans("kept") == 1 && scrape.late_spans("dropped") == 1
    })
    .await;
    assert_eq!(stored(&collector, kept).await, 3, "stored with its trace");
    assert_eq!(
        stored(&collector, dropped).await,
        0,
        "dropped with its trace"
    );
    assert_eq!(
        scrape.decided(),
        WARM_UP_DURATIONS + 2,
        "no decision taken again"
    );
    assert_eq!(scrape.pending_spans(), 0, "neither waits");
}

/// A flood of traces twenty times the buffer's span budget: the oldest
/// traces are decided early, each counted, what waits never exceeds the
/// budget, and every export is answered at once. The decision wait is a
/// minute, so that every decision in the flood is the bound's. Then the
/// same of the byte budget, with spans of 4 KB attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_past_the_buffers_bounds_is_decided_early_and_never_waits() {
    const BUDGET: usize = 1_000;
    const SPANS_PER_TRACE: u8 = 5;
    let collector = common::start_sampled(Settings {
        decision_wait: Duration::from_secs(60),
        max_pending_spans: BUDGET,
        ..Settings::default()
    })
    .await;
    let mut traces = 0u64;
    for export in 0..40u64 {
        let spans = (0..100)
            .flat_map(|n| {
                trace(
                    trace_id(export, n),
                    "POST /orders",
                    10_000,
                    SPANS_PER_TRACE - 1,
                )
            })
            .collect();
        tokio::time::timeout(
            Duration::from_secs(30),
            post(&collector.otlp, &request("gateway", spans)),
        )
        .await
        .expect("an export is answered at once, whatever waits");
        traces += 100;
        let scrape = Scrape::of(&collector).await;
        assert!(
            scrape.pending_spans() <= BUDGET as u64,
            "{} spans wait, past the budget of {BUDGET}",
            scrape.pending_spans()
        );
        assert_eq!(
            scrape.decided_early(),
            scrape.decided(),
            "every decision is the bound's"
        );
        assert_eq!(scrape.decided() + scrape.pending_traces(), traces);
    }
    let scrape = Scrape::of(&collector).await;
    assert!(
        scrape.decided_early() >= traces - (BUDGET / usize::from(SPANS_PER_TRACE)) as u64,
        "{} of {traces} traces decided early",
        scrape.decided_early()
    );

    const BYTES: usize = 64 * 1024;
    let collector = common::start_sampled(Settings {
        decision_wait: Duration::from_secs(60),
        max_pending_bytes: BYTES,
        ..Settings::default()
    })
    .await;
    for export in 0..20u64 {
        let mut spans = trace(trace_id(export, 0), "POST /orders", 10_000, 9);
        for span in &mut spans {
            span.attributes.push(KeyValue {
                key: "payload".to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("x".repeat(4_000))),
                }),
                ..KeyValue::default()
            });
        }
        post(&collector.otlp, &request("gateway", spans)).await;
        let scrape = Scrape::of(&collector).await;
        assert!(
            scrape.pending_bytes() <= BYTES as u64,
            "{} bytes wait, past the budget of {BYTES}",
            scrape.pending_bytes()
        );
    }
    assert!(Scrape::of(&collector).await.decided_early() > 0);
}

/// Without the flag, the collector samples nothing: every trace is stored,
/// as it always was, and `/metrics` has no tail sampling. With
/// `TAIL_SAMPLING=1` (the flag's variable), the same traces are sampled.
#[tokio::test]
async fn off_by_default_every_trace_is_stored_as_before() {
    const TRACES: u64 = 2 * WARM_UP_DURATIONS;
    let spans = || -> Vec<Span> {
        (0..TRACES)
            .flat_map(|n| trace(trace_id(7, n), "GET /talks", 10_000, 1))
            .collect()
    };
    let plain = Program::start(&[], &[]);
    post(&plain.collector.otlp, &request("shop", spans())).await;
    assert_eq!(
        stored_traces(&plain.collector, "shop", "GET /talks")
            .await
            .len() as u64,
        TRACES
    );
    assert!(!Scrape::of(&plain.collector).await.samples_at_the_tail());

    let sampled = Program::start(
        &[],
        &[
            ("TAIL_SAMPLING", "1"),
            ("TAIL_DECISION_WAIT_MS", "200"),
            ("TAIL_KEEP_SHARE", "0"),
        ],
    );
    post(&sampled.collector.otlp, &request("shop", spans())).await;
    let scrape = all_decided(&sampled.collector, TRACES).await;
    // As long as every earlier one, none is slow; no share is kept.
    assert_eq!(scrape.kept_by(Rule::WarmingUp), WARM_UP_DURATIONS);
    assert_eq!(scrape.dropped(), TRACES - WARM_UP_DURATIONS);
    assert_eq!(
        stored_traces(&sampled.collector, "shop", "GET /talks")
            .await
            .len() as u64,
        WARM_UP_DURATIONS
    );
}
