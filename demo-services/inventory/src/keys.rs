//! Idempotency keys: the `Idempotency-Key` header of a reservation, and
//! the table that remembers what each key did, `reservation_keys`.
//!
//! A key is in one of two states. `reserved`: a reservation was made with
//! it, and its row names the talk, the seats and the reservation. Or
//! `released`: its reservation was given back, or a release came before
//! any reservation with it did (the row then names nothing else), and no
//! reservation will ever be made with it. A key's row is written in the
//! same transaction as the change to the seats it stands for.
//!
//! On PostgreSQL, an `INSERT … ON CONFLICT` on a key that another
//! transaction has just written waits for that transaction to end: two
//! requests with one key take turns, whichever comes first. Each takes the
//! key's row before the seats' (a reservation claims its key first, a
//! release marks it first), so two of them never wait for each other in a
//! circle. SQLite writes one transaction at a time anyway.

use std::fmt;

use axum::http::HeaderMap;
use shop::ApiError;
use shop::db::unsigned;
use shop::domain::{Reservation, ReservationRequest};
use shop::peer::IDEMPOTENCY_KEY;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

/// The longest key accepted.
pub const MAX_KEY_CHARACTERS: usize = 128;

/// The `state` of a key that holds a reservation...
const RESERVED: &str = "reserved";
/// ...and of one that never will again.
const RELEASED: &str = "released";

/// The keys' table: a table of its own, not a column of `reservations`,
/// so that a database of an earlier version gains it on start (`CREATE
/// TABLE IF NOT EXISTS` adds no column to a table that exists).
pub const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS reservation_keys (idempotency_key TEXT PRIMARY KEY, \
     state TEXT NOT NULL, talk_id BIGINT, quantity BIGINT, reservation_id BIGINT)",
    // A release by reservation id marks that reservation's key released.
    "CREATE INDEX IF NOT EXISTS reservation_keys_by_reservation \
     ON reservation_keys (reservation_id)",
];

/// A client's name for one reservation: 1 to [`MAX_KEY_CHARACTERS`]
/// visible ASCII characters (no spaces, no control characters), so that
/// it fits a header and a log line as it is (a path segment, once
/// percent-encoded where a path needs it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `key`, if it is a well-formed key; else a 422 that says why.
    pub fn new(key: String) -> Result<Self, ApiError> {
        let count = key.chars().count();
        if count == 0 || count > MAX_KEY_CHARACTERS {
            return Err(ApiError::unprocessable(format!(
                "an idempotency key has 1 to {MAX_KEY_CHARACTERS} characters, not {count}"
            )));
        }
        if let Some(bad) = key.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(ApiError::unprocessable(format!(
                "an idempotency key is visible ASCII characters only, and {key:?} has {bad:?}"
            )));
        }
        Ok(Self(key))
    }

    /// The key of a request's `Idempotency-Key` header, if it has one.
    /// The draft makes the header a structured-field string (`"…"`); many
    /// clients send the key bare, and both are read.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(ApiError::unprocessable(
                "a request has at most one Idempotency-Key header",
            ));
        }
        let text = value.to_str().map_err(|_| {
            ApiError::unprocessable("the Idempotency-Key header is visible ASCII only")
        })?;
        let key = match text.strip_prefix('"') {
            Some(quoted) => unquote(quoted)?,
            None => text.to_owned(),
        };
        Self::new(key).map(Some)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text of a structured-field string (RFC 9651), from after its
/// opening quote: `\"` and `\\` are its only escapes, and nothing may
/// follow its closing quote.
fn unquote(quoted: &str) -> Result<String, ApiError> {
    let malformed = |why: &str| {
        ApiError::unprocessable(format!(
            "the Idempotency-Key header is not a well-formed string: {why}"
        ))
    };
    let mut text = String::with_capacity(quoted.len());
    let mut characters = quoted.chars();
    while let Some(character) = characters.next() {
        match character {
            '"' if characters.as_str().is_empty() => return Ok(text),
            '"' => return Err(malformed("text after its closing quote")),
            '\\' => match characters.next() {
                Some(escaped @ ('"' | '\\')) => text.push(escaped),
                _ => return Err(malformed("a backslash escapes only \" and \\")),
            },
            other => text.push(other),
        }
    }
    Err(malformed("no closing quote"))
}

/// What the database holds for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRecord {
    /// The reservation made with it, still held.
    Reserved(Reservation),
    /// Released: no reservation with this key holds seats, or ever will.
    Released,
}

impl KeyRecord {
    /// The answer to a reservation `request` with `key`, which already has
    /// this record: the same reservation again for the same request.
    pub fn answer(
        self,
        key: &IdempotencyKey,
        request: &ReservationRequest,
    ) -> Result<Reservation, ApiError> {
        match self {
            KeyRecord::Released => Err(ApiError::conflict(format!(
                "the reservation with idempotency key {key} was released; \
                 a new reservation needs a new key"
            ))),
            KeyRecord::Reserved(reservation)
                if reservation.talk_id == request.talk_id
                    && reservation.quantity == request.quantity =>
            {
                Ok(reservation)
            }
            KeyRecord::Reserved(reservation) => Err(ApiError::unprocessable(format!(
                "idempotency key {key} was used to reserve {} seats of talk {}, \
                 not {} of talk {}",
                reservation.quantity, reservation.talk_id, request.quantity, request.talk_id
            ))),
        }
    }
}

/// What `key` records, if anything.
pub async fn find<'c, E>(executor: E, key: &IdempotencyKey) -> Result<Option<KeyRecord>, ApiError>
where
    E: Executor<'c, Database = Any>,
{
    let row = sqlx::query(
        "SELECT state, talk_id, quantity, reservation_id FROM reservation_keys \
         WHERE idempotency_key = $1",
    )
    .bind(key.as_str())
    .fetch_optional(executor)
    .await?;
    row.as_ref()
        .map(record_of)
        .transpose()
        .map_err(ApiError::from)
}

fn record_of(row: &AnyRow) -> Result<KeyRecord, sqlx::Error> {
    let state: String = row.try_get(0)?;
    if state == RELEASED {
        return Ok(KeyRecord::Released);
    }
    let number = |column: usize| -> Result<i64, sqlx::Error> {
        row.try_get::<Option<i64>, _>(column)?
            .ok_or_else(|| sqlx::Error::Decode("a reserved key without its reservation".into()))
    };
    Ok(KeyRecord::Reserved(Reservation {
        talk_id: unsigned(number(1)?)?,
        quantity: unsigned(number(2)?)?,
        reservation_id: unsigned(number(3)?)?,
    }))
}

/// Claims `key` for the reservation `request`, in its transaction: `None`
/// when the key was free and is now this transaction's, else what the
/// key already records (and this transaction must change nothing).
pub async fn claim(
    transaction: &mut AnyConnection,
    key: &IdempotencyKey,
    request: &ReservationRequest,
) -> Result<Option<KeyRecord>, ApiError> {
    let claimed = sqlx::query(
        "INSERT INTO reservation_keys (idempotency_key, state, talk_id, quantity) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(key.as_str())
    .bind(RESERVED)
    .bind(i64::from(request.talk_id))
    .bind(i64::from(request.quantity))
    .execute(&mut *transaction)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(None);
    }
    // Taken by a transaction that has committed: its record is readable.
    let record = find(&mut *transaction, key)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(Some(record))
}

/// Writes the id of the reservation made with a claimed `key`.
pub async fn link(
    transaction: &mut AnyConnection,
    key: &IdempotencyKey,
    reservation_id: u64,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE reservation_keys SET reservation_id = $1 WHERE idempotency_key = $2")
        .bind(database_id(reservation_id))
        .bind(key.as_str())
        .execute(transaction)
        .await?;
    Ok(())
}

/// Marks `key` released, inserting it if no reservation has come with it
/// yet: the id of the reservation it held, if it held one until now, for
/// the caller to give back. A key released before names its reservation
/// still, but answers `None`: on SQLite, a reservation's id may be given
/// again to a later reservation once the first is deleted.
pub async fn release(
    transaction: &mut AnyConnection,
    key: &IdempotencyKey,
) -> Result<Option<u64>, ApiError> {
    let inserted = sqlx::query(
        "INSERT INTO reservation_keys (idempotency_key, state) VALUES ($1, $2) \
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(key.as_str())
    .bind(RELEASED)
    .execute(&mut *transaction)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(None);
    }
    let held = sqlx::query(
        "UPDATE reservation_keys SET state = $1 WHERE idempotency_key = $2 AND state = $3 \
         RETURNING reservation_id",
    )
    .bind(RELEASED)
    .bind(key.as_str())
    .bind(RESERVED)
    .fetch_optional(transaction)
    .await?;
    let Some(row) = held else { return Ok(None) };
    let reservation_id: Option<i64> = row.try_get(0)?;
    reservation_id
        .map(unsigned::<u64>)
        .transpose()
        .map_err(ApiError::from)
}

/// Marks the key of the reservation `reservation_id` released, if it was
/// made with one: it must not answer for a reservation that is gone.
pub async fn release_reservation_key(
    transaction: &mut AnyConnection,
    reservation_id: u64,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE reservation_keys SET state = $1 WHERE reservation_id = $2 AND state = $3")
        .bind(RELEASED)
        .bind(database_id(reservation_id))
        .bind(RESERVED)
        .execute(transaction)
        .await?;
    Ok(())
}

/// A reservation id as the database stores it; an id beyond its range
/// names no row.
pub fn database_id(reservation_id: u64) -> i64 {
    i64::try_from(reservation_id).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};

    use super::*;

    fn key_of(values: &[&str]) -> Result<Option<IdempotencyKey>, ApiError> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                IDEMPOTENCY_KEY,
                HeaderValue::from_str(value).expect("a header"),
            );
        }
        IdempotencyKey::from_headers(&headers)
    }

    #[test]
    fn a_key_is_read_quoted_as_the_draft_writes_it_or_bare() {
        let expected = Some(IdempotencyKey("7-00ff-0".to_owned()));
        assert_eq!(key_of(&[r#""7-00ff-0""#]), Ok(expected.clone()), "quoted");
        assert_eq!(key_of(&["7-00ff-0"]), Ok(expected), "bare");
        assert_eq!(
            key_of(&[r#""a\"b\\c""#]).map(|key| key.map(|key| key.0)),
            Ok(Some(r#"a"b\c"#.to_owned())),
            "escapes undone"
        );
        assert_eq!(key_of(&[]), Ok(None), "no header, no key");
        let longest = "k".repeat(MAX_KEY_CHARACTERS);
        assert!(
            key_of(&[longest.as_str()]).is_ok_and(|key| key.is_some()),
            "128 characters"
        );
    }

    #[test]
    fn a_malformed_key_is_a_422_with_a_reason() {
        let too_long = "k".repeat(MAX_KEY_CHARACTERS + 1);
        for (what, values) in [
            ("empty", vec![""]),
            ("empty string", vec![r#""""#]),
            ("too long", vec![too_long.as_str()]),
            ("a space", vec!["a b"]),
            ("a quoted space", vec![r#""a b""#]),
            ("no closing quote", vec![r#""abc"#]),
            ("text after the string", vec![r#""abc"d"#]),
            ("an unknown escape", vec![r#""a\nb""#]),
            ("two headers", vec!["a", "b"]),
        ] {
            let refused = key_of(&values).expect_err(what);
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
            assert!(!refused.message.is_empty(), "{what}: a reason");
        }
    }

    #[test]
    fn a_key_answers_the_same_request_only() {
        let key = IdempotencyKey("k".to_owned());
        let reservation = Reservation {
            reservation_id: 9,
            talk_id: 3,
            quantity: 2,
        };
        let same = ReservationRequest {
            talk_id: 3,
            quantity: 2,
        };
        let other = ReservationRequest {
            talk_id: 3,
            quantity: 1,
        };
        let held = KeyRecord::Reserved(reservation.clone());
        assert_eq!(held.clone().answer(&key, &same), Ok(reservation));
        let refused = held.answer(&key, &other).expect_err("another body");
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused}"
        );
        let released = KeyRecord::Released
            .answer(&key, &same)
            .expect_err("released");
        assert_eq!(released.status, StatusCode::CONFLICT, "{released}");
        assert!(released.message.contains("idempotency key k"), "{released}");
    }
}
