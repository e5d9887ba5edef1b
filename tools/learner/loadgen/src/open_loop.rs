//! The open loop: requests start on a schedule, whatever the answers do.
//!
//! A closed loop (the workers of [`crate::run`]) sends a customer's next
//! request once the last is answered: a shop that slows down is sent less,
//! and one that speeds up is sent more, so what a change does to the
//! latency is mixed with what it does to the load (freed time lets more
//! requests in, which queue). An open loop holds the arrivals still
//! instead: a Poisson process of `rate` requests per second (exponential
//! gaps, as independent customers arrive), each request on a task of its
//! own, the same mix as the workers send.
//!
//! At most `concurrency` requests are in flight. An arrival that finds
//! them all busy is shed, counted and never sent: sent once a request
//! ends, it would be the closed loop again, silently. Each latency counts
//! from the request's scheduled start, not from when it was sent, so a
//! generator running late adds its lateness to the latency instead of
//! hiding the queue (coordinated omission).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::{Load, Measured, Sent, Shared, one_request};

/// How often a generator waiting for its next arrival looks whether the
/// load is stopping: a low rate's long gap never holds a stop back.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// When requests arrive: a Poisson process, its gaps exponential.
pub(crate) struct Arrivals {
    rng: fastrand::Rng,
    /// Arrivals per second.
    rate: f64,
}

impl Arrivals {
    /// `rate` arrivals per second, drawn from `seed` (afresh without one).
    pub(crate) fn new(rate: f64, seed: Option<u64>) -> Self {
        let rng = seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        Self { rng, rate }
    }

    /// The time from one arrival to the next: exponential, of mean `1 /
    /// rate`. A rate that is not above zero has no next arrival:
    /// [`Duration::MAX`].
    pub(crate) fn next_gap(&mut self) -> Duration {
        // 1 − [0, 1) is (0, 1]: its logarithm is finite, and at most zero.
        let seconds = (1.0 - self.rng.f64()).ln().abs() / self.rate;
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
    }
}

/// Starts requests at `arrivals`' times from `started` until `deadline`,
/// the request budget, or a stop, each on a task of its own, at most
/// `load.concurrency` in flight; then waits for those in flight. What they
/// measured, and how many arrivals were shed.
pub(crate) async fn run(
    load: &Load,
    mut arrivals: Arrivals,
    client: &reqwest::Client,
    started: Instant,
    deadline: Instant,
    shared: &Arc<Shared>,
) -> (Measured, u64) {
    let slots = Arc::new(Semaphore::new(load.concurrency.min(Semaphore::MAX_PERMITS)));
    let mut in_flight = JoinSet::new();
    let mut measured = Measured::new();
    let mut shed = 0;
    let mut at = started;
    while let Some(next) = at.checked_add(arrivals.next_gap()) {
        at = next;
        if at >= deadline || !wait_until(at, shared).await {
            break;
        }
        // The answered, taken in as they come: the set holds no more than
        // what is in flight.
        while let Some(answered) = in_flight.try_join_next() {
            record(&mut measured, answered);
        }
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            shed += 1;
            continue;
        };
        if !shared.take_turn(deadline, load.max_requests) {
            break;
        }
        in_flight.spawn({
            let (client, target) = (client.clone(), load.target.clone());
            let (impatience, shared) = (load.impatience, Arc::clone(shared));
            async move {
                let sent = one_request(&client, &target, impatience, at, &shared).await;
                drop(slot);
                sent
            }
        });
    }
    while let Some(answered) = in_flight.join_next().await {
        record(&mut measured, answered);
    }
    (measured, shed)
}

/// Waits until `at`; false, at once, when the load is stopping.
async fn wait_until(at: Instant, shared: &Shared) -> bool {
    loop {
        if shared.stopping.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= at {
            return true;
        }
        tokio::time::sleep((at - now).min(STOP_CHECK)).await;
    }
}

/// A request's task ended: what it measured (a task that panicked measured
/// nothing).
fn record(measured: &mut Measured, answered: Result<Sent, tokio::task::JoinError>) {
    if let Ok(sent) = answered {
        measured.record(&sent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GAVE_UP, Impatience, OpenLoop, Report};

    #[test]
    fn the_gaps_are_a_rates_on_average_and_a_seed_repeats_them() {
        let rate = 50.0;
        let draws = 100_000;
        let mut arrivals = Arrivals::new(rate, Some(7));
        let total: Duration = (0..draws).map(|_| arrivals.next_gap()).sum();
        let mean = total.as_secs_f64() / f64::from(draws);
        assert!(
            (mean * rate - 1.0).abs() < 0.02,
            "mean gap {mean} s, expected {} s",
            1.0 / rate
        );

        let gaps = |seed| {
            let mut arrivals = Arrivals::new(rate, Some(seed));
            (0..10).map(|_| arrivals.next_gap()).collect::<Vec<_>>()
        };
        assert_eq!(gaps(3), gaps(3));
        assert_ne!(gaps(3), gaps(4));
    }

    #[test]
    fn a_rate_not_above_zero_never_arrives() {
        for rate in [0.0, -1.0, f64::NAN] {
            assert_eq!(Arrivals::new(rate, Some(1)).next_gap(), Duration::MAX);
        }
    }

    /// A server that takes every connection and never answers.
    async fn never_answers() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("a bound address");
        tokio::spawn(async move {
            // Kept open: a connection closed would be an answer of sorts.
            let mut held = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                held.push(connection);
            }
        });
        format!("http://{address}")
    }

    /// An open loop of `concurrency` at 200 arrivals a second for `duration`
    /// against `target`, every customer giving up after 50 ms.
    fn open_load(target: String, concurrency: usize, duration: Duration) -> Load {
        let patience = Duration::from_millis(50);
        Load {
            target,
            concurrency,
            duration,
            max_requests: None,
            progress: false,
            impatience: Some(Impatience {
                share: 1.0,
                after_at_least: patience,
                after_at_most: patience,
            }),
            open_loop: Some(OpenLoop {
                rate: 200.0,
                seed: Some(11),
            }),
        }
    }

    /// How many of `load`'s arrivals fall within its duration.
    fn arrivals_within(load: &Load) -> u64 {
        let open_loop = load.open_loop.expect("an open loop");
        let mut arrivals = Arrivals::new(open_loop.rate, open_loop.seed);
        let mut offset = Duration::ZERO;
        let mut count = 0;
        loop {
            offset += arrivals.next_gap();
            if offset >= load.duration {
                return count;
            }
            count += 1;
        }
    }

    /// The requests that were sent: every one answered, failed or given up.
    fn sent(report: &Report) -> u64 {
        report.statuses.values().sum()
    }

    #[tokio::test]
    async fn with_no_slot_every_arrival_is_shed_and_nothing_sent() {
        let load = open_load(never_answers().await, 0, Duration::from_millis(500));
        let report = crate::run(&load, std::future::pending()).await;
        assert_eq!(report.shed, Some(arrivals_within(&load)));
        assert_eq!(sent(&report), 0);
        assert_eq!(report.requests, 0);
    }

    #[tokio::test]
    async fn with_one_slot_held_by_an_unanswered_request_the_arrivals_meanwhile_are_shed() {
        let load = open_load(never_answers().await, 1, Duration::from_secs(1));
        let report = crate::run(&load, std::future::pending()).await;
        let shed = report.shed.expect("an open loop counts what it sheds");
        let sent = sent(&report);
        // One at a time, each held for its 50 ms of patience: 21 at most
        // in a second, of about 200 arrivals.
        assert!((1..=21).contains(&sent), "{sent} sent");
        assert!(shed >= 120, "{shed} shed");
        assert!(sent + shed <= arrivals_within(&load));
        assert_eq!(
            report.statuses.keys().copied().collect::<Vec<_>>(),
            [GAVE_UP],
            "none answered"
        );
        assert!(report.summary().contains(&format!(", {shed} shed")));
    }
}
