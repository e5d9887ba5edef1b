//! The inventory's idempotency keys, over HTTP, with the seat lock planted
//! and fixed: a repeated reservation is answered again and takes no seat;
//! a key used for another reservation is 422; a released key is 409; a
//! release that comes before its reservation makes it refused; a
//! malformed key is 422 with a reason; a release by id releases the key
//! too; and a reservation and a release of one key sent together, many
//! times over, return the seats exactly once, whichever the database sees
//! first.
//!
//! On the database `DATABASE_URL` names (CI's PostgreSQL), else a SQLite
//! database in memory. Each run's keys are its own (random), so that what
//! a shared database kept from other runs answers for none of them.

use std::hash::{BuildHasher, RandomState};

use futures_util::stream::{self, StreamExt};
use in_process::Service;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop::Fixes;
use shop::db::Db;
use shop::domain::TalkId;
use sqlx::Row;

/// The talk every reservation here is for.
const TALK: TalkId = 1;
/// Reservations and releases of one key sent together, per lock mode.
const ROUNDS: usize = 150;

/// Both seat-lock modes: the planted one, and `--fix-lock`, which takes
/// the seats from the counts before the database records anything.
fn lock_modes() -> [Fixes; 2] {
    [
        Fixes::default(),
        Fixes {
            fix_lock: true,
            ..Fixes::default()
        },
    ]
}

#[tokio::test]
async fn a_repeated_reservation_is_answered_again_and_takes_no_seat() {
    for fixes in lock_modes() {
        let inventory = Inventory::start(fixes).await;
        let key = inventory.key("repeat");
        let header = quoted(&key);
        let before = inventory.seats().await;
        let taken = before - 2;
        let first = inventory.reserve(&header, 2).await;
        let first = inventory
            .expect(first, StatusCode::CREATED, taken, "a first reservation")
            .await;
        let again = inventory.reserve(&header, 2).await;
        let again = inventory
            .expect(again, StatusCode::OK, taken, "the same key and body")
            .await;
        assert_eq!(again, first, "the same reservation, answered again");
        let bare = inventory.reserve(&key, 2).await;
        let bare = inventory
            .expect(bare, StatusCode::OK, taken, "the key sent bare")
            .await;
        assert_eq!(bare, first, "a bare key is the same key");
        let other = inventory.reserve(&header, 1).await;
        let other = inventory
            .expect(
                other,
                StatusCode::UNPROCESSABLE_ENTITY,
                taken,
                "another body",
            )
            .await;
        assert!(
            reason(&other).contains(&key),
            "the reason names the key: {other}"
        );
        for time in ["first", "second"] {
            let released = inventory.release(&key).await;
            let what = format!("the {time} release, which gives the seats back once");
            inventory
                .expect(released, StatusCode::NO_CONTENT, before, &what)
                .await;
        }
        let refused = inventory.reserve(&header, 2).await;
        let refused = inventory
            .expect(refused, StatusCode::CONFLICT, before, "a released key")
            .await;
        assert!(
            reason(&refused).contains(&key),
            "the reason names the key: {refused}"
        );

        let id = reservation_id(&first);
        let audit = inventory.audit(id).await;
        assert_eq!(
            audit,
            ["release", "reserve"],
            "the audit of reservation {id}"
        );
        inventory.counts_match_the_database().await;
        inventory.stop();
    }
}

#[tokio::test]
async fn a_release_before_its_reservation_makes_the_reservation_refused() {
    for fixes in lock_modes() {
        let inventory = Inventory::start(fixes).await;
        let key = inventory.key("early-release");
        let before = inventory.seats().await;
        let (status, body) = inventory.release(&key).await;
        assert_eq!(
            status,
            StatusCode::NO_CONTENT,
            "a release of a key not seen yet: {body}"
        );
        let (status, refused) = inventory.reserve(&quoted(&key), 1).await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "a reservation after its release: {refused}"
        );
        assert!(
            reason(&refused).contains(&key),
            "the reason names the key: {refused}"
        );
        assert_eq!(
            inventory.seats().await,
            before,
            "the late reservation took nothing"
        );
        assert_eq!(
            inventory.key_record(&key).await,
            Some(("released".to_owned(), None)),
            "the key is released, with no reservation"
        );
        inventory.counts_match_the_database().await;
        inventory.stop();
    }
}

#[tokio::test]
async fn a_release_by_id_releases_the_key_too() {
    let inventory = Inventory::start(Fixes::default()).await;
    let key = inventory.key("by-id");
    let before = inventory.seats().await;
    let (status, reservation) = inventory.reserve(&quoted(&key), 1).await;
    assert_eq!(status, StatusCode::CREATED, "{reservation}");
    let id = reservation_id(&reservation);
    let released = inventory
        .client
        .delete(format!("{}/reservations/{id}", inventory.url))
        .send()
        .await
        .expect("the inventory answers");
    assert_eq!(released.status(), StatusCode::NO_CONTENT, "released by id");
    let (status, refused) = inventory.reserve(&quoted(&key), 1).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "its key answers no more: {refused}"
    );
    let (status, body) = inventory.release(&key).await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "a release by key after it: {body}"
    );
    assert_eq!(inventory.seats().await, before, "the seats came back once");
    inventory.stop();
}

#[tokio::test]
async fn a_malformed_key_is_a_422_with_a_reason_and_takes_nothing() {
    let inventory = Inventory::start(Fixes::default()).await;
    let before = inventory.seats().await;
    let too_long = "k".repeat(inventory::MAX_KEY_CHARACTERS + 1);
    for (what, header) in [
        ("too long", too_long.clone()),
        ("empty", r#""""#.to_owned()),
        ("a space", r#""a b""#.to_owned()),
        ("no closing quote", r#""abc"#.to_owned()),
        ("an unknown escape", r#""a\tb""#.to_owned()),
    ] {
        let (status, body) = inventory.reserve(&header, 1).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert!(!reason(&body).is_empty(), "{what}: a reason: {body}");
    }
    for (what, path) in [("too long", too_long.as_str()), ("a space", "a%20b")] {
        let (status, body) = inventory.release(path).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a release, {what}: {body}"
        );
        assert!(
            !reason(&body).is_empty(),
            "a release, {what}: a reason: {body}"
        );
    }
    assert_eq!(
        inventory.seats().await,
        before,
        "no malformed key took a seat"
    );
    inventory.stop();
}

#[tokio::test]
async fn a_reservation_and_a_release_of_one_key_sent_together_return_the_seats_exactly_once() {
    for fixes in lock_modes() {
        let inventory = Inventory::start(fixes).await;
        let before = inventory.seats().await;
        let rounds: Vec<Round> = stream::iter(0..ROUNDS)
            .map(|round| inventory.race(round))
            .buffer_unordered(8)
            .collect()
            .await;
        let reserved_first = rounds.iter().filter(|r| r.reserved.is_some()).count();
        let story = format!(
            "{ROUNDS} rounds, {reserved_first} reserved before their release, the rest refused \
             after it; lock fix {}",
            fixes.lock()
        );
        for round in &rounds {
            inventory.check(round, &story).await;
        }
        assert_eq!(
            inventory.seats().await,
            before,
            "every seat taken came back exactly once: {story}"
        );
        inventory.counts_match_the_database().await;
        inventory.audit_adds_up(reserved_first, &story).await;
        inventory.stop();
    }
}

/// One key's reservation and release, sent together.
struct Round {
    key: String,
    /// The reservation, if it was made (201) rather than refused (409).
    reserved: Option<u64>,
}

/// The inventory, on its own port and thread, and a way into its database.
struct Inventory {
    service: Service,
    url: String,
    client: reqwest::Client,
    database: Db,
    /// Whether the database is the test's alone, so that its seats table
    /// can be compared with the counts.
    own_database: bool,
    /// This run's part of every key.
    run: String,
}

impl Inventory {
    async fn start(fixes: Fixes) -> Self {
        let (opened, databases) = std::sync::mpsc::channel();
        let service = Service::spawn_with("inventory", move || async move {
            let db = shop::db::for_tests().await.expect("a database");
            opened.send(db.clone()).expect("the test waits for it");
            // A shared database keeps what other tests reserved: every
            // talk starts afresh.
            let inventory = inventory::open(db, inventory::Stock::RoomCapacity, fixes)
                .await
                .expect("the inventory's tables");
            inventory::app(inventory, fixes)
        });
        let db = databases.try_recv().expect("the inventory's database");
        // A connection to PostgreSQL belongs to the runtime that opened it:
        // the test opens its own. SQLite in memory is one connection.
        let own_database = !shop::db::is_postgres(&db);
        let database = if own_database {
            db
        } else {
            shop::db::for_tests().await.expect("a database")
        };
        let run = format!("{:016x}", RandomState::new().hash_one("idempotency keys"));
        Self {
            url: service.url(),
            service,
            client: reqwest::Client::new(),
            database,
            own_database,
            run,
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}-{name}", self.run)
    }

    /// `POST /reservations` of `quantity` seats with `Idempotency-Key: header`.
    async fn reserve(&self, header: &str, quantity: u32) -> (StatusCode, Value) {
        let request = self
            .client
            .post(format!("{}/reservations", self.url))
            .header("idempotency-key", header)
            .json(&json!({"talk_id": TALK, "quantity": quantity}));
        answer(request).await
    }

    /// `DELETE /reservations/keys/{key}`.
    async fn release(&self, key: &str) -> (StatusCode, Value) {
        let request = self
            .client
            .delete(format!("{}/reservations/keys/{key}", self.url));
        answer(request).await
    }

    /// The seats the inventory counts left (`GET /seats`).
    async fn seats(&self) -> u64 {
        let request = self.client.get(format!("{}/seats/{TALK}", self.url));
        let (status, body) = answer(request).await;
        assert_eq!(status, StatusCode::OK, "GET /seats: {body}");
        body["available"].as_u64().expect("a count of seats")
    }

    /// Checks that `answer` has `status` and leaves `seats` counted; its
    /// body.
    async fn expect(
        &self,
        answer: (StatusCode, Value),
        status: StatusCode,
        seats: u64,
        what: &str,
    ) -> Value {
        let (answered, body) = answer;
        assert_eq!(answered, status, "{what}: {body}");
        assert_eq!(self.seats().await, seats, "the seats left after {what}");
        body
    }

    /// A reservation and a release of a key of its own, sent together.
    async fn race(&self, round: usize) -> Round {
        let key = self.key(&format!("race-{round}"));
        let header = quoted(&key);
        let ((reserved, reservation), (released, body)) =
            tokio::join!(self.reserve(&header, 1), self.release(&key));
        assert_eq!(released, StatusCode::NO_CONTENT, "release of {key}: {body}");
        let reserved = match reserved {
            StatusCode::CREATED => Some(reservation_id(&reservation)),
            StatusCode::CONFLICT => None,
            other => panic!("the reservation with {key} was answered {other}: {reservation}"),
        };
        Round { key, reserved }
    }

    /// A round's end state: its key released, naming the reservation it
    /// made, if it made one; on PostgreSQL, whose ids are never given
    /// twice, that reservation made once and released once.
    async fn check(&self, round: &Round, story: &str) {
        let Round { key, reserved } = round;
        let record = self.key_record(key).await;
        let Some(id) = reserved else {
            assert_eq!(
                record,
                Some(("released".to_owned(), None)),
                "{key} was refused, so it names no reservation: {story}"
            );
            return;
        };
        let linked = i64::try_from(*id).expect("an id the database stores");
        assert_eq!(
            record,
            Some(("released".to_owned(), Some(linked))),
            "{key}'s reservation: {story}"
        );
        if !self.own_database {
            assert_eq!(
                self.audit(*id).await,
                ["release", "reserve"],
                "reservation {id} of {key} made once and released once: {story}"
            );
        }
    }

    /// On SQLite, which gives a deleted reservation's id again: the audit
    /// log of the test's own database has `reserved` reservations made,
    /// as many released, and no reservation is left.
    async fn audit_adds_up(&self, reserved: usize, story: &str) {
        if !self.own_database {
            return;
        }
        let count = |sql: &'static str| async move {
            let count: i64 = sqlx::query(sql)
                .fetch_one(&self.database)
                .await
                .expect("a count")
                .get(0);
            usize::try_from(count).expect("a count")
        };
        let made = count("SELECT COUNT(*) FROM audit_log WHERE action = 'reserve'").await;
        let released = count("SELECT COUNT(*) FROM audit_log WHERE action = 'release'").await;
        let left = count("SELECT COUNT(*) FROM reservations").await;
        assert_eq!(
            (made, released, left),
            (reserved, reserved, 0),
            "reservations made, released and left, against {reserved} made and released: {story}"
        );
    }

    /// The audit log's actions for a reservation, in alphabetical order.
    async fn audit(&self, reservation_id: u64) -> Vec<String> {
        let mut actions: Vec<String> =
            sqlx::query("SELECT action FROM audit_log WHERE reservation_id = $1")
                .bind(i64::try_from(reservation_id).expect("an id the database stores"))
                .fetch_all(&self.database)
                .await
                .expect("the audit log")
                .iter()
                .map(|row| row.get(0))
                .collect();
        actions.sort();
        actions
    }

    /// A key's state and reservation, as the database records them.
    async fn key_record(&self, key: &str) -> Option<(String, Option<i64>)> {
        sqlx::query("SELECT state, reservation_id FROM reservation_keys WHERE idempotency_key = $1")
            .bind(key)
            .fetch_optional(&self.database)
            .await
            .expect("the keys")
            .map(|row| (row.get(0), row.get(1)))
    }

    /// On a database of the test's own: the seats table says what the
    /// counts say. (Every request here was answered, and a change ends
    /// before its answer leaves.)
    async fn counts_match_the_database(&self) {
        if !self.own_database {
            return;
        }
        let table: i64 = sqlx::query("SELECT available FROM seats WHERE talk_id = $1")
            .bind(i64::from(TALK))
            .fetch_one(&self.database)
            .await
            .expect("the seats")
            .get(0);
        let counted = self.seats().await;
        assert_eq!(
            u64::try_from(table).ok(),
            Some(counted),
            "the seats table has {table}, the counts {counted}"
        );
    }

    fn stop(self) {
        drop(self.service.stop());
    }
}

/// `key` as the draft writes the header: a structured-field string.
fn quoted(key: &str) -> String {
    format!("\"{key}\"")
}

/// Sends `request`; its status and JSON body (`null` when it has none).
async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("the inventory answers");
    let status = response.status();
    let body = response.bytes().await.expect("a body");
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or_else(|_| {
            panic!(
                "{status}: a body that is not JSON: {}",
                String::from_utf8_lossy(&body)
            )
        })
    };
    (status, value)
}

/// A failure's reason, from its `{"error": …}` body.
fn reason(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

fn reservation_id(reservation: &Value) -> u64 {
    reservation["reservation_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("a reservation id in {reservation}"))
}
