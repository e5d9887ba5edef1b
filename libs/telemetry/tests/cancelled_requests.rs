//! A request dropped before it was answered (its client went away, so
//! hyper dropped the handler's future) ends its server span with
//! `error.type = "cancelled"` and the status ERROR, and no status code,
//! since none was sent; an answered request's span says nothing of the
//! kind. The request metrics count the answered one only: no status is
//! made up for the other.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use telemetry::Settings;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Bounds a wait that only a failure makes long.
const DEADLINE: Duration = Duration::from_secs(30);

/// A span attribute as text.
fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// Where the handler that never answers is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handler {
    NotStarted,
    Waiting,
    Dropped,
}

/// Says the handler was dropped, when it is.
struct ReportsItsDrop(watch::Sender<Handler>);

impl Drop for ReportsItsDrop {
    fn drop(&mut self) {
        self.0.send_replace(Handler::Dropped);
    }
}

/// `/answered` answers; `/never` waits for ever, reporting to `handler`.
fn routes(handler: watch::Sender<Handler>) -> Router {
    Router::new()
        .route("/answered", get(|| async { "answered" }))
        .route(
            "/never",
            get(move || {
                let report = ReportsItsDrop(handler.clone());
                async move {
                    report.0.send_replace(Handler::Waiting);
                    std::future::pending::<()>().await;
                    "never"
                }
            }),
        )
}

#[test]
fn a_request_dropped_before_its_answer_ends_its_span_cancelled() {
    let exporter = InMemorySpanExporter::default();
    let provider = telemetry::tracer_provider("waiter", Some(exporter.clone()));
    let (subscriber, _log_writers) = telemetry::subscriber(&Settings::quiet("waiter"), &provider);
    let default = tracing::subscriber::set_default(subscriber);
    // One thread: when the test hears that the handler was dropped, the
    // server has finished dropping the request, its span included.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(answer_one_and_abandon_one());
    drop(runtime);
    drop(default);
    provider.force_flush().expect("the spans are exported");

    let spans = exporter.get_finished_spans().expect("the exported spans");
    let never = server_span(&spans, "GET /never");
    assert_eq!(
        attr(never, "error.type").as_deref(),
        Some("cancelled"),
        "the span of a request dropped before its answer: {never:#?}"
    );
    assert!(
        matches!(never.status, Status::Error { .. }),
        "a cancelled request's span is failed: {:?}",
        never.status
    );
    assert_eq!(
        attr(never, "http.response.status_code"),
        None,
        "no status was sent, so none is recorded"
    );
    let answered = server_span(&spans, "GET /answered");
    assert_eq!(
        attr(answered, "error.type"),
        None,
        "an answered request is no cancellation: {answered:#?}"
    );
    assert!(
        !matches!(answered.status, Status::Error { .. }),
        "an answered request's span is not failed: {:?}",
        answered.status
    );
    let metrics = telemetry::metrics::encode();
    assert!(
        metrics.contains(r#"http_route="/answered",http_response_status_code="200""#),
        "the answered request is counted: {metrics}"
    );
    assert!(
        !metrics.contains(r#"http_route="/never""#),
        "a request with no answer has no status to count it under: {metrics}"
    );
}

/// Serves [`routes`] on loopback with server spans; asks `/answered`, then
/// asks `/never` and goes away once its handler waits, and returns when
/// the server has dropped that handler.
async fn answer_one_and_abandon_one() {
    let handler = watch::Sender::new(Handler::NotStarted);
    let app = telemetry::http::with_server_spans(routes(handler.clone()));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let base = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let answered = client
        .get(format!("{base}/answered"))
        .send()
        .await
        .expect("GET /answered is answered");
    assert_eq!(answered.status(), 200, "GET /answered is served");

    let abandoned = tokio::spawn(client.get(format!("{base}/never")).send());
    let mut seen = handler.subscribe();
    let waiting = tokio::time::timeout(DEADLINE, seen.wait_for(|h| *h == Handler::Waiting));
    assert!(
        waiting.await.is_ok_and(|waits| waits.is_ok()),
        "GET /never did not reach its handler in {DEADLINE:?}: {:?}",
        *seen.borrow()
    );
    // The client goes away: its connection closes with the request.
    abandoned.abort();
    let dropped = tokio::time::timeout(DEADLINE, seen.wait_for(|h| *h == Handler::Dropped));
    assert!(
        dropped.await.is_ok_and(|dropped| dropped.is_ok()),
        "the server did not drop the handler of a request whose client went away, \
         in {DEADLINE:?}: {:?}",
        *seen.borrow()
    );
}

/// The one server span named `name`.
fn server_span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|span| span.span_kind == SpanKind::Server && span.name == name)
        .unwrap_or_else(|| panic!("no server span {name} among {spans:#?}"))
}
