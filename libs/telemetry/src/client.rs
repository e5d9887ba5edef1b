//! A client span for every outgoing HTTP call, from a reqwest middleware,
//! with the current trace context injected into the request:
//!
//! ```no_run
//! # async fn call() -> Result<(), reqwest_middleware::Error> {
//! let client = telemetry::client::traced(reqwest::Client::new());
//! let response = client.get("http://127.0.0.1:4001/talks").send().await?;
//! # Ok(()) }
//! ```
//!
//! reqwest-tracing is the ecosystem's tracing middleware for
//! reqwest-middleware, but no release of it supports the OpenTelemetry 0.33
//! that this workshop pins (0.7.1 stops at 0.32): [`ClientSpans`] is the
//! one middleware it would have given, with the same conventions.

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next, Result};
use tracing::{Instrument, field, info_span};

use crate::propagation;

/// `client` with [`ClientSpans`] in front of it.
pub fn traced(client: reqwest::Client) -> ClientWithMiddleware {
    ClientBuilder::new(client).with(ClientSpans).build()
}

/// The service a call goes to, for the span's name and `peer.service`:
/// `client.get(url).with_extension(PeerName("inventory".into()))`.
#[derive(Clone, Debug)]
pub struct PeerName(pub String);

/// The middleware: a `client` span around each call, named `METHOD` (or
/// `METHOD peer` given a [`PeerName`]), a child of the current span, with
/// its context in the request's `traceparent`, and OpenTelemetry's HTTP
/// client attributes (`http.request.method`, `url.full`, `server.address`,
/// `server.port`, `http.response.status_code`, `error.type`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientSpans;

#[async_trait::async_trait]
impl Middleware for ClientSpans {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let method = request.method().clone();
        let peer = extensions.get::<PeerName>().map(|peer| peer.0.clone());
        let url = request.url();
        let span = info_span!(
            "http.client",
            otel.name = %peer.as_ref().map_or_else(|| method.to_string(), |p| format!("{method} {p}")),
            otel.kind = "client",
            peer.service = peer,
            http.request.method = %method,
            url.full = %url,
            server.address = url.host_str(),
            server.port = url.port_or_known_default(),
            http.response.status_code = field::Empty,
            error.type = field::Empty,
            otel.status_code = field::Empty,
        );
        // The server's span becomes a child of this one.
        propagation::inject(&span, request.headers_mut());
        let outcome = next.run(request, extensions).instrument(span.clone()).await;
        match &outcome {
            Ok(response) => {
                let status = response.status();
                span.record("http.response.status_code", status.as_u16());
                if status.is_server_error() {
                    span.record("error.type", status.as_str());
                    span.record("otel.status_code", "ERROR");
                }
            }
            Err(err) => {
                let kind = match err {
                    reqwest_middleware::Error::Reqwest(err) if err.is_timeout() => "timeout",
                    reqwest_middleware::Error::Reqwest(err) if err.is_connect() => "connect",
                    _ => "_OTHER",
                };
                span.record("error.type", kind);
                span.record("otel.status_code", "ERROR");
            }
        }
        outcome
    }
}
