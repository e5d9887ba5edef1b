//! Lab 04's given code: the talks' database, and the seats service the
//! talks service calls. Not yours to edit (the grader checks it has not
//! changed).

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shop::db::Db;

/// A talk as `GET /talks` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Talk {
    pub id: i64,
    pub title: String,
    pub speaker: String,
}

/// Seats left for a talk, as the seats service answers `GET /seats/{talk_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seats {
    pub talk_id: i64,
    pub available: i64,
}

/// The programme: (id, title, speaker).
pub const PROGRAMME: [(i64, &str, &str); 6] = [
    (1, "Tracing from first principles", "Ada"),
    (2, "Context across services", "Grace"),
    (3, "The critical path", "Ada"),
    (4, "Semantic logging", "Barbara"),
    (5, "Profiling in production", "Grace"),
    (6, "Admin lines", "Margaret"),
];

/// Creates the two tables and fills them with [`PROGRAMME`]: `speakers
/// (id, name)` and `talks (id, title, speaker_id)`. One span, so that the
/// start's statements make one trace of their own.
#[tracing::instrument(name = "open_talks", skip_all)]
pub async fn open(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("CREATE TABLE speakers (id BIGINT PRIMARY KEY, name TEXT NOT NULL)")
        .execute(db)
        .await?;
    sqlx::query(
        "CREATE TABLE talks (id BIGINT PRIMARY KEY, title TEXT NOT NULL, \
         speaker_id BIGINT NOT NULL REFERENCES speakers (id))",
    )
    .execute(db)
    .await?;
    let mut speakers: Vec<&str> = Vec::new();
    for (id, title, speaker) in PROGRAMME {
        if !speakers.contains(&speaker) {
            speakers.push(speaker);
            sqlx::query("INSERT INTO speakers (id, name) VALUES ($1, $2)")
                .bind(speakers.len() as i64)
                .bind(speaker)
                .execute(db)
                .await?;
        }
        let speaker_id = speakers.iter().position(|s| *s == speaker).unwrap_or(0) + 1;
        sqlx::query("INSERT INTO talks (id, title, speaker_id) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(title)
            .bind(speaker_id as i64)
            .execute(db)
            .await?;
    }
    Ok(())
}

/// The talks, as `GET /talks` must answer them.
pub fn programme() -> Vec<Talk> {
    PROGRAMME
        .iter()
        .map(|&(id, title, speaker)| Talk {
            id,
            title: title.to_owned(),
            speaker: speaker.to_owned(),
        })
        .collect()
}

/// The seats service: `GET /seats/{talk_id}` answers how many are left
/// (404 for a talk it does not know). Its server spans come from the
/// workshop's telemetry crate, as every shop service's do.
pub fn seats_app() -> Router {
    let routes = Router::new().route("/seats/{talk_id}", get(seats));
    routes.layer(telemetry::http::trace_layer())
}

async fn seats(Path(talk_id): Path<i64>) -> Result<Json<Seats>, axum::http::StatusCode> {
    match PROGRAMME.iter().find(|(id, ..)| *id == talk_id) {
        Some(_) => Ok(Json(Seats {
            talk_id,
            available: 100 - 7 * talk_id,
        })),
        None => Err(axum::http::StatusCode::NOT_FOUND),
    }
}
