//! The room's own routes, each behind the room's gate
//! ([`super::credential::room_gate`]), with bodies bounded:
//!
//! - `GET /` and `GET /api/room` (the instructor's key): the room's page
//!   and its table;
//! - `POST /join` (the room's join token), `{"name": "alice"}`: admits a
//!   new learner, or, with `"key"` theirs beside the name, finds the one
//!   who joined under it; opens their port onto their collector, starts
//!   their shop unless it runs, and answers their key and where their
//!   collector is;
//! - `POST /learners/{name}/answer` (the learner's key), the answer's four
//!   words; `POST /learners/{name}/hint`; `GET /learners/{name}/status`:
//!   judged, scored and told as the drill of one's own is
//!   ([`crate::progress`]), `{"message": …, "score": …}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{CACHE_CONTROL, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::de::DeserializeOwned;

use super::credential::{self, Holder};
use super::learner::Learner;
use super::refusal::Refusal;
use super::table::Table;
use super::wire::{AnswerForm, JoinRequest, Joined, Said};
use super::{Room, name, page};
use crate::progress::{self, Place};
use crate::state;

/// The largest body a request to the room may have: an answer is a few
/// words. A larger one is refused (413) before it is read.
const BODY_LIMIT: usize = 16 * 1024;

/// The most answers a learner's drill records: a few dozen is a long
/// drill, and each one is judged on the learner's collector and saved.
pub const MOST_ANSWERS: usize = 200;

/// The room's routes, on `room`.
pub fn router(room: Arc<Room>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/room", get(table))
        .route("/join", post(join))
        .route("/learners/{name}/answer", post(answer))
        .route("/learners/{name}/hint", post(hint))
        .route("/learners/{name}/status", get(status))
        .fallback(unknown)
        .layer(middleware::from_fn_with_state(
            room.clone(),
            credential::room_gate,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(room)
}

async fn page(Extension(holder): Extension<Holder>) -> Result<Response, Refusal> {
    holder.must_be_instructor("the room's page")?;
    Ok(([(CACHE_CONTROL, "no-store")], Html(page::html())).into_response())
}

async fn table(
    State(room): State<Arc<Room>>,
    Extension(holder): Extension<Holder>,
) -> Result<Json<Table>, Refusal> {
    holder.must_be_instructor("the room's table")?;
    Ok(Json(room.table(state::now_secs())))
}

/// A learner joins, or joins again with their key: the same key, their
/// shop started again if it does not run. The request waits for the
/// start.
async fn join(
    State(room): State<Arc<Room>>,
    Extension(holder): Extension<Holder>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Joined>, Refusal> {
    holder.must_be_joiner()?;
    let request: JoinRequest = read_json(&body)?;
    name::check(&request.name).map_err(Refusal::bad_request)?;
    let (learner, new) = room.admit(&request.name, request.key.as_deref())?;
    let ports = learner.ports();
    match new {
        true => println!(
            "{} joined (learner {} of at most {}): their shop starts on ports {} to {}.",
            learner.name,
            learner.number + 1,
            room.settings().max_learners,
            ports.base,
            ports.collector_otlp
        ),
        false => println!("{} joined again.", learner.name),
    }
    room.open_proxy(&learner).map_err(|err| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the room cannot open your collector's port: {err:#}"),
        )
    })?;
    room.ensure_shop(&learner).await.map_err(|why| {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("your shop is not running: {why}"),
        )
    })?;
    let host = host_of(&headers).unwrap_or_else(|| room.address().ip().to_string());
    let collector = format!("http://{host}:{}", room.proxy_port(&learner));
    Ok(Json(Joined::new(&learner.name, learner.key(), &collector)))
}

async fn answer(
    State(room): State<Arc<Room>>,
    Extension(holder): Extension<Holder>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Said>, Refusal> {
    let learner = learner_of(&room, &holder, &name)?;
    let form: AnswerForm = read_json(&body)?;
    let given = form.read().map_err(Refusal::bad_request)?;
    let _turn = learner.turn().await;
    let mut drill = learner.drill();
    if drill.answers.len() >= MOST_ANSWERS {
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "your drill has {MOST_ANSWERS} answers, the most a drill in the room records: \
                 ask the instructor"
            ),
        ));
    }
    let told = progress::answered(&mut drill, &given, state::now_secs())
        .await
        .map_err(|err| {
            Refusal::new(
                StatusCode::BAD_GATEWAY,
                format!("{err:#}. Your shop may be stopped: `just incident join` again starts it"),
            )
        })?;
    keep(&learner, drill, told)
}

async fn hint(
    State(room): State<Arc<Room>>,
    Extension(holder): Extension<Holder>,
    Path(name): Path<String>,
) -> Result<Json<Said>, Refusal> {
    let learner = learner_of(&room, &holder, &name)?;
    let _turn = learner.turn().await;
    let mut drill = learner.drill();
    let told = progress::hinted(&mut drill, state::now_secs());
    keep(&learner, drill, told)
}

async fn status(
    State(room): State<Arc<Room>>,
    Extension(holder): Extension<Holder>,
    Path(name): Path<String>,
) -> Result<Json<Said>, Refusal> {
    let learner = learner_of(&room, &holder, &name)?;
    let drill = learner.drill();
    let message = progress::report(&drill, state::now_secs(), Place::Room);
    Ok(Json(Said {
        message,
        score: drill.points,
    }))
}

async fn unknown() -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        "the room has no such page: `/` is its page, `/join` joins it",
    )
}

/// The learner `name`, if the request's holder is them.
fn learner_of(room: &Room, holder: &Holder, name: &str) -> Result<Arc<Learner>, Refusal> {
    holder.must_be(name)?;
    room.learner(name).ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            format!("nobody called {name} joined this room"),
        )
    })
}

/// Keeps `drill` as `learner`'s (saved, if it changed), and tells them
/// `told` with their score.
fn keep(learner: &Learner, drill: state::Drill, told: String) -> Result<Json<Said>, Refusal> {
    let score = drill.points;
    let (solved, drawn) = (drill.solved().len(), drill.drawn.len());
    let changed = learner.keep(drill).map_err(|err| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the room cannot save your drill, so nothing was recorded: {err:#}"),
        )
    })?;
    if changed {
        println!(
            "{}: {solved} of {drawn} solved, {score} points.",
            learner.name
        );
    }
    Ok(Json(Said {
        message: told,
        score,
    }))
}

/// A request's JSON body, read; 400 with why when it is not that.
fn read_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body)
        .map_err(|err| Refusal::bad_request(format!("the body is not the JSON asked for: {err}")))
}

/// The host a request reached the room at (its `Host` header, without
/// the port): where the learner reaches their collector too.
fn host_of(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(HOST)?.to_str().ok()?;
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    (!name.is_empty() && plain).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_host_a_learner_reached_the_room_at_is_where_their_collector_is() {
        let host = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(HOST, HeaderValue::from_str(value).unwrap());
            host_of(&headers)
        };
        assert_eq!(host("192.168.1.20:7900").as_deref(), Some("192.168.1.20"));
        assert_eq!(host("room.local").as_deref(), Some("room.local"));
        assert_eq!(host("[::1]:7900").as_deref(), Some("[::1]"));
        assert_eq!(host("evil/path:7900"), None);
        assert_eq!(host_of(&HeaderMap::new()), None);
    }

    #[test]
    fn a_body_that_is_not_the_json_asked_for_is_a_bad_request() {
        let refused = read_json::<JoinRequest>(b"{not json").unwrap_err();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused.reason.contains("not the JSON asked for"),
            "{refused:?}"
        );
        let missing = read_json::<JoinRequest>(b"{}").unwrap_err();
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            read_json::<JoinRequest>(br#"{"name":"alice"}"#).unwrap(),
            JoinRequest {
                name: "alice".to_owned(),
                key: None,
            }
        );
        assert_eq!(
            read_json::<JoinRequest>(br#"{"name":"alice","key":"k3y"}"#)
                .unwrap()
                .key
                .as_deref(),
            Some("k3y")
        );
    }
}
