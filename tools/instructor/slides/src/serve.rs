//! `just slides --serve`: the talk on localhost, rendered afresh on every
//! request, so an edit to `talk.md` shows on the next reload.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

/// Serves the talk at `source` on `listener` until the process stops.
pub async fn serve(listener: TcpListener, source: PathBuf) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(page))
        .with_state(Arc::new(source));
    axum::serve(listener, app).await
}

async fn page(State(source): State<Arc<PathBuf>>) -> Response {
    match crate::render_file(&source) {
        Ok(rendered) => Html(rendered.html).into_response(),
        // The talk is being edited: show why it does not render, in full.
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the talk does not render: {error:#}\n"),
        )
            .into_response(),
    }
}
