//! The catalog: the conference programme, talk by talk, from its database
//! (talks, their speakers, their prices: three tables).
//!
//! It plants problem 6, **N+1 queries**: `GET /talks` reads the list of
//! talks, then each talk's speaker and price with a query each, one talk
//! after another. The trace shows it as a ladder of identical database
//! spans under the request. The order path's look-up of one talk, `GET
//! /talks/{talk_id}`, does the same for its one talk: three queries where
//! one would do. `--fix-n-plus-one` (`FIX_N_PLUS_ONE`) reads each in one
//! query.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use shop::db::{Db, unsigned};
use shop::domain::{Talk, TalkId, programme};
use shop::{ApiError, ApiPath, Fixes};
use sqlx::Row;
use sqlx::any::AnyRow;

pub const DEFAULT_PORT: u16 = 8081;

#[derive(Clone)]
struct Catalog {
    db: Db,
    one_query: bool,
}

/// The catalog's routes, on `db` (see [`open`]).
pub fn app(db: Db, fixes: Fixes) -> Router {
    let catalog = Catalog {
        db,
        one_query: fixes.n_plus_one(),
    };
    let routes = Router::new()
        .route("/talks", get(list_talks))
        .route("/talks/{talk_id}", get(get_talk))
        .with_state(catalog);
    shop::server::with_defaults("catalog", routes)
}

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS speakers (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS talks (id BIGINT PRIMARY KEY, title TEXT NOT NULL, \
     speaker_id BIGINT NOT NULL REFERENCES speakers (id), room TEXT NOT NULL, capacity BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS prices (talk_id BIGINT PRIMARY KEY REFERENCES talks (id), \
     price_cents BIGINT NOT NULL)",
];

/// Creates the catalog's tables in `db` if they are missing, and fills them
/// with the programme if they are empty. One span, so that the start's
/// statements make one trace, not one each.
#[tracing::instrument(name = "open_catalog", skip_all)]
pub async fn open(db: &Db) -> Result<(), shop::db::Error> {
    for statement in SCHEMA {
        sqlx::query(statement).execute(db).await?;
    }
    let talks: i64 = sqlx::query("SELECT COUNT(*) FROM talks")
        .fetch_one(db)
        .await?
        .try_get(0)?;
    if talks > 0 {
        return Ok(());
    }
    let mut seed = db.begin().await?;
    let programme = programme();
    let mut speakers: Vec<&str> = Vec::new();
    for talk in &programme {
        let speaker_id = match speakers.iter().position(|s| *s == talk.speaker) {
            Some(at) => at,
            None => {
                speakers.push(&talk.speaker);
                sqlx::query("INSERT INTO speakers (id, name) VALUES ($1, $2)")
                    .bind(speakers.len() as i64)
                    .bind(&talk.speaker)
                    .execute(&mut *seed)
                    .await?;
                speakers.len() - 1
            }
        };
        sqlx::query(
            "INSERT INTO talks (id, title, speaker_id, room, capacity) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(i64::from(talk.id))
        .bind(&talk.title)
        .bind(speaker_id as i64 + 1)
        .bind(&talk.room)
        .bind(i64::from(talk.capacity))
        .execute(&mut *seed)
        .await?;
        sqlx::query("INSERT INTO prices (talk_id, price_cents) VALUES ($1, $2)")
            .bind(i64::from(talk.id))
            .bind(talk.price_cents as i64)
            .execute(&mut *seed)
            .await?;
    }
    seed.commit().await
}

/// A talk with its speaker and price, from one row of the joined tables.
const TALKS_JOINED: &str = "SELECT t.id, t.title, s.name, t.room, t.capacity, p.price_cents \
     FROM talks t JOIN speakers s ON s.id = t.speaker_id JOIN prices p ON p.talk_id = t.id";

fn talk_from(row: &AnyRow) -> Result<Talk, sqlx::Error> {
    Ok(Talk {
        id: unsigned(row.try_get(0)?)?,
        title: row.try_get(1)?,
        speaker: row.try_get(2)?,
        room: row.try_get(3)?,
        capacity: unsigned(row.try_get(4)?)?,
        price_cents: unsigned(row.try_get(5)?)?,
    })
}

async fn list_talks(State(catalog): State<Catalog>) -> Result<Json<Vec<Talk>>, ApiError> {
    let talks = if catalog.one_query {
        all_talks_at_once(&catalog.db).await
    } else {
        all_talks_one_by_one(&catalog.db).await
    };
    Ok(Json(talks?))
}

/// The fix: one query, the database joins the tables.
async fn all_talks_at_once(db: &Db) -> Result<Vec<Talk>, sqlx::Error> {
    let rows = sqlx::query(&format!("{TALKS_JOINED} ORDER BY t.id"))
        .fetch_all(db)
        .await?;
    rows.iter().map(talk_from).collect()
}

/// Planted problem 6: the list, then two more queries for every talk on it.
async fn all_talks_one_by_one(db: &Db) -> Result<Vec<Talk>, sqlx::Error> {
    let rows = sqlx::query(&format!("{TALKS_ALONE} ORDER BY id"))
        .fetch_all(db)
        .await?;
    let mut talks = Vec::with_capacity(rows.len());
    for row in rows {
        talks.push(with_speaker_and_price(db, &row).await?);
    }
    Ok(talks)
}

/// A talk's own columns, without its speaker's name or its price.
const TALKS_ALONE: &str = "SELECT id, title, speaker_id, room, capacity FROM talks";

/// Planted problem 6, one talk at a time: a row of [`TALKS_ALONE`] made
/// a talk with two more queries, its speaker's and its price's.
async fn with_speaker_and_price(db: &Db, row: &AnyRow) -> Result<Talk, sqlx::Error> {
    let id: i64 = row.try_get(0)?;
    let speaker_id: i64 = row.try_get(2)?;
    let speaker: String = sqlx::query("SELECT name FROM speakers WHERE id = $1")
        .bind(speaker_id)
        .fetch_one(db)
        .await?
        .try_get(0)?;
    let price_cents: i64 = sqlx::query("SELECT price_cents FROM prices WHERE talk_id = $1")
        .bind(id)
        .fetch_one(db)
        .await?
        .try_get(0)?;
    Ok(Talk {
        id: unsigned(id)?,
        title: row.try_get(1)?,
        speaker,
        room: row.try_get(3)?,
        capacity: unsigned(row.try_get(4)?)?,
        price_cents: unsigned(price_cents)?,
    })
}

// No span of its own: the server span says which talk was asked for
// (`url.path`), and the database spans under it show the queries.
async fn get_talk(
    State(catalog): State<Catalog>,
    ApiPath(talk_id): ApiPath<TalkId>,
) -> Result<Json<Talk>, ApiError> {
    let talk = if catalog.one_query {
        one_talk_at_once(&catalog.db, talk_id).await
    } else {
        one_talk_one_by_one(&catalog.db, talk_id).await
    };
    match talk? {
        Some(talk) => Ok(Json(talk)),
        None => Err(ApiError::not_found(format!("there is no talk {talk_id}"))),
    }
}

/// The fix: one query, the database joins the tables.
async fn one_talk_at_once(db: &Db, talk_id: TalkId) -> Result<Option<Talk>, sqlx::Error> {
    let row = sqlx::query(&format!("{TALKS_JOINED} WHERE t.id = $1"))
        .bind(i64::from(talk_id))
        .fetch_optional(db)
        .await?;
    row.as_ref().map(talk_from).transpose()
}

/// Planted problem 6 on the order path: the talk, then its speaker, then
/// its price.
async fn one_talk_one_by_one(db: &Db, talk_id: TalkId) -> Result<Option<Talk>, sqlx::Error> {
    let row = sqlx::query(&format!("{TALKS_ALONE} WHERE id = $1"))
        .bind(i64::from(talk_id))
        .fetch_optional(db)
        .await?;
    match row {
        Some(row) => with_speaker_and_price(db, &row).await.map(Some),
        None => Ok(None),
    }
}
