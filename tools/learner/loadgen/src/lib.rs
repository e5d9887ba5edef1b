//! A load generator for the shop.
//!
//! A closed loop, by default: a fixed number of workers send requests one
//! after another until the time or the request budget runs out, so the load
//! is bounded both ways. Given a rate, an open loop instead (the module
//! `open_loop`): requests start on a schedule, whatever the answers do.
//! Latency goes into an HDR histogram (3 significant digits, so percentiles
//! are exact to 0.1 %), per worker, merged at the end.
//!
//! The mix is a customer's: mostly orders of one to three talks, sometimes
//! with a coupon, now and then a declined card, and one request in five
//! browsing the programme. The orders' latency is also kept apart, for
//! what is measured on `POST /orders` alone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};

mod open_loop;

#[derive(Clone, Debug)]
pub struct Load {
    /// The gateway's base URL.
    pub target: String,
    /// Requests in flight at once: in a closed loop, the customers, each
    /// waiting for their answer; in an open loop (`open_loop`), the most in
    /// flight, beyond which an arrival is shed.
    pub concurrency: usize,
    /// Stop sending after this long.
    pub duration: Duration,
    /// Stop sending after this many requests, if set.
    pub max_requests: Option<u64>,
    /// Draw a progress bar (only shown on a terminal).
    pub progress: bool,
    /// Customers who give up on a share of their requests; `None`: every
    /// customer waits for every answer.
    pub impatience: Option<Impatience>,
    /// Requests started on a schedule, whatever the answers do (an open
    /// loop: see the module `open_loop`); `None`: each of `concurrency`
    /// customers sends their next request once the last is answered (a
    /// closed loop, which has no schedule).
    pub open_loop: Option<OpenLoop>,
}

/// An open loop's schedule of arrivals.
#[derive(Clone, Copy, Debug)]
pub struct OpenLoop {
    /// Requests started per second.
    pub rate: f64,
    /// The schedule drawn from this seed: the same seed, the same start
    /// times, so that two runs compared meet the same bursts. `None`:
    /// drawn afresh.
    pub seed: Option<u64>,
}

/// Customers who give up: a share of the requests is dropped unanswered
/// after a while, as a phone that loses its signal or a tab closed drops
/// it. The server sees the connection close while it works; a given-up
/// request is counted under [`GAVE_UP`] and left out of the latencies.
#[derive(Clone, Copy, Debug)]
pub struct Impatience {
    /// The share of requests given up (0 to 1).
    pub share: f64,
    /// How long a request given up is waited for: at random, from this...
    pub after_at_least: Duration,
    /// ...to this, so that requests are given up at every step of their
    /// work, not always at the same one.
    pub after_at_most: Duration,
}

impl Impatience {
    /// How long this request is waited for, drawn.
    fn patience(&self) -> Duration {
        let (least, most) = (
            self.after_at_least,
            self.after_at_most.max(self.after_at_least),
        );
        least + (most - least).mul_f64(fastrand::f64())
    }
}

/// The status a request given up is counted under: nginx's "client closed
/// request".
pub const GAVE_UP: u16 = 499;

/// What a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub requests: u64,
    /// Answers with a 5xx status, and requests that got no answer at all.
    pub errors: u64,
    /// Answers by status code (0: no answer).
    pub statuses: BTreeMap<u16, u64>,
    pub elapsed_secs: f64,
    pub throughput: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The orders alone (`POST /orders`), without the browsing.
    pub orders: Latency,
    /// An open loop's arrivals that found `concurrency` requests in flight,
    /// and were never sent; `None` for a closed loop, which waits instead.
    pub shed: Option<u64>,
}

/// The latency of one kind of request.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub requests: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Latency {
    fn of(latencies: &Histogram<u64>) -> Self {
        let ms = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
        Self {
            requests: latencies.len(),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
        }
    }
}

impl Report {
    /// The requests that got an answer, whatever its status.
    pub fn answered(&self) -> u64 {
        self.requests - self.statuses.get(&0).copied().unwrap_or(0)
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let shed = self
            .shed
            .map_or_else(String::new, |shed| format!(", {shed} shed"));
        format!(
            "{} requests in {:.1} s ({:.0}/s), {} errors{shed}; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.requests,
            self.elapsed_secs,
            self.throughput,
            self.errors,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms
        )
    }
}

/// Runs the load until its duration or request budget runs out, or until
/// `stop` completes (Ctrl-C, say), whichever comes first: a closed loop,
/// or an open one (`load.open_loop`).
pub async fn run(load: &Load, stop: impl Future<Output = ()>) -> Report {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a plain HTTP client builds");
    let started = Instant::now();
    let deadline = started + load.duration;
    let shared = Arc::new(Shared::default());
    let bar = progress_bar(load);

    let generate = async {
        match load.open_loop {
            None => (closed_loop(load, &client, deadline, &shared).await, None),
            Some(OpenLoop { rate, seed }) => {
                let arrivals = open_loop::Arrivals::new(rate, seed);
                let (measured, shed) =
                    open_loop::run(load, arrivals, &client, started, deadline, &shared).await;
                (vec![measured], Some(shed))
            }
        }
    };
    let stop_early = async {
        stop.await;
        shared.stopping.store(true, Ordering::Relaxed);
        // Every worker is on its last request, and an open loop starts no
        // more; keep the bar moving.
        std::future::pending::<()>().await;
    };
    let (results, shed) = tokio::select! {
        generated = generate => generated,
        () = stop_early => unreachable!("stopping early waits for the requests in flight"),
        () = show_progress(&bar, started, &shared) => unreachable!("the ticker never ends"),
    };
    bar.finish_and_clear();
    report(results, started.elapsed(), shed)
}

/// The closed loop: `concurrency` workers, each sending a request once
/// its last is answered; what each measured.
async fn closed_loop(
    load: &Load,
    client: &reqwest::Client,
    deadline: Instant,
    shared: &Arc<Shared>,
) -> Vec<Measured> {
    let workers: Vec<_> = (0..load.concurrency.max(1))
        .map(|_| {
            tokio::spawn(work(
                client.clone(),
                load.target.clone(),
                deadline,
                load.max_requests,
                load.impatience,
                shared.clone(),
            ))
        })
        .collect();
    let mut results = Vec::new();
    for worker in workers {
        if let Ok(result) = worker.await {
            results.push(result);
        }
    }
    results
}

/// What the workers (or an open loop's requests) share: the counts the
/// progress bar shows, and whether the load is stopping.
#[derive(Default)]
struct Shared {
    sent: AtomicU64,
    errors: AtomicU64,
    /// Set when the caller stops the load early: every worker finishes the
    /// request it is waiting for and hands in what it measured; an open
    /// loop starts no more requests and waits for those in flight.
    stopping: AtomicBool,
}

impl Shared {
    /// Whether a worker sends another request: the deadline is not reached,
    /// the load is not stopping, and the request is within the `budget`
    /// (if any). A request given a turn is counted as sent.
    fn take_turn(&self, deadline: Instant, budget: Option<u64>) -> bool {
        if Instant::now() >= deadline || self.stopping.load(Ordering::Relaxed) {
            return false;
        }
        match budget {
            Some(max) => self.sent.fetch_add(1, Ordering::Relaxed) < max,
            None => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }
}

/// What one worker measured: every request's latency, the orders' apart,
/// and the answers by status.
struct Measured {
    latencies: Histogram<u64>,
    orders: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
}

impl Measured {
    fn new() -> Self {
        Self {
            latencies: new_histogram(),
            orders: new_histogram(),
            statuses: BTreeMap::new(),
        }
    }

    /// One request's answer, and its latency unless it was given up.
    fn record(&mut self, sent: &Sent) {
        if sent.status != GAVE_UP {
            let _ = self.latencies.record(sent.micros);
            if sent.order {
                let _ = self.orders.record(sent.micros);
            }
        }
        *self.statuses.entry(sent.status).or_insert(0u64) += 1;
    }
}

/// What became of one request.
struct Sent {
    /// It was an order (`POST /orders`).
    order: bool,
    /// Its answer's status; 0 for none, [`GAVE_UP`] for one given up.
    status: u16,
    /// From its start to its answer (1 at least).
    micros: u64,
}

/// One worker: a request after another, as long as it gets a turn; what
/// it measured.
async fn work(
    client: reqwest::Client,
    target: String,
    deadline: Instant,
    budget: Option<u64>,
    impatience: Option<Impatience>,
    shared: Arc<Shared>,
) -> Measured {
    let mut measured = Measured::new();
    while shared.take_turn(deadline, budget) {
        let sent = one_request(&client, &target, impatience, Instant::now(), &shared).await;
        measured.record(&sent);
    }
    measured
}

/// One request of the mix, its latency counted from `started` (which an
/// open loop's schedule may have set earlier than now). An impatient
/// customer gives up on it after their patience. An error is counted at
/// once, for the progress bar.
async fn one_request(
    client: &reqwest::Client,
    target: &str,
    impatience: Option<Impatience>,
    started: Instant,
    shared: &Shared,
) -> Sent {
    let (order, status) = match impatience.filter(|i| fastrand::f64() < i.share) {
        Some(impatient) => tokio::time::timeout(impatient.patience(), send_one(client, target))
            .await
            .unwrap_or((false, GAVE_UP)),
        None => send_one(client, target).await,
    };
    let micros = started.elapsed().as_micros().max(1) as u64;
    if is_error(status) {
        shared.errors.fetch_add(1, Ordering::Relaxed);
    }
    Sent {
        order,
        status,
        micros,
    }
}

/// The bar, moved on every 200 ms with the requests sent and the errors so
/// far; never ends.
async fn show_progress(bar: &ProgressBar, started: Instant, shared: &Shared) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        bar.set_position(started.elapsed().as_millis() as u64);
        bar.set_message(format!(
            "{} requests, {} errors",
            shared.sent.load(Ordering::Relaxed),
            shared.errors.load(Ordering::Relaxed)
        ));
    }
}

/// Whether an answer's status (0: no answer) counts as an error.
fn is_error(status: u16) -> bool {
    status == 0 || status >= 500
}

fn report(results: Vec<Measured>, elapsed: Duration, shed: Option<u64>) -> Report {
    let mut latencies = new_histogram();
    let mut orders = new_histogram();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for measured in results {
        latencies
            .add(&measured.latencies)
            .expect("histograms of one shape merge");
        orders
            .add(&measured.orders)
            .expect("histograms of one shape merge");
        for (status, count) in measured.statuses {
            *statuses.entry(status).or_insert(0) += count;
        }
    }
    let requests = latencies.len();
    let ms = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
    Report {
        requests,
        errors: statuses
            .iter()
            .filter(|(status, _)| is_error(**status))
            .map(|(_, count)| count)
            .sum(),
        statuses,
        elapsed_secs: elapsed.as_secs_f64(),
        throughput: requests as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        max_ms: latencies.max() as f64 / 1000.0,
        orders: Latency::of(&orders),
        shed,
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Sends one request of the mix; returns whether it was an order, and its
/// status, 0 for no answer.
async fn send_one(client: &reqwest::Client, target: &str) -> (bool, u16) {
    let order = fastrand::u8(0..5) != 0;
    let request = if order {
        client
            .post(format!("{target}/orders"))
            .json(&random_order())
    } else {
        client.get(format!("{target}/talks"))
    };
    let status = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            // Read the body so the connection can be reused.
            let _ = response.bytes().await;
            status
        }
        Err(_) => 0,
    };
    (order, status)
}

fn random_order() -> Value {
    let lines: Vec<Value> = (0..fastrand::usize(1..=3))
        .map(|_| json!({"talk_id": fastrand::u32(1..=8), "quantity": fastrand::u32(1..=2)}))
        .collect();
    let card = if fastrand::u8(0..50) == 0 {
        "4000000000000002" // declined
    } else {
        "4242424242424242"
    };
    let mut order = json!({"customer": "loadgen", "lines": lines, "card_number": card});
    if fastrand::u8(0..4) == 0 {
        order["coupon"] = json!(["EARLYBIRD", "student", "WORKSHOP20"][fastrand::usize(0..3)]);
    }
    order
}

fn progress_bar(load: &Load) -> ProgressBar {
    if !load.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(load.duration.as_millis() as u64);
    bar.set_style(
        ProgressStyle::with_template("load [{bar:30}] {elapsed}/{duration} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_merges_workers_and_counts_5xx_and_no_answer_as_errors() {
        let mut a = Measured::new();
        let mut b = Measured::new();
        for micros in [1_000, 2_000, 3_000] {
            a.latencies.record(micros).unwrap();
        }
        a.statuses = BTreeMap::from([(201, 2), (503, 1)]);
        b.latencies.record(100_000).unwrap();
        b.statuses = BTreeMap::from([(0, 1)]);
        // The orders among them: 3 ms and 100 ms.
        a.orders.record(3_000).unwrap();
        b.orders.record(100_000).unwrap();
        let report = report(vec![a, b], Duration::from_secs(2), None);
        assert_eq!(report.requests, 4);
        assert_eq!(report.errors, 2);
        assert_eq!(report.throughput, 2.0);
        assert!((report.p50_ms - 2.0).abs() < 0.01, "{}", report.p50_ms);
        assert!((report.max_ms - 100.0).abs() < 0.1, "{}", report.max_ms);
        assert_eq!(report.orders.requests, 2);
        assert!(
            (report.orders.p50_ms - 3.0).abs() < 0.01,
            "{}",
            report.orders.p50_ms
        );
        assert!(
            (report.orders.p99_ms - 100.0).abs() < 0.1,
            "{}",
            report.orders.p99_ms
        );
    }

    #[test]
    fn a_worker_gets_a_turn_before_the_deadline_within_the_budget_until_stopped() {
        let later = Instant::now() + Duration::from_secs(60);
        let budgeted = Shared::default();
        assert!(budgeted.take_turn(later, Some(2)));
        assert!(budgeted.take_turn(later, Some(2)));
        assert!(!budgeted.take_turn(later, Some(2)));

        let unbounded = Shared::default();
        assert!(!unbounded.take_turn(Instant::now(), None));
        assert!(unbounded.take_turn(later, None));
        assert_eq!(unbounded.sent.load(Ordering::Relaxed), 1);
        unbounded.stopping.store(true, Ordering::Relaxed);
        assert!(!unbounded.take_turn(later, None));
    }

    #[test]
    fn errors_are_5xx_answers_and_no_answer() {
        assert!(is_error(0));
        assert!(is_error(500));
        assert!(is_error(503));
        assert!(!is_error(200));
        assert!(!is_error(404));
    }

    #[test]
    fn random_orders_are_valid_for_the_gateway() {
        for _ in 0..100 {
            let order = random_order();
            let lines = order["lines"].as_array().unwrap();
            assert!((1..=3).contains(&lines.len()));
            for line in lines {
                assert!((1..=8).contains(&line["talk_id"].as_u64().unwrap()));
            }
        }
    }
}
