//! Serving a service: the routes every service has, limits, tracing, and a
//! graceful shutdown that lets requests in flight finish.

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::error::ApiError;

/// Request bodies larger than this are refused with 413: no endpoint of the
/// shop needs more, and an unbounded body is a memory exhaustion waiting to
/// happen.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Adds what every service has around its own routes: a server span per
/// request (continuing the caller's trace), the body limit, JSON answers for
/// unknown routes and methods, `GET /health`, `GET /stats` (the
/// statistics of the service's actions) and `GET /metrics` (RED metrics
/// with exemplars, as OpenMetrics text). The last three are outside
/// tracing, so that probes and scrapes do not flood the trace store.
pub fn with_defaults(service: &'static str, routes: Router) -> Router {
    let traced = routes
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(telemetry::http::trace_layer());
    Router::new()
        .route(
            "/health",
            get(move || async move { Json(json!({ "status": "ok", "service": service })) }),
        )
        .route(
            "/stats",
            get(|| async { Json(telemetry::stats().snapshot()) }),
        )
        .route(
            "/metrics",
            get(|| async {
                (
                    [(CONTENT_TYPE, telemetry::metrics::CONTENT_TYPE)],
                    telemetry::metrics::encode(),
                )
            }),
        )
        .merge(traced)
}

async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("there is no {method} {}", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not accept {method}", uri.path()),
    )
}

/// Binds `listen` and serves `app` until SIGINT or SIGTERM, then drains.
pub async fn serve(service: &str, listen: SocketAddr, app: Router) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await.map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!("{service} cannot listen on {listen}: {err}"),
        )
    })?;
    tracing::info!(%listen, "{service} is listening");
    serve_on(listener, app, shutdown_signal()).await?;
    tracing::info!("{service} has drained its requests and stopped");
    Ok(())
}

/// Serves `app` on an already bound listener until `shutdown` completes;
/// requests in flight then finish before this returns.
pub async fn serve_on(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM: what a terminal and a
/// process supervisor send.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// The address a service listens on by default.
pub fn default_listen(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
