//! A load generator for the shop.
//!
//! A fixed number of workers send requests one after another until the time
//! or the request budget runs out, so the load is bounded both ways. Latency
//! goes into an HDR histogram (3 significant digits, so percentiles are
//! exact to 0.1 %), per worker, merged at the end.
//!
//! The mix is a customer's: mostly orders of one to three talks, sometimes
//! with a coupon, now and then a declined card, and one request in five
//! browsing the programme.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct Load {
    /// The gateway's base URL.
    pub target: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Stop sending after this long.
    pub duration: Duration,
    /// Stop sending after this many requests, if set.
    pub max_requests: Option<u64>,
    /// Draw a progress bar (only shown on a terminal).
    pub progress: bool,
}

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
}

impl Report {
    /// The requests that got an answer, whatever its status.
    pub fn answered(&self) -> u64 {
        self.requests - self.statuses.get(&0).copied().unwrap_or(0)
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        format!(
            "{} requests in {:.1} s ({:.0}/s), {} errors; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
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
/// `stop` completes (Ctrl-C, say), whichever comes first.
pub async fn run(load: &Load, stop: impl Future<Output = ()>) -> Report {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a plain HTTP client builds");
    let started = Instant::now();
    let deadline = started + load.duration;
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let bar = progress_bar(load);
    // Set when the caller stops the load early: every worker finishes the
    // request it is waiting for and hands in what it measured.
    let stopping = Arc::new(AtomicBool::new(false));

    let workers: Vec<_> = (0..load.concurrency.max(1))
        .map(|_| {
            let (client, target, sent, errors, stopping) = (
                client.clone(),
                load.target.clone(),
                sent.clone(),
                errors.clone(),
                stopping.clone(),
            );
            let budget = load.max_requests;
            tokio::spawn(async move {
                let mut latencies = new_histogram();
                let mut statuses = BTreeMap::new();
                while Instant::now() < deadline
                    && !stopping.load(Ordering::Relaxed)
                    && budget.is_none_or(|max| sent.fetch_add(1, Ordering::Relaxed) < max)
                {
                    if budget.is_none() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    let request_started = Instant::now();
                    let status = send_one(&client, &target).await;
                    let micros = request_started.elapsed().as_micros() as u64;
                    let _ = latencies.record(micros.max(1));
                    *statuses.entry(status).or_insert(0u64) += 1;
                    if status == 0 || status >= 500 {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                (latencies, statuses)
            })
        })
        .collect();

    let ticker = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            bar.set_position(started.elapsed().as_millis() as u64);
            bar.set_message(format!(
                "{} requests, {} errors",
                sent.load(Ordering::Relaxed),
                errors.load(Ordering::Relaxed)
            ));
        }
    };
    let joined = async {
        let mut results = Vec::new();
        for worker in workers {
            if let Ok(result) = worker.await {
                results.push(result);
            }
        }
        results
    };
    let stop_early = async {
        stop.await;
        stopping.store(true, Ordering::Relaxed);
        // Every worker is now on its last request; keep the bar moving.
        std::future::pending::<()>().await;
    };
    let results = tokio::select! {
        results = joined => results,
        () = stop_early => unreachable!("stopping early waits for the workers"),
        () = ticker => unreachable!("the ticker never ends"),
    };
    bar.finish_and_clear();
    report(results, started.elapsed())
}

fn report(results: Vec<(Histogram<u64>, BTreeMap<u16, u64>)>, elapsed: Duration) -> Report {
    let mut latencies = new_histogram();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for (histogram, counts) in results {
        latencies
            .add(&histogram)
            .expect("histograms of one shape merge");
        for (status, count) in counts {
            *statuses.entry(status).or_insert(0) += count;
        }
    }
    let requests = latencies.len();
    let ms = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
    Report {
        requests,
        errors: statuses
            .iter()
            .filter(|(status, _)| **status == 0 || **status >= 500)
            .map(|(_, count)| count)
            .sum(),
        statuses,
        elapsed_secs: elapsed.as_secs_f64(),
        throughput: requests as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        max_ms: latencies.max() as f64 / 1000.0,
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Sends one request of the mix; returns its status, 0 for no answer.
async fn send_one(client: &reqwest::Client, target: &str) -> u16 {
    let request = if fastrand::u8(0..5) == 0 {
        client.get(format!("{target}/talks"))
    } else {
        client
            .post(format!("{target}/orders"))
            .json(&random_order())
    };
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            // Read the body so the connection can be reused.
            let _ = response.bytes().await;
            status
        }
        Err(_) => 0,
    }
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
        let mut a = new_histogram();
        let mut b = new_histogram();
        for micros in [1_000, 2_000, 3_000] {
            a.record(micros).unwrap();
        }
        b.record(100_000).unwrap();
        let report = report(
            vec![
                (a, BTreeMap::from([(201, 2), (503, 1)])),
                (b, BTreeMap::from([(0, 1)])),
            ],
            Duration::from_secs(2),
        );
        assert_eq!(report.requests, 4);
        assert_eq!(report.errors, 2);
        assert_eq!(report.throughput, 2.0);
        assert!((report.p50_ms - 2.0).abs() < 0.01, "{}", report.p50_ms);
        assert!((report.max_ms - 100.0).abs() < 0.1, "{}", report.max_ms);
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
