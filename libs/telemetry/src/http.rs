//! A server span for every HTTP request, from tower-http's `TraceLayer`,
//! configured here once for every service:
//!
//! ```no_run
//! # let router: axum::Router = axum::Router::new();
//! let app = telemetry::http::with_server_spans(router);
//! ```
//!
//! The framework opens and closes the span around each request; this module
//! only says what the span is: named `METHOD /route` after the route
//! template (not the raw path, so that `/talks/1` and `/talks/2` are one
//! operation), kind server, a child of the caller's span when the request
//! carries a `traceparent`, with OpenTelemetry's HTTP semantic-convention
//! attributes.
//!
//! A method the conventions do not know (they know RFC 9110's and PATCH) is
//! `_OTHER` in `http.request.method` and `HTTP` in the span's name, with the
//! method as sent in `http.request.method_original`: anyone can make up a
//! method per request, and a span name or metric label per made-up method
//! grows without bound. `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` (a comma
//! separated, case-sensitive list) replaces the known methods, as the
//! conventions ask, for a service that takes others (WebDAV's, say).
//!
//! A request dropped before it was answered (its client went away, or
//! gave up waiting: hyper then drops the handler's future at whichever
//! `.await` it was on) ends its span with `error.type = "cancelled"` and
//! the status ERROR ([`record_cancellation`]), so that a trace shows the
//! work nobody waited for. Such a span has no `http.response.status_code`:
//! none was sent.

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::MatchedPath;
use axum::middleware::Next;
use http::uri::Authority;
use http::{Request, Response};
use tower_http::classify::{ServerErrorsAsFailures, ServerErrorsFailureClass, SharedClassifier};
use tower_http::trace::{MakeSpan, OnFailure, OnResponse, TraceLayer};
use tracing::{Span, field, info_span};

use crate::propagation;

/// The target of every server span, which `init`'s filter keeps on.
pub(crate) const TARGET: &str = module_path!();

/// The name of every server span (their `otel.name` is `METHOD /route`):
/// how other layers, such as the metrics', know one.
pub(crate) const SERVER_SPAN: &str = "http.server";

/// `http.request.method` of a request whose method is not a known one.
pub const OTHER_METHOD: &str = "_OTHER";

/// The `{method}` of a span's name when its method is not a known one.
const OTHER_METHOD_IN_NAME: &str = "HTTP";

/// The methods OpenTelemetry's HTTP conventions know by default: RFC
/// 9110's, and PATCH (RFC 5789).
const DEFAULT_KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Where the conventions let the known methods be replaced.
const KNOWN_METHODS_VARIABLE: &str = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS";

/// The value of `http.request.method` (and of the metrics' method label)
/// for a request's `method`: the method itself when it is known (exactly:
/// methods are case-sensitive, so `get` is not `GET`), [`OTHER_METHOD`]
/// otherwise.
pub fn known_method(method: &str) -> &'static str {
    known_among(known_methods(), method)
}

fn known_among<'a>(known: &'a [String], method: &str) -> &'a str {
    known
        .iter()
        .find(|candidate| candidate.as_str() == method)
        .map_or(OTHER_METHOD, String::as_str)
}

fn known_methods() -> &'static [String] {
    static KNOWN: OnceLock<Vec<String>> = OnceLock::new();
    KNOWN.get_or_init(|| parse_known_methods(std::env::var(KNOWN_METHODS_VARIABLE).ok().as_deref()))
}

/// The known methods a setting of [`KNOWN_METHODS_VARIABLE`] lists (the
/// whole list, not additions to the defaults); the defaults when it is
/// unset or lists none.
fn parse_known_methods(setting: Option<&str>) -> Vec<String> {
    let listed: Vec<String> = setting
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|method| !method.is_empty())
        .map(str::to_owned)
        .collect();
    if listed.is_empty() {
        Vec::from(DEFAULT_KNOWN_METHODS.map(str::to_owned))
    } else {
        listed
    }
}

/// `error.type` of a server span whose request was dropped before it was
/// answered.
pub const CANCELLED: &str = "cancelled";

/// `router` with a server span for every request: the [`trace_layer`], and
/// inside it [`record_cancellation`], so that a request dropped before it
/// is answered says so on its span.
pub fn with_server_spans<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router
        .layer(axum::middleware::from_fn(record_cancellation))
        .layer(trace_layer())
}

/// A middleware for inside the [`trace_layer`]: its future, polled in the
/// request's server span, marks that span `error.type = "cancelled"` (and
/// failed) if it is dropped before the response is ready.
///
/// A tower layer of its own would need `tower` itself, which no crate here
/// depends on; axum's `from_fn` makes this function one.
pub async fn record_cancellation(
    request: axum::extract::Request,
    next: Next,
) -> axum::response::Response {
    // The trace layer enters the server span around every poll of this
    // future: it is the current span here, and this handle keeps it for
    // the drop, which happens outside any poll.
    let mut unanswered = Unanswered {
        span: Some(Span::current()),
    };
    let response = next.run(request).await;
    unanswered.span = None;
    response
}

/// A request still waiting for its response, in its server span.
struct Unanswered {
    /// `None` once the response is ready.
    span: Option<Span>,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        let Some(span) = self.span.take() else { return };
        span.record("otel.status_code", "ERROR");
        if std::thread::panicking() {
            // Dropped by a panic on its way up, not by a client that left.
            span.record("error.type", "_OTHER");
            return;
        }
        span.record("error.type", CANCELLED);
        span.in_scope(|| {
            tracing::info!("the request was dropped before it was answered: its client went away");
        });
    }
}

/// The layer [`trace_layer`] returns.
pub type ServerTraceLayer = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    ServerSpan,
    (),
    RecordResponse,
    (),
    (),
    RecordFailure,
>;

/// The server spans of every service: `router.layer(trace_layer())`, or,
/// with cancellations recorded, [`with_server_spans`].
pub fn trace_layer() -> ServerTraceLayer {
    TraceLayer::new_for_http()
        .make_span_with(ServerSpan)
        .on_request(())
        .on_response(RecordResponse)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(RecordFailure)
}

/// Makes a request's server span, continuing the caller's trace.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerSpan;

impl<B> MakeSpan<B> for ServerSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let sent = request.method().as_str();
        let method = known_method(sent);
        let original = (method != sent).then_some(sent);
        let in_name = if method == OTHER_METHOD {
            OTHER_METHOD_IN_NAME
        } else {
            method
        };
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let (address, port) = server_address(request);
        // ANCHOR: server_span
        let span = info_span!(
            SERVER_SPAN,
            otel.name = %route.map_or_else(|| in_name.to_owned(), |r| format!("{in_name} {r}")),
            otel.kind = "server",
            http.request.method = method,
            http.request.method_original = original,
            http.route = route,
            url.path = request.uri().path(),
            server.address = address,
            server.port = port,
            http.response.status_code = field::Empty,
            error.type = field::Empty,
            otel.status_code = field::Empty,
        );
        propagation::continue_from(&span, request.headers());
        // ANCHOR_END: server_span
        span
    }
}

/// The host and port the client addressed, from the request's authority
/// or its `Host` header, as OpenTelemetry's `server.address` and
/// `server.port` want them.
fn server_address<B>(request: &Request<B>) -> (Option<String>, Option<u16>) {
    let authority = request.uri().authority().cloned().or_else(|| {
        let host = request.headers().get(http::header::HOST)?.to_str().ok()?;
        Authority::from_str(host).ok()
    });
    match authority {
        Some(authority) => (Some(authority.host().to_owned()), authority.port_u16()),
        None => (None, None),
    }
}

/// Records the response's status on the span; a 5xx marks it failed.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordResponse;

impl<B> OnResponse<B> for RecordResponse {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            // Only 5xx marks the span failed: a 4xx is the client's mistake,
            // answered correctly (OpenTelemetry's HTTP conventions agree).
            span.record("error.type", status.as_str());
            span.record("otel.status_code", "ERROR");
        }
        // One line per request for the logs, in the request's span.
        span.in_scope(|| {
            tracing::info!(
                status = status.as_u16(),
                elapsed_ms = latency.as_secs_f64() * 1e3,
                "response"
            );
        });
    }
}

/// Marks the span failed when the service answered with no response at all
/// (a 5xx response is already recorded by [`RecordResponse`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordFailure;

impl OnFailure<ServerErrorsFailureClass> for RecordFailure {
    fn on_failure(&mut self, failure: ServerErrorsFailureClass, _latency: Duration, span: &Span) {
        if let ServerErrorsFailureClass::Error(_) = failure {
            // The conventions' value for an error with no better name.
            span.record("error.type", "_OTHER");
            span.record("otel.status_code", "ERROR");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{OTHER_METHOD, known_among, parse_known_methods};

    #[test]
    fn only_the_known_methods_are_themselves() {
        let known = parse_known_methods(None);
        for method in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ] {
            assert_eq!(known_among(&known, method), method, "{method} is known");
        }
        for method in ["BREW", "get", "PROPFIND", ""] {
            assert_eq!(
                known_among(&known, method),
                OTHER_METHOD,
                "{method:?} is not known"
            );
        }
    }

    #[test]
    fn the_setting_replaces_the_known_methods() {
        assert_eq!(parse_known_methods(None).len(), 9, "the defaults");
        assert_eq!(parse_known_methods(Some(" , ")).len(), 9, "none listed");
        let known = parse_known_methods(Some("GET, PROPFIND,,MKCOL"));
        assert_eq!(
            known,
            ["GET", "PROPFIND", "MKCOL"],
            "the whole list, trimmed, not added to the defaults"
        );
        assert_eq!(known_among(&known, "PROPFIND"), "PROPFIND");
        assert_eq!(known_among(&known, "POST"), OTHER_METHOD, "replaced");
    }
}
