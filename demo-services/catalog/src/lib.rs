//! The catalog: the conference programme, talk by talk.
//!
//! The simplest service of the shop: read-only data behind two routes.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use shop::domain::{Talk, TalkId, programme};
use shop::{ApiError, ApiPath};

pub const DEFAULT_PORT: u16 = 8081;

type Talks = Arc<Vec<Talk>>;

pub fn app() -> Router {
    let routes = Router::new()
        .route("/talks", get(list_talks))
        .route("/talks/{talk_id}", get(get_talk))
        .with_state(Arc::new(programme()));
    shop::server::with_defaults("catalog", routes)
}

async fn list_talks(State(talks): State<Talks>) -> Json<Vec<Talk>> {
    Json(talks.to_vec())
}

// No span of its own: the server span of the request already says which
// talk was asked for (`url.path`), and there is nothing else to record.
async fn get_talk(
    State(talks): State<Talks>,
    ApiPath(talk_id): ApiPath<TalkId>,
) -> Result<Json<Talk>, ApiError> {
    talks
        .iter()
        .find(|talk| talk.id == talk_id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("there is no talk {talk_id}")))
}
