//! Serving the collector's two routers: bound listeners, timeouts on every
//! connection, and a graceful shutdown on Ctrl-C or SIGTERM.
//!
//! The same as the shop's services are served (`shop::server`), without
//! depending on the shop: a client cannot keep a connection open for good by
//! sending slowly or not at all. axum's `serve` gives hyper no timer, and
//! without one hyper enforces no timeout at all; so each connection is
//! hyper's own HTTP/1 connection, given tokio's timer, with hyper-util's
//! graceful shutdown, and the body's deadline is tower-http's.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// How long a client has to send a request's head (request line and
/// headers), and how long a kept-alive connection may wait idle for its
/// next one: hyper runs one timer for both. A head is a few hundred bytes
/// that a client sends at once; five seconds leaves room for a couple of
/// TCP retransmissions, and an exporter that comes back later than that
/// pays one handshake.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request's body may take to arrive once it is read. An OTLP
/// exporter gives up on a request after 10 s (the default of
/// `OTEL_EXPORTER_OTLP_TIMEOUT`), so a batch still arriving after that
/// comes from a client that no longer waits for the answer.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The address the collector listens on by default: `port` on loopback.
pub fn default_listen(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Serves `app` on an already bound listener until `shutdown` completes,
/// holding every connection to [`HEADER_READ_TIMEOUT`] and
/// [`BODY_READ_TIMEOUT`]; then stops accepting, lets the requests in
/// flight finish, and returns.
pub async fn serve_on(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app.layer(RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connections = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: the listener itself is fine, and a
                    // collector that stopped here would stop for everyone.
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
            // connection, is the client's business, not the collector's.
            if let Err(err) = connection.await {
                tracing::debug!(%err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
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
