//! The inventory's seat counts never drift from its database, whoever gives
//! up: a client that goes at any moment of its reservation or release
//! (hyper then drops the handler's future at whichever `.await` it waits
//! on), or the database refusing a change it had half made.
//!
//! The inventory runs in-process on a SQLite file of its own, whatever
//! `DATABASE_URL` names (the refusals are a SQLite trigger), with the lock
//! fix and with planted problem 2 (the seat lock held across the
//! transaction). Reservations first, answered; then a burst of
//! reservations and releases, each given up at a random moment after the
//! inventory received it. Once the inventory is at rest (every request
//! ended on its side, then every change they started: see
//! `Inventory::changes_in_flight`), each talk's count must be its stock
//! less the seats its reservations hold in the database.
//!
//! The choices are random: a failure says its seed, and
//! `SEAT_COUNTS_SEED=<seed>` makes the same choices again (the machine's
//! timing still decides where each given-up request stood).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use reqwest::StatusCode;
use shop::Fixes;
use shop::db::Db;
use shop::domain::{Reservation, ReservationRequest, TalkId};
use sqlx::Row;
use system_tests::DatabaseFile;
use system_tests::burst::{
    self, DEADLINE, Ending, Outcome, Seen, all_ended, assert_none_unexpected, reporting,
    send_giving_up, wait_for_zero,
};
use system_tests::dice::{Dice, seed};
use system_tests::seats::{SeatsLeft, start_inventory, talk_of};
use tokio::sync::watch;
use tokio::task::JoinError;

/// Seats each talk starts with.
const STOCK: u32 = 120;
/// The requests are for talks 1 to this; every other talk keeps its stock.
const TALKS: u64 = 4;
/// Reservations made and answered before the burst: what the burst
/// releases, and the measure of how long a request takes on this machine.
const BEFORE_THE_BURST: usize = 60;
/// Requests in the burst...
const BURST: usize = 600;
/// ...and how many of them are in flight at once.
const AT_ONCE: usize = 16;
/// A reservation of this many seats the database refuses to record...
const REFUSED_QUANTITY: u32 = 3;
/// ...and a reservation of this many, to release.
const UNRELEASABLE_QUANTITY: u32 = 2;

/// The database's refusals, at the audit record: the last statement before
/// the commit, once the seats and the reservations have changed, which the
/// refusal then undoes.
fn refusals() -> String {
    format!(
        "CREATE TRIGGER refuse BEFORE INSERT ON audit_log \
         WHEN (NEW.action = 'reserve' AND NEW.quantity = {REFUSED_QUANTITY}) \
         OR (NEW.action = 'release' AND NEW.quantity = {UNRELEASABLE_QUANTITY}) \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    )
}

#[tokio::test]
async fn the_seat_counts_match_the_database_whoever_gives_up() {
    let fixed = Fixes {
        fix_lock: true,
        ..Fixes::default()
    };
    burst_of_abandoned_requests(fixed).await;
}

#[tokio::test]
async fn the_seat_counts_match_the_database_whoever_gives_up_with_the_planted_lock() {
    burst_of_abandoned_requests(Fixes::default()).await;
}

/// Reservations, then a burst of reservations and releases given up at
/// random moments, some of them refused by the database; then, at rest,
/// every talk's count against the database.
async fn burst_of_abandoned_requests(fixes: Fixes) {
    let seed = seed("SEAT_COUNTS_SEED");
    let lock = if fixes.lock() {
        "lock-fix"
    } else {
        "planted-lock"
    };
    let run = format!("{lock}, seed {seed} (SEAT_COUNTS_SEED={seed} makes the same choices)");
    // Shown with any failure, an `expect` too.
    eprintln!("seat counts: {run}");
    let mut dice = Dice::new(seed);
    let file = DatabaseFile::new(&format!("seat-counts-{lock}"));
    let seen = watch::Sender::new(Seen::default());
    let (inventory, mut changes) = start_inventory(&file.url(), STOCK, fixes, {
        let seen = seen.clone();
        move |app| reporting(app, seen)
    });
    let database = shop::db::connect(&file.url())
        .await
        .expect("the inventory's database file opens");
    sqlx::query(&refusals())
        .execute(&database)
        .await
        .expect("the refusals are installed");
    let client = reqwest::Client::new();
    let url = inventory.url();

    let mut reservations = Vec::new();
    let mut took = Vec::new();
    for _ in 0..BEFORE_THE_BURST {
        let ask = Ask::Reserve(ReservationRequest {
            talk_id: dice.talk(TALKS),
            quantity: 1 + dice.below(2) as u32,
        });
        let started = Instant::now();
        let response = ask
            .request(&client, &url)
            .send()
            .await
            .expect("the inventory answers");
        took.push(started.elapsed());
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "a reservation before the burst, {run}"
        );
        let reservation: Reservation = response.json().await.expect("a reservation");
        reservations.push(reservation.reservation_id);
    }
    took.sort();
    // A request of the burst may wait for all the others in flight (for the
    // seat lock, or the database's one connection), so the moment it is
    // given up is drawn from its arrival to beyond that.
    let reach = took[took.len() / 2] * (AT_ONCE as u32 + 1);

    let attempts: Vec<Attempt> = (0..BURST)
        .map(|id| Attempt {
            id,
            ask: choose(&mut dice, &reservations),
            // One in four waits for its answer, so that the answers (the
            // database's refusals among them) are seen too.
            patience: if dice.below(4) == 0 {
                DEADLINE
            } else {
                reach.mul_f64(dice.fraction())
            },
        })
        .collect();
    let outcomes: Vec<Outcome> = stream::iter(attempts)
        .map(|attempt| make(attempt, &client, &url, &seen))
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    assert_none_unexpected(&outcomes, "of the burst's requests", &run);

    // At rest: every request of the burst has ended on the inventory's
    // side, answered or dropped with its connection, so no handler starts a
    // change any more; then every change they started has ended.
    assert!(
        all_ended(&seen, BURST).await,
        "{} of {BURST} requests ended on the inventory's side in {DEADLINE:?}, {run}",
        seen.borrow().ended
    );
    assert!(
        wait_for_zero(&mut changes).await,
        "{} changes still under way {DEADLINE:?} after their requests ended, {run}",
        *changes.borrow()
    );

    let reserved = reserved_seats(&database).await;
    let drift = SeatsLeft::read(&client, &url, &database)
        .await
        .drift(STOCK, &reserved);
    let given_up = burst::given_up(&outcomes);
    let refused = outcomes
        .iter()
        // The only 5xx an ask may have is a refusal, 503.
        .filter(|outcome| matches!(outcome, Outcome::Answered(status) if status.is_server_error()))
        .count();
    let cut_off = seen.borrow().cut_off;
    let story = format!(
        "{BURST} requests, {given_up} given up by their clients ({cut_off} dropped by the \
         inventory before it answered), {refused} answered as refused by the database; {run}"
    );
    assert!(
        drift.is_empty(),
        "the seat counts drifted from the database after {story}: {drift:#?}"
    );
    assert!(
        cut_off > 0,
        "the inventory dropped no handler before it answered, so nothing was tested: {story}"
    );
    assert!(
        refused > 0,
        "no answer said the database refused, so refusals were not tested: {story}"
    );
    eprintln!("seat counts: 0 talks drifted after {story}");

    drop(client);
    database.close().await;
    drop(inventory.stop());
}

/// What a request of the burst asks the inventory.
#[derive(Debug)]
enum Ask {
    Reserve(ReservationRequest),
    /// The reservation with this id.
    Release(u64),
}

impl Ask {
    fn request(&self, client: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
        match self {
            Ask::Reserve(request) => client.post(format!("{url}/reservations")).json(request),
            Ask::Release(reservation_id) => {
                client.delete(format!("{url}/reservations/{reservation_id}"))
            }
        }
    }

    /// Whether the inventory may answer this: done, sold out (409) or
    /// released already (404), or refused by the database (503).
    fn may_answer(&self, status: StatusCode) -> bool {
        let answers = match self {
            Ask::Reserve(_) => [StatusCode::CREATED, StatusCode::CONFLICT],
            Ask::Release(_) => [StatusCode::NO_CONTENT, StatusCode::NOT_FOUND],
        };
        answers.contains(&status) || status == StatusCode::SERVICE_UNAVAILABLE
    }
}

/// A request of the burst: reservations of one or two seats, of as many
/// as the database refuses, and releases of those made before the burst
/// (those of two seats refused, and some asked twice).
fn choose(dice: &mut Dice, reservations: &[u64]) -> Ask {
    match dice.below(20) {
        0..=11 => Ask::Reserve(ReservationRequest {
            talk_id: dice.talk(TALKS),
            quantity: 1 + dice.below(2) as u32,
        }),
        12..=14 => Ask::Reserve(ReservationRequest {
            talk_id: dice.talk(TALKS),
            quantity: REFUSED_QUANTITY,
        }),
        _ => Ask::Release(reservations[dice.below(reservations.len() as u64) as usize]),
    }
}

struct Attempt {
    id: usize,
    ask: Ask,
    /// How long after the inventory receives it the client gives it up.
    patience: Duration,
}

/// Sends one request of the burst and gives it up `patience` after the
/// inventory has received it, unless it is answered first.
async fn make(
    attempt: Attempt,
    client: &reqwest::Client,
    url: &str,
    seen: &watch::Sender<Seen>,
) -> Outcome {
    let Attempt { id, ask, patience } = attempt;
    match send_giving_up(ask.request(client, url), id, patience, seen).await {
        Ending::Answered(answered) => judge(&ask, answered),
        Ending::GivenUp => Outcome::GivenUp,
        Ending::NotReceived => Outcome::Unexpected(format!(
            "{ask:?} did not reach the inventory in {DEADLINE:?}"
        )),
    }
}

fn judge(ask: &Ask, answered: Result<reqwest::Result<reqwest::Response>, JoinError>) -> Outcome {
    match answered {
        Ok(Ok(response)) if ask.may_answer(response.status()) => {
            Outcome::Answered(response.status())
        }
        Ok(Ok(response)) => {
            Outcome::Unexpected(format!("{ask:?} was answered {}", response.status()))
        }
        Ok(Err(failure)) => Outcome::Unexpected(format!("{ask:?} failed: {failure}")),
        Err(failure) => Outcome::Unexpected(format!("{ask:?}: {failure}")),
    }
}

/// The seats of each talk's reservations, as the database records them.
async fn reserved_seats(database: &Db) -> HashMap<TalkId, i64> {
    let mut reserved: HashMap<TalkId, i64> = HashMap::new();
    for row in sqlx::query("SELECT talk_id, quantity FROM reservations")
        .fetch_all(database)
        .await
        .expect("the reservations")
    {
        *reserved.entry(talk_of(&row, 0)).or_default() += row.get::<i64, _>(1);
    }
    reserved
}
