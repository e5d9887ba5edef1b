//! Planted problem 7, work nobody waits for: seats leak when the gateway
//! gives up on a reservation, or its own client gives up on an order; with
//! `--fix-cancellation` (a saga that compensates by idempotency key) none
//! does; and the traces show the work nobody waited for.
//!
//! The whole shop runs in-process, the inventory on a SQLite file of its
//! own (whatever `DATABASE_URL` names). The gateway gives the inventory
//! [`INVENTORY_TIMEOUT`] to answer, and the inventory, once it has made
//! and committed a reservation of [`HELD_TALK`], holds its answer until the
//! gateway gives up: every order with a line of that talk sees that line
//! time out, and its reservation made all the same. Some orders are paid
//! with a card that is declined. The clients give up on their orders at
//! random moments after the gateway received them. Once the shop is at
//! rest (every order's request ended at the gateway, every placement
//! ended, every change to the seats ended: see `Gateway::orders_in_flight`
//! and `Inventory::changes_in_flight`), the seats the inventory's database
//! holds are compared with the seats of the orders the gateway confirmed.
//!
//! The choices are random: a failure says its seed, and
//! `CANCELLATION_SEED=<seed>` makes the same choices again (the machine's
//! timing still decides where each given-up order stood).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use in_process::{Service, Spans, attr};
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop::db::Db;
use shop::domain::{ReservationRequest, TalkId};
use shop::{Fixes, Peer};
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

/// Seats each talk starts with: no order is refused as sold out.
const STOCK: u32 = 100_000;
/// Orders are for talks 1 to this.
const TALKS: u64 = 4;
/// The talk whose reservations are made, then never answered.
const HELD_TALK: TalkId = 3;
/// How long the gateway waits for the inventory.
const INVENTORY_TIMEOUT: Duration = Duration::from_millis(500);
/// Orders in the burst...
const ORDERS: usize = 100;
/// ...and how many of them are in flight at once.
const AT_ONCE: usize = 10;
const CARD: &str = "4242424242424242";
/// A card the payments service declines (402).
const DECLINED_CARD: &str = "4000000000000002";

#[tokio::test]
async fn with_the_fix_no_seat_leaks_when_calls_time_out_and_clients_give_up() {
    let (story, leaked) = burst_of_orders(every_other_fix(true)).await;
    assert!(
        leaked.is_empty(),
        "with the fix, seats are held for no confirmed order ({} findings) after {story}: \
         {leaked:#?}",
        leaked.len()
    );
}

#[tokio::test]
async fn without_the_fix_seats_leak_when_calls_time_out_and_clients_give_up() {
    let (story, leaked) = burst_of_orders(every_other_fix(false)).await;
    assert!(
        !leaked.is_empty(),
        "without the fix, every seat the database holds belongs to a confirmed order, after \
         {story}: the planted problem's symptom is gone"
    );
}

/// Every planted problem fixed but the one under test, on or off: the others
/// only add load (one query per talk rather than several, say), and a
/// machine under load times out calls this test does not mean to.
fn every_other_fix(fix_cancellation: bool) -> Fixes {
    Fixes {
        fix_fanout: true,
        fix_lock: true,
        fix_hotspot: true,
        fix_retries: true,
        fix_logging: true,
        fix_n_plus_one: true,
        fix_cancellation,
        ..Fixes::default()
    }
}

/// A burst of orders, some timing out at the inventory, some declined,
/// given up by their clients at random moments; then, at rest, the seats
/// the database holds against those of the confirmed orders. What
/// happened, and the leaks (seats held for no confirmed order), each
/// named; the counts must not have drifted from the database, whatever the
/// fixes.
async fn burst_of_orders(fixes: Fixes) -> (String, Vec<String>) {
    let seed = seed("CANCELLATION_SEED");
    let mode = if fixes.cancellation() {
        "saga"
    } else {
        "planted"
    };
    let run = format!("{mode}, seed {seed} (CANCELLATION_SEED={seed} makes the same choices)");
    // Shown with any failure, an `expect` too.
    eprintln!("cancellation: {run}");
    let file = DatabaseFile::new(&format!("cancellation-{mode}"));
    let seen = watch::Sender::new(Seen::default());
    let mut shop = Shop::start(&file.url(), fixes, holding_the_held_talk, {
        let seen = seen.clone();
        move |app| reporting(app, seen)
    });
    let database = shop::db::connect(&file.url())
        .await
        .expect("the inventory's database file opens");
    let client = reqwest::Client::new();
    let gateway = shop.gateway.url();
    let outcomes = send(plan(&mut Dice::new(seed)), &client, &gateway, &seen, &run).await;

    shop.wait_for_the_gateway(&seen, &run).await;
    let rest = shop.at_rest(&client, &database, &run).await;
    let confirmed = confirmed_orders(&client, &gateway).await;
    let story = what_happened(&outcomes, &seen, &confirmed, &database, &run).await;
    let drift = rest.drift();
    assert!(
        drift.is_empty(),
        "the seat counts drifted from the database after {story}: {drift:#?}"
    );
    let cut_off = seen.borrow().cut_off;
    assert!(
        cut_off > 0,
        "the gateway dropped no order before it answered, so no client's leaving was tested: {story}"
    );
    let leaked = if fixes.cancellation() {
        leaked_keys(&rest, &confirmed)
    } else {
        leaked_seats(&rest, &confirmed)
    };

    drop(client);
    database.close().await;
    drop(shop.stop());
    // Figures for the record; the callers assert on them.
    eprintln!(
        "cancellation, {mode}: {} leaks (seats held for no confirmed order), 0 talks drifted, after {story}",
        leaked.len()
    );
    (story, leaked)
}

/// Sends the burst, `AT_ONCE` orders at a time; how each ended, every one
/// as an order may.
async fn send(
    attempts: Vec<Attempt>,
    client: &reqwest::Client,
    gateway: &str,
    seen: &watch::Sender<Seen>,
    run: &str,
) -> Vec<Outcome> {
    let outcomes: Vec<Outcome> = stream::iter(attempts)
        .map(|attempt| make(attempt, client, gateway, seen))
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    assert_none_unexpected(&outcomes, "orders", run);
    outcomes
}

/// What happened, for a failure's message: the answers, the orders given
/// up, the confirmed ones, the keys released.
async fn what_happened(
    outcomes: &[Outcome],
    seen: &watch::Sender<Seen>,
    confirmed: &[gateway::Order],
    database: &Db,
    run: &str,
) -> String {
    let mut answers: HashMap<u16, usize> = HashMap::new();
    for outcome in outcomes {
        if let Outcome::Answered(status) = outcome {
            *answers.entry(status.as_u16()).or_default() += 1;
        }
    }
    let given_up = burst::given_up(outcomes);
    let released: i64 =
        sqlx::query("SELECT COUNT(*) FROM reservation_keys WHERE state = 'released'")
            .fetch_one(database)
            .await
            .expect("the released keys")
            .get(0);
    format!(
        "{ORDERS} orders: answered {answers:?}, {given_up} given up by their clients ({} dropped \
         by the gateway before it answered), {} confirmed, {released} idempotency keys \
         released; {run}",
        seen.borrow().cut_off,
        confirmed.len()
    )
}

/// An order of the burst.
struct Attempt {
    id: usize,
    order: Value,
    /// How long after the gateway receives it the client gives it up.
    patience: Duration,
}

/// The burst: the first order waits for its answer with a line that times
/// out after one that does not, the second with a declined card (so that
/// both failures are sure to happen); the rest are drawn.
fn plan(dice: &mut Dice) -> Vec<Attempt> {
    let mut attempts = vec![
        Attempt {
            id: 0,
            order: order(&[(1, 1), (HELD_TALK, 1)], CARD),
            patience: DEADLINE,
        },
        Attempt {
            id: 1,
            order: order(&[(2, 1), (4, 2)], DECLINED_CARD),
            patience: DEADLINE,
        },
    ];
    // A client's patience runs from nothing to twice the gateway's: some
    // leave before a held line times out, some after, some wait.
    let reach = INVENTORY_TIMEOUT * 2;
    for id in attempts.len()..ORDERS {
        let lines: Vec<(TalkId, u32)> = (0..1 + dice.below(3))
            .map(|_| (dice.talk(TALKS), 1 + dice.below(2) as u32))
            .collect();
        let card = if dice.below(6) == 0 {
            DECLINED_CARD
        } else {
            CARD
        };
        let patience = if dice.below(4) == 0 {
            DEADLINE
        } else {
            reach.mul_f64(dice.fraction())
        };
        attempts.push(Attempt {
            id,
            order: order(&lines, card),
            patience,
        });
    }
    attempts
}

fn order(lines: &[(TalkId, u32)], card: &str) -> Value {
    json!({
        "customer": "ada",
        "lines": lines
            .iter()
            .map(|(talk_id, quantity)| json!({"talk_id": talk_id, "quantity": quantity}))
            .collect::<Vec<_>>(),
        "card_number": card,
    })
}

/// Sends one order and gives it up `patience` after the gateway has
/// received it, unless it is answered first.
async fn make(
    attempt: Attempt,
    client: &reqwest::Client,
    gateway: &str,
    seen: &watch::Sender<Seen>,
) -> Outcome {
    let Attempt {
        id,
        order,
        patience,
    } = attempt;
    let request = client.post(format!("{gateway}/orders")).json(&order);
    match send_giving_up(request, id, patience, seen).await {
        Ending::Answered(answered) => judge(id, answered).await,
        Ending::GivenUp => Outcome::GivenUp,
        Ending::NotReceived => Outcome::Unexpected(format!(
            "order {id} did not reach the gateway in {DEADLINE:?}"
        )),
    }
}

async fn judge(
    id: usize,
    answered: Result<reqwest::Result<reqwest::Response>, JoinError>,
) -> Outcome {
    // A peer that fails or is slow on a busy machine (502, 503) fails the
    // order as a timeout does: whatever the answer, no seat may leak.
    let expected = [
        StatusCode::CREATED,
        StatusCode::PAYMENT_REQUIRED,
        StatusCode::BAD_GATEWAY,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::GATEWAY_TIMEOUT,
    ];
    match answered {
        Ok(Ok(response)) if expected.contains(&response.status()) => {
            Outcome::Answered(response.status())
        }
        Ok(Ok(response)) => Outcome::Unexpected(format!(
            "order {id} was answered {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        )),
        Ok(Err(failure)) => Outcome::Unexpected(format!("order {id} failed: {failure}")),
        Err(failure) => Outcome::Unexpected(format!("order {id}: {failure}")),
    }
}

/// The inventory `app`, holding the answer to every reservation of
/// [`HELD_TALK`], once made and committed, until its caller gives up: the
/// gateway's timeout fires on it every time, however fast the machine.
fn holding_the_held_talk(app: Router) -> Router {
    app.layer(middleware::from_fn(
        |request: Request, next: Next| async move {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, shop::server::MAX_BODY_BYTES).await else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let held = parts.method == Method::POST
                && parts.uri.path() == "/reservations"
                && serde_json::from_slice::<ReservationRequest>(&bytes)
                    .is_ok_and(|reservation| reservation.talk_id == HELD_TALK);
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            if held && response.status().is_success() {
                std::future::pending::<()>().await;
            }
            response
        },
    ))
}

/// The five services, the inventory on its own SQLite file.
struct Shop {
    gateway: Service,
    others: Vec<Service>,
    inventory: String,
    orders_in_flight: watch::Receiver<usize>,
    changes_in_flight: watch::Receiver<usize>,
}

impl Shop {
    /// The shop with `fixes`, the inventory's database at `url`, its app
    /// wrapped by `around_inventory` and the gateway's by
    /// `around_gateway`.
    fn start(
        url: &str,
        fixes: Fixes,
        around_inventory: impl FnOnce(Router) -> Router + Send + 'static,
        around_gateway: impl FnOnce(Router) -> Router,
    ) -> Self {
        let catalog = Service::spawn_with("catalog", move || async move {
            let db = shop::db::for_tests().await.expect("a database");
            catalog::open(&db).await.expect("the catalog's tables");
            catalog::app(db, fixes)
        });
        let (inventory, changes_in_flight) = start_inventory(url, STOCK, fixes, around_inventory);
        let pricing = Service::spawn("pricing", pricing::app(fixes));
        let payments = Service::spawn(
            "payments",
            payments::app(
                payments::Processor {
                    capacity: ORDERS,
                    failure_rate: 0.0,
                    ..payments::Processor::default()
                },
                fixes,
            ),
        );
        let peer = |service: &Service| Peer::new(service.name(), service.url());
        let peers = gateway::Peers {
            catalog: peer(&catalog),
            inventory: Peer::with_timeout("inventory", inventory.url(), INVENTORY_TIMEOUT),
            pricing: peer(&pricing),
            payments: peer(&payments),
        };
        let gateway = gateway::Gateway::new(peers, fixes);
        let orders_in_flight = gateway.orders_in_flight();
        let gateway = Service::spawn("gateway", around_gateway(gateway.into_app()));
        Self {
            gateway,
            inventory: inventory.url(),
            others: vec![catalog, inventory, pricing, payments],
            orders_in_flight,
            changes_in_flight,
        }
    }

    /// Returns once every order of the burst has ended at the gateway, and
    /// every placement it began has ended: no call for them leaves it.
    async fn wait_for_the_gateway(&mut self, seen: &watch::Sender<Seen>, run: &str) {
        assert!(
            all_ended(seen, ORDERS).await,
            "{} of {ORDERS} orders ended at the gateway in {DEADLINE:?}, {run}",
            seen.borrow().ended
        );
        let placed = wait_for_zero(&mut self.orders_in_flight).await;
        assert!(
            placed,
            "{} orders still being placed {DEADLINE:?} after their requests ended, {run}",
            *self.orders_in_flight.borrow()
        );
    }

    /// Returns once no placement is under way at the gateway.
    async fn wait_for_the_gateway_alone(&mut self) {
        let placed = wait_for_zero(&mut self.orders_in_flight).await;
        assert!(
            placed,
            "{} orders still being placed after {DEADLINE:?}",
            *self.orders_in_flight.borrow()
        );
    }

    /// The inventory's counts and database, read while no change to the
    /// seats was under way (read again if one began meanwhile).
    async fn at_rest(&mut self, client: &reqwest::Client, database: &Db, run: &str) -> AtRest {
        loop {
            let settled = wait_for_zero(&mut self.changes_in_flight).await;
            assert!(
                settled,
                "{} changes to the seats still under way after {DEADLINE:?}, {run}",
                *self.changes_in_flight.borrow()
            );
            let rest = AtRest::read(client, &self.inventory, database).await;
            if !self.changes_in_flight.has_changed().unwrap_or(false) {
                return rest;
            }
        }
    }

    /// Stops every service, the gateway first; their spans.
    fn stop(self) -> Spans {
        Spans::stop_all(std::iter::once(self.gateway).chain(self.others))
    }
}

/// A reservation the database holds.
#[derive(Debug)]
struct Held {
    reservation_id: i64,
    talk_id: TalkId,
    quantity: i64,
    /// The idempotency key it was made with, if any.
    key: Option<String>,
}

/// The inventory at rest.
struct AtRest {
    /// Each talk's seats left, counted and in the database's table.
    seats: SeatsLeft,
    held: Vec<Held>,
}

impl AtRest {
    async fn read(client: &reqwest::Client, inventory: &str, database: &Db) -> Self {
        let seats = SeatsLeft::read(client, inventory, database).await;
        let held = sqlx::query(
            "SELECT r.id, r.talk_id, r.quantity, k.idempotency_key FROM reservations r \
             LEFT JOIN reservation_keys k ON k.reservation_id = r.id AND k.state = 'reserved'",
        )
        .fetch_all(database)
        .await
        .expect("the reservations")
        .iter()
        .map(|row| Held {
            reservation_id: row.get(0),
            talk_id: talk_of(row, 1),
            quantity: row.get(2),
            key: row.get(3),
        })
        .collect();
        Self { seats, held }
    }

    /// The seats each talk's reservations hold.
    fn held_seats(&self) -> HashMap<TalkId, i64> {
        let mut seats = HashMap::new();
        for held in &self.held {
            *seats.entry(held.talk_id).or_default() += held.quantity;
        }
        seats
    }

    /// Every talk whose count, seats table and reservations disagree.
    fn drift(&self) -> Vec<String> {
        self.seats.drift(STOCK, &self.held_seats())
    }
}

/// Every order the gateway confirmed, whoever waited for it: order ids
/// are numbered from 1, one per order received.
async fn confirmed_orders(client: &reqwest::Client, gateway: &str) -> Vec<gateway::Order> {
    let mut confirmed = Vec::new();
    for order_id in 1..=ORDERS {
        let response = client
            .get(format!("{gateway}/orders/{order_id}"))
            .send()
            .await
            .expect("the gateway answers");
        match response.status() {
            StatusCode::OK => confirmed.push(response.json().await.expect("an order")),
            StatusCode::NOT_FOUND => {}
            other => panic!("GET /orders/{order_id} was answered {other}"),
        }
    }
    confirmed
}

/// The seats confirmed orders hold, per talk.
fn confirmed_seats(confirmed: &[gateway::Order]) -> HashMap<TalkId, i64> {
    let mut seats = HashMap::new();
    for line in confirmed.iter().flat_map(|order| &order.lines) {
        *seats.entry(line.talk_id).or_default() += i64::from(line.quantity);
    }
    seats
}

/// With the fix: every reservation held that no confirmed order made,
/// named by its key, and every talk whose held seats are not its
/// confirmed orders'.
fn leaked_keys(rest: &AtRest, confirmed: &[gateway::Order]) -> Vec<String> {
    let orders: HashSet<u64> = confirmed.iter().map(|order| order.order_id).collect();
    let mut leaked: Vec<String> = rest
        .held
        .iter()
        .filter_map(|held| {
            let order_id = held.key.as_deref().and_then(order_of_key);
            let confirmed = order_id.is_some_and(|order_id| orders.contains(&order_id));
            (!confirmed).then(|| match &held.key {
                Some(key) => format!(
                    "key {key}: {} seats of talk {}, for an order that was not confirmed",
                    held.quantity, held.talk_id
                ),
                None => format!(
                    "reservation {}: {} seats of talk {}, made without a key",
                    held.reservation_id, held.quantity, held.talk_id
                ),
            })
        })
        .collect();
    let held = rest.held_seats();
    for (talk_id, seats) in confirmed_seats(confirmed) {
        let holds = held.get(&talk_id).copied().unwrap_or(0);
        if holds != seats {
            leaked.push(format!(
                "talk {talk_id}: confirmed orders have {seats} seats, the database holds {holds}"
            ));
        }
    }
    leaked
}

/// The order a key was made for: `ORDER-RANDOM-LINE`.
fn order_of_key(key: &str) -> Option<u64> {
    key.split('-').next()?.parse().ok()
}

/// Without the fix (reservations carry no key): every talk whose database
/// holds more seats than its confirmed orders have.
fn leaked_seats(rest: &AtRest, confirmed: &[gateway::Order]) -> Vec<String> {
    let confirmed = confirmed_seats(confirmed);
    let mut leaked: Vec<String> = rest
        .held_seats()
        .into_iter()
        .filter_map(|(talk_id, holds)| {
            let seats = confirmed.get(&talk_id).copied().unwrap_or(0);
            (holds > seats).then(|| {
                format!(
                    "talk {talk_id}: the database holds {holds} seats, confirmed orders have {seats}"
                )
            })
        })
        .collect();
    leaked.sort();
    leaked
}

/// A reservation the gateway gave up on is made all the same, and the
/// trace says so: the inventory's server span for it ends `cancelled`,
/// and its `record_reservation` ends after the gateway's call gave up;
/// with the fix, the saga's release by key gives its seats back.
///
/// Every reservation waits for the database's write lock, which the test
/// holds until the gateway has given up and sent the release (which it
/// does only after its call's span has ended): the order of the spans is
/// then a matter of cause and effect, not of the machine's speed.
#[tokio::test]
async fn a_reservation_given_up_on_is_cancelled_in_its_trace_and_released_by_key() {
    let file = DatabaseFile::new("cancellation-trace");
    let saw = watch::Sender::new(InventorySaw::default());
    let fixes = Fixes {
        fix_cancellation: true,
        ..Fixes::default()
    };
    let mut shop = Shop::start(
        &file.url(),
        fixes,
        {
            let saw = saw.clone();
            move |app| watching(app, saw)
        },
        |app| app,
    );
    let database = shop::db::connect(&file.url())
        .await
        .expect("the inventory's database file opens");
    let write_lock = take_the_write_lock(&database).await;

    let client = reqwest::Client::new();
    let order = tokio::spawn(
        client
            .post(format!("{}/orders", shop.gateway.url()))
            .json(&order(&[(1, 2)], CARD))
            .send(),
    );
    wait_until(
        &saw,
        |saw| saw.releases_by_key > 0,
        "the gateway sent a release by key",
    )
    .await;
    write_lock.rollback().await.expect("the write lock let go");

    let answer = order
        .await
        .expect("the order's task ran")
        .expect("the gateway answers");
    assert_eq!(
        answer.status(),
        StatusCode::GATEWAY_TIMEOUT,
        "the order whose reservation timed out"
    );
    let dropped = "the inventory dropped the reservation the gateway gave up on";
    wait_until(&saw, |saw| saw.reservations_cut_off > 0, dropped).await;
    shop.wait_for_the_gateway_alone().await;
    let rest = shop.at_rest(&client, &database, "the traced order").await;
    assert!(
        rest.held.is_empty() && rest.drift().is_empty(),
        "the saga gave the seats back: {:?} held, drift {:?}",
        rest.held,
        rest.drift()
    );
    database.close().await;
    check_the_trace(&shop.stop());
}

/// A transaction of the test's own that holds SQLite's one write lock
/// until it ends: every write of the inventory waits for it (SQLite's busy
/// handler retries for up to 5 s), every read goes on.
async fn take_the_write_lock(database: &Db) -> sqlx::Transaction<'static, sqlx::Any> {
    let mut write_lock = database.begin().await.expect("a transaction");
    sqlx::query("UPDATE seats SET available = available WHERE talk_id = 1")
        .execute(&mut *write_lock)
        .await
        .expect("the database's write lock taken");
    write_lock
}

/// Returns once what the inventory saw meets `condition`, at most
/// [`DEADLINE`] from now, else fails saying it did not see `what`.
async fn wait_until(
    saw: &watch::Sender<InventorySaw>,
    condition: impl FnMut(&InventorySaw) -> bool,
    what: &str,
) {
    let mut seen = saw.subscribe();
    let met = tokio::time::timeout(DEADLINE, seen.wait_for(condition)).await;
    assert!(
        met.is_ok_and(|met| met.is_ok()),
        "not seen in {DEADLINE:?}: {what}; the inventory saw {:?}",
        *saw.borrow()
    );
}

/// The trace of the one order: the gateway's call that gave up, the
/// inventory's request it left behind, and the release by key.
fn check_the_trace(spans: &Spans) {
    let gave_up = one(
        spans
            .named("gateway", "POST inventory")
            .filter(|span| attr(span, "error.type").as_deref() == Some("timeout")),
        "the gateway's reservation call that timed out",
    );
    let trace = gave_up.span_context.trace_id();
    let server = one(
        spans
            .named("inventory", "POST /reservations")
            .filter(|span| span.parent_span_id == gave_up.span_context.span_id()),
        "the inventory's server span of that call",
    );
    assert_eq!(
        attr(server, "error.type").as_deref(),
        Some("cancelled"),
        "a request dropped before its answer: {server:#?}"
    );
    assert!(
        matches!(server.status, Status::Error { .. }),
        "a cancelled request's span is failed: {:?}",
        server.status
    );
    let recording = one(
        spans
            .named("inventory", "record_reservation")
            .filter(|span| span.span_context.trace_id() == trace),
        "the reservation's record_reservation span",
    );
    assert!(
        recording.end_time > gave_up.end_time,
        "record_reservation ended at {:?}, before the gateway gave up at {:?}: the work went on \
         after its caller gave up, and its span must say so",
        recording.end_time,
        gave_up.end_time
    );
    // A release that timed out is sent again: one of them gave the seats back.
    let releases: Vec<&SpanData> = spans
        .named("inventory", "DELETE /reservations/keys/{key}")
        .filter(|span| span.span_context.trace_id() == trace)
        .collect();
    assert!(
        releases
            .iter()
            .any(|span| attr(span, "http.response.status_code").as_deref() == Some("204")),
        "the saga's release by key, answered 204, in the order's trace: {releases:#?}"
    );
}

/// The only span `spans` yields.
fn one<'a>(mut spans: impl Iterator<Item = &'a SpanData>, what: &str) -> &'a SpanData {
    let span = spans.next().unwrap_or_else(|| panic!("no span is {what}"));
    let more = spans.count();
    assert_eq!(more, 0, "{} spans are {what}", more + 1);
    span
}

/// What the inventory saw of the traced order.
#[derive(Clone, Copy, Debug, Default)]
struct InventorySaw {
    /// Releases by key that reached it.
    releases_by_key: usize,
    /// Reservations whose handling was dropped before they were answered.
    reservations_cut_off: usize,
}

/// The inventory `app`, reporting to `saw`.
fn watching(app: Router, saw: watch::Sender<InventorySaw>) -> Router {
    app.layer(middleware::from_fn(move |request: Request, next: Next| {
        let saw = saw.clone();
        async move {
            let path = request.uri().path();
            if request.method() == Method::DELETE && path.starts_with("/reservations/keys/") {
                saw.send_modify(|saw| saw.releases_by_key += 1);
            }
            let reservation = request.method() == Method::POST && path == "/reservations";
            let mut unanswered = Unanswered {
                saw,
                reservation,
                answered: false,
            };
            let response: Response = next.run(request).await;
            unanswered.answered = true;
            response
        }
    }))
}

/// A request to the inventory being handled: reports a reservation
/// dropped before its answer.
struct Unanswered {
    saw: watch::Sender<InventorySaw>,
    reservation: bool,
    answered: bool,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.reservation && !self.answered {
            self.saw.send_modify(|saw| saw.reservations_cut_off += 1);
        }
    }
}
