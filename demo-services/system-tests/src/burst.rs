//! A burst of requests whose clients give up at random moments after the
//! service received them (hyper then drops the handler's future at
//! whichever `.await` it waits on). The service's side reports each
//! request as it arrives and as its handling ends, answered or dropped: a
//! test then knows when the burst is over there, and how many handlers
//! were dropped, instead of hoping a sleep was long enough.

use std::collections::HashSet;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use reqwest::StatusCode;
use tokio::sync::watch;
use tokio::task::JoinError;

/// The header that numbers the burst's requests, so that the service's
/// side can report each one.
pub const ATTEMPT: &str = "x-attempt";

/// Bounds a wait that only a failure makes long.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// What the service's side saw of the burst's requests.
#[derive(Default)]
pub struct Seen {
    /// Those that reached it.
    pub arrived: HashSet<usize>,
    /// Those whose handling has ended, answered or dropped.
    pub ended: usize,
    /// Those dropped before their handler answered: their client had gone.
    pub cut_off: usize,
}

/// `app`, reporting each of the burst's requests to `seen`.
pub fn reporting(app: Router, seen: watch::Sender<Seen>) -> Router {
    app.layer(middleware::from_fn(move |request: Request, next: Next| {
        let seen = seen.clone();
        async move {
            let Some(attempt) = attempt_of(&request) else {
                return next.run(request).await;
            };
            seen.send_modify(|seen| {
                seen.arrived.insert(attempt);
            });
            let mut handling = Handling {
                seen,
                answered: false,
            };
            let response = next.run(request).await;
            handling.answered = true;
            response
        }
    }))
}

fn attempt_of(request: &Request) -> Option<usize> {
    request.headers().get(ATTEMPT)?.to_str().ok()?.parse().ok()
}

/// A request of the burst being handled: reports its end when dropped,
/// which it is however the handling ends.
struct Handling {
    seen: watch::Sender<Seen>,
    answered: bool,
}

impl Drop for Handling {
    fn drop(&mut self) {
        let answered = self.answered;
        self.seen.send_modify(|seen| {
            seen.ended += 1;
            if !answered {
                seen.cut_off += 1;
            }
        });
    }
}

/// How a request of the burst ended, on its client's side.
pub enum Ending {
    /// Answered, or failed, before its client gave up.
    Answered(Result<reqwest::Result<reqwest::Response>, JoinError>),
    /// Given up by its client: its connection closed.
    GivenUp,
    /// Not received by the service in [`DEADLINE`].
    NotReceived,
}

/// Sends `request`, the burst's `id`th, and gives it up `patience` after
/// the service has received it (as `seen` says), unless it is answered
/// first.
pub async fn send_giving_up(
    request: reqwest::RequestBuilder,
    id: usize,
    patience: Duration,
    seen: &watch::Sender<Seen>,
) -> Ending {
    let mut arrivals = seen.subscribe();
    let mut answer = tokio::spawn(request.header(ATTEMPT, id).send());
    let arrival = tokio::time::timeout(
        DEADLINE,
        arrivals.wait_for(|seen| seen.arrived.contains(&id)),
    );
    tokio::select! {
        answered = &mut answer => return Ending::Answered(answered),
        arrived = arrival => {
            if arrived.is_err() {
                answer.abort();
                return Ending::NotReceived;
            }
        }
    }
    match tokio::time::timeout(patience, &mut answer).await {
        Ok(answered) => Ending::Answered(answered),
        Err(_) => {
            // The request's connection closes with it: its client has gone.
            answer.abort();
            Ending::GivenUp
        }
    }
}

/// How a request of the burst ended, as its test judges it.
pub enum Outcome {
    /// Answered, as its request may be.
    Answered(StatusCode),
    /// Given up by its client before an answer came.
    GivenUp,
    /// Anything else: an answer its request may not have, a failed request.
    Unexpected(String),
}

/// Fails, with the first ten, if any of the burst's `requests` (what they
/// are called in the message) went wrong.
pub fn assert_none_unexpected(outcomes: &[Outcome], requests: &str, run: &str) {
    let unexpected: Vec<&String> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Unexpected(what) => Some(what),
            Outcome::Answered(_) | Outcome::GivenUp => None,
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} {requests} went wrong, {run}: {:#?}",
        unexpected.len(),
        &unexpected[..unexpected.len().min(10)]
    );
}

/// How many of the burst's requests their clients gave up.
pub fn given_up(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Outcome::GivenUp))
        .count()
}

/// Waits, at most [`DEADLINE`], for `count` of the burst's requests to
/// have ended on the service's side: whether they did.
pub async fn all_ended(seen: &watch::Sender<Seen>, count: usize) -> bool {
    let mut ends = seen.subscribe();
    tokio::time::timeout(DEADLINE, ends.wait_for(|seen| seen.ended == count))
        .await
        .is_ok_and(|ended| ended.is_ok())
}

/// Waits, at most [`DEADLINE`], for `count` (of work in flight) to read
/// zero, and marks it seen: whether it did.
pub async fn wait_for_zero(count: &mut watch::Receiver<usize>) -> bool {
    tokio::time::timeout(DEADLINE, count.wait_for(|count| *count == 0))
        .await
        .is_ok_and(|zero| zero.is_ok())
}
