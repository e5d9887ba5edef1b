//! Serving a service: the routes every service has, limits, tracing, and a
//! graceful shutdown that lets requests in flight finish.
//!
//! Every connection is held to timeouts ([`ConnectionTimeouts`]), so that a
//! client cannot keep one open for good by sending slowly or not at all.
//! axum's `serve` gives hyper no timer, and without one hyper enforces no
//! timeout at all; so the services are served by hyper's own HTTP/1
//! connection, given tokio's timer, with hyper-util's graceful shutdown,
//! and the body's deadline is tower-http's.

use std::error::Error;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Uri};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::error::ApiError;

/// Request bodies larger than this are refused with 413: no endpoint of the
/// shop needs more, and an unbounded body is a memory exhaustion waiting to
/// happen.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a client has to send a request's head (request line and
/// headers), and how long a kept-alive connection may wait for its next
/// one: hyper runs one timer for both, from the moment the connection waits
/// for a head. A head is a few hundred bytes that a client sends at once;
/// five seconds leaves room for a couple of TCP retransmissions, and a
/// client that comes back later than that pays one handshake.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request's body may take to arrive once its handler reads it.
/// The largest body any server here accepts is the collector's batch of
/// spans; an OTLP exporter gives up on a request after 10 s (the default of
/// `OTEL_EXPORTER_OTLP_TIMEOUT`), so a body still arriving after that comes
/// from a client that no longer waits for the answer.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long each part of a request may take: what [`serve_with_timeouts`]
/// holds each connection to (the constants give the defaults, and why).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// For a request's head to arrive, and for an idle kept-alive
    /// connection's next request to begin; past it, the connection is closed.
    pub header_read: Duration,
    /// For a request's body to arrive; past it, reading the body fails,
    /// which the shop answers with 408 ([`is_body_timeout`]) before the
    /// connection is closed.
    pub body_read: Duration,
}

impl Default for ConnectionTimeouts {
    fn default() -> Self {
        Self {
            header_read: HEADER_READ_TIMEOUT,
            body_read: BODY_READ_TIMEOUT,
        }
    }
}

/// Adds what every service has around its own routes: a server span per
/// request (continuing the caller's trace, and saying so when the request
/// is dropped before it is answered), the body limit, JSON answers for
/// unknown routes and methods, `GET /health`, `GET /stats` (the
/// statistics of the service's actions) and `GET /metrics` (RED metrics
/// with exemplars, as OpenMetrics text). The last three are outside
/// tracing, so that probes and scrapes do not flood the trace store.
pub fn with_defaults(service: &'static str, routes: Router) -> Router {
    let traced = telemetry::http::with_server_spans(
        routes
            .fallback(unknown_route)
            .method_not_allowed_fallback(wrong_method)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    );
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
        // axum sets a 405 handler only on the routes registered before it,
        // and these three are not in `traced`: without this, `POST /health`
        // got axum's own 405, with an empty body instead of a JSON reason.
        .method_not_allowed_fallback(wrong_method)
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
/// requests in flight then finish before this returns. Connections are held
/// to the default [`ConnectionTimeouts`].
pub async fn serve_on(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_timeouts(listener, app, shutdown, ConnectionTimeouts::default()).await
}

/// Serves `app` on `listener` until `shutdown` completes, holding every
/// connection to `timeouts`; then stops accepting, lets the requests in
/// flight finish, and returns.
pub async fn serve_with_timeouts(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    timeouts: ConnectionTimeouts,
) -> std::io::Result<()> {
    let app = app.layer(RequestBodyTimeoutLayer::new(timeouts.body_read));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    let connections = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: the listener itself is fine, and a
                    // server that stopped here would stop for everyone.
                    tracing::warn!(%err, "could not accept a connection");
                    tokio::task::yield_now().await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A client that goes away, or a timeout that closes its
            // connection, is the client's business, not the server's.
            if let Err(err) = connection.await {
                tracing::debug!(%err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

/// Whether reading a request's body failed because it arrived too late (the
/// [`ConnectionTimeouts::body_read`] deadline), looking through the errors
/// that wrapped it on the way to an extractor's rejection.
pub fn is_body_timeout(err: &(dyn Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = err.source();
    }
    false
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
