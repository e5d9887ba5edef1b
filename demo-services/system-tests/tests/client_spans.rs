//! Every outgoing call gets its client span from the reqwest middleware in
//! `telemetry::client` (through `shop::Peer`): kind client, named after
//! the method and the peer, carrying the trace to the server, with
//! OpenTelemetry's HTTP client attributes, and failed on a 5xx or when the
//! peer cannot be reached.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use in_process::{Service, Spans, attr};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use shop::Peer;

/// A caller whose `GET /call/{path}` asks the callee `GET /{path}`, asked
/// once for each of `paths`; every span of both. `callee_url` replaces the
/// callee's address (an unreachable one, say).
fn call(paths: &[&str], callee_url: Option<&str>) -> Spans {
    let callee_routes = Router::new()
        .route("/fine", get(|| async { "fine" }))
        .route(
            "/broken",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "it broke") }),
        );
    let callee = Service::spawn(
        "callee",
        shop::server::with_defaults("callee", callee_routes),
    );
    let peer = Peer::new(
        "callee",
        callee_url.map_or_else(|| callee.url(), str::to_owned),
    );
    let caller_routes = Router::new()
        .route(
            "/call/{path}",
            get(
                |State(peer): State<Peer>,
                 axum::extract::Path(path): axum::extract::Path<String>| async move {
                    peer.get::<serde_json::Value>(&format!("/{path}"))
                        .await
                        .map(|_| "called")
                },
            ),
        )
        .with_state(peer);
    let caller = Service::spawn(
        "caller",
        shop::server::with_defaults("caller", caller_routes),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for path in paths {
            reqwest::get(format!("{}/call/{path}", caller.url()))
                .await
                .expect("the caller answers");
        }
    });
    Spans::stop_all([caller, callee])
}

fn client_spans(spans: &Spans) -> Vec<&SpanData> {
    spans
        .of("caller")
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect()
}

#[test]
fn a_client_span_carries_the_conventions_and_the_trace() {
    let spans = call(&["fine"], None);
    let [client] = client_spans(&spans)[..] else {
        panic!("one client span: {:?}", client_spans(&spans));
    };
    assert_eq!(client.name, "GET callee");
    assert_eq!(attr(client, "peer.service").as_deref(), Some("callee"));
    assert_eq!(attr(client, "http.request.method").as_deref(), Some("GET"));
    let url = attr(client, "url.full").expect("url.full");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/fine"),
        "{url}"
    );
    assert_eq!(attr(client, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        attr(client, "server.port"),
        url.trim_start_matches("http://127.0.0.1:")
            .split('/')
            .next()
            .map(str::to_owned)
    );
    assert_eq!(
        attr(client, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(attr(client, "error.type"), None);

    // The callee's server span is the client span's child, in its trace.
    let server = spans
        .of("callee")
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("the callee's server span");
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert_eq!(
        server.span_context.trace_id(),
        client.span_context.trace_id()
    );
}

#[test]
fn a_5xx_or_an_unreachable_peer_fails_the_client_span() {
    let spans = call(&["broken"], None);
    let [client] = client_spans(&spans)[..] else {
        panic!("one client span");
    };
    assert_eq!(
        attr(client, "http.response.status_code").as_deref(),
        Some("500")
    );
    assert_eq!(attr(client, "error.type").as_deref(), Some("500"));
    assert!(
        matches!(client.status, Status::Error { .. }),
        "{:?}",
        client.status
    );

    // Port 1 on loopback: nothing listens there.
    let spans = call(&["fine"], Some("http://127.0.0.1:1"));
    let [client] = client_spans(&spans)[..] else {
        panic!("one client span");
    };
    assert_eq!(attr(client, "error.type").as_deref(), Some("connect"));
    assert_eq!(attr(client, "http.response.status_code"), None);
    assert!(matches!(client.status, Status::Error { .. }));
}
