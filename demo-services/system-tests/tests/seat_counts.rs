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

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use futures_util::stream::{self, StreamExt};
use in_process::Service;
use reqwest::StatusCode;
use shop::Fixes;
use shop::db::Db;
use shop::domain::{Availability, Reservation, ReservationRequest, TalkId, programme};
use sqlx::Row;
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
/// The header that numbers the burst's requests, so that the inventory's
/// side can report each one.
const ATTEMPT: &str = "x-attempt";
/// Bounds a wait that only a failure makes long.
const DEADLINE: Duration = Duration::from_secs(60);
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
    let seed = seed();
    let lock = if fixes.lock() {
        "lock-fix"
    } else {
        "planted-lock"
    };
    let run = format!("{lock}, seed {seed} (SEAT_COUNTS_SEED={seed} makes the same choices)");
    // Shown with any failure, an `expect` too.
    eprintln!("seat counts: {run}");
    let mut dice = Dice(seed);
    let file = DatabaseFile::new(&format!("seat-counts-{lock}"));
    let seen = watch::Sender::new(Seen::default());
    let (inventory, mut changes) = start_inventory(&file.url(), fixes, seen.clone());
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
            talk_id: dice.talk(),
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
    let unexpected: Vec<&String> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Unexpected(what) => Some(what),
            Outcome::Answered(_) | Outcome::GivenUp => None,
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} of the burst's requests went wrong, {run}: {:#?}",
        unexpected.len(),
        &unexpected[..unexpected.len().min(10)]
    );

    // At rest: every request of the burst has ended on the inventory's
    // side, answered or dropped with its connection, so no handler starts a
    // change any more; then every change they started has ended.
    let mut ends = seen.subscribe();
    let ended = tokio::time::timeout(DEADLINE, ends.wait_for(|seen| seen.ended == BURST))
        .await
        .is_ok_and(|ended| ended.is_ok());
    assert!(
        ended,
        "{} of {BURST} requests ended on the inventory's side in {DEADLINE:?}, {run}",
        seen.borrow().ended
    );
    let settled = tokio::time::timeout(DEADLINE, changes.wait_for(|count| *count == 0))
        .await
        .is_ok_and(|settled| settled.is_ok());
    assert!(
        settled,
        "{} changes still under way {DEADLINE:?} after their requests ended, {run}",
        *changes.borrow()
    );

    let reserved = reserved_seats(&database).await;
    let recorded_left = seats_table(&database).await;
    let mut drift = Vec::new();
    for talk in programme() {
        let counted = i64::from(seats_counted(&client, &url, talk.id).await);
        let left = i64::from(STOCK) - reserved.get(&talk.id).copied().unwrap_or(0);
        let table = recorded_left.get(&talk.id).copied();
        if counted != left || table != Some(left) {
            drift.push(format!(
                "talk {}: {counted} left by the counts, {left} by the database's reservations, \
                 {table:?} in its seats table",
                talk.id
            ));
        }
    }
    let given_up = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Outcome::GivenUp))
        .count();
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

    drop(client);
    database.close().await;
    drop(inventory.stop());
}

/// The seed of this run's choices: `SEAT_COUNTS_SEED`, or a new one.
fn seed() -> u64 {
    match std::env::var("SEAT_COUNTS_SEED") {
        Ok(seed) => seed
            .parse()
            .unwrap_or_else(|_| panic!("SEAT_COUNTS_SEED must be a number, not {seed:?}")),
        Err(_) => RandomState::new().hash_one("seat counts"),
    }
}

/// SplitMix64: the test's choices, made again from the same seed (a few
/// hundred numbers need no dependency).
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// From 0 to `n - 1`.
    fn below(&mut self, n: u64) -> u64 {
        self.roll() % n
    }

    /// From 0 up to, not including, 1.
    fn fraction(&mut self) -> f64 {
        (self.roll() >> 11) as f64 / (1_u64 << 53) as f64
    }

    fn talk(&mut self) -> TalkId {
        1 + self.below(TALKS) as TalkId
    }
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
            talk_id: dice.talk(),
            quantity: 1 + dice.below(2) as u32,
        }),
        12..=14 => Ask::Reserve(ReservationRequest {
            talk_id: dice.talk(),
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

enum Outcome {
    /// Answered, as its ask may be.
    Answered(StatusCode),
    /// Given up by its client before an answer came.
    GivenUp,
    /// Anything else: an answer its ask may not have, a failed request.
    Unexpected(String),
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
    let mut arrivals = seen.subscribe();
    let mut answer = tokio::spawn(ask.request(client, url).header(ATTEMPT, id).send());
    let arrival = tokio::time::timeout(
        DEADLINE,
        arrivals.wait_for(|seen| seen.arrived.contains(&id)),
    );
    tokio::select! {
        answered = &mut answer => return judge(&ask, answered),
        arrived = arrival => {
            if arrived.is_err() {
                answer.abort();
                return Outcome::Unexpected(format!(
                    "{ask:?} did not reach the inventory in {DEADLINE:?}"
                ));
            }
        }
    }
    match tokio::time::timeout(patience, &mut answer).await {
        Ok(answered) => judge(&ask, answered),
        Err(_) => {
            // The request's connection closes with it: its client has gone.
            answer.abort();
            Outcome::GivenUp
        }
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

/// What the inventory's side saw of the burst's requests.
#[derive(Default)]
struct Seen {
    /// Those that reached it.
    arrived: HashSet<usize>,
    /// Those whose handling has ended, answered or dropped.
    ended: usize,
    /// Those dropped before their handler answered: their client had gone.
    cut_off: usize,
}

/// `app`, reporting each of the burst's requests to `seen`.
fn reporting(app: Router, seen: watch::Sender<Seen>) -> Router {
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

/// The inventory on the SQLite file at `url`, every talk with `STOCK`
/// seats, reporting the burst's requests to `seen`; and its count of
/// changes in flight.
fn start_inventory(
    url: &str,
    fixes: Fixes,
    seen: watch::Sender<Seen>,
) -> (Service, watch::Receiver<usize>) {
    let (opened, changes) = std::sync::mpsc::channel();
    let url = url.to_owned();
    let service = Service::spawn_with("inventory", move || async move {
        let db = shop::db::connect_for_writes(&url)
            .await
            .expect("the inventory's database");
        let inventory = inventory::open(db, inventory::Stock::PerTalk(STOCK))
            .await
            .expect("the inventory's tables");
        opened
            .send(inventory.changes_in_flight())
            .expect("the test waits for the count");
        reporting(inventory::app(inventory, fixes), seen)
    });
    let changes = changes
        .try_recv()
        .expect("the inventory opens before it listens");
    (service, changes)
}

/// The seats the inventory counts left for `talk_id` (`GET /seats`).
async fn seats_counted(client: &reqwest::Client, url: &str, talk_id: TalkId) -> u32 {
    client
        .get(format!("{url}/seats/{talk_id}"))
        .send()
        .await
        .expect("the inventory answers")
        .json::<Availability>()
        .await
        .expect("a count of seats")
        .available
}

/// The seats of each talk's reservations, as the database records them.
async fn reserved_seats(database: &Db) -> HashMap<TalkId, i64> {
    let mut reserved: HashMap<TalkId, i64> = HashMap::new();
    for row in sqlx::query("SELECT talk_id, quantity FROM reservations")
        .fetch_all(database)
        .await
        .expect("the reservations")
    {
        *reserved.entry(talk_of(&row)).or_default() += row.get::<i64, _>(1);
    }
    reserved
}

/// Each talk's seats left, in the database's own table.
async fn seats_table(database: &Db) -> HashMap<TalkId, i64> {
    sqlx::query("SELECT talk_id, available FROM seats")
        .fetch_all(database)
        .await
        .expect("the seats")
        .iter()
        .map(|row| (talk_of(row), row.get::<i64, _>(1)))
        .collect()
}

/// The talk in a row's first column.
fn talk_of(row: &sqlx::any::AnyRow) -> TalkId {
    TalkId::try_from(row.get::<i64, _>(0)).expect("a talk's id")
}

/// A SQLite file of the test's own in the system's temporary folder,
/// removed with its write-ahead log when dropped.
struct DatabaseFile(PathBuf);

impl DatabaseFile {
    fn new(name: &str) -> Self {
        let file = Self(std::env::temp_dir().join(format!("{name}-{}.db", std::process::id())));
        // A file of an earlier run with the same process id would keep its
        // reservations.
        file.remove();
        file
    }

    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.display())
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            // A file already gone is as good as removed.
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for DatabaseFile {
    fn drop(&mut self) {
        self.remove();
    }
}
