//! Methods a client makes up are `_OTHER` in server spans and in the
//! request metrics, as OpenTelemetry's HTTP conventions say, and the method
//! as sent stays on the span: a client that invents a method per request
//! adds no span name and no metric series.

use std::collections::BTreeSet;

use axum::Router;
use axum::http::Method;
use axum::routing::any;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use telemetry::Settings;
use tokio::net::TcpListener;

/// The labels after the method of every request to `/brew` (all answered).
const ANSWERED_BREW: &str = r#"http_route="/brew",http_response_status_code="200""#;

/// A span attribute as text.
fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// The request-count series of `route`: each one's labels and count.
fn request_counts(text: &str, route: &str) -> Vec<(String, f64)> {
    let route_label = format!("http_route=\"{route}\"");
    text.lines()
        .filter_map(|line| line.strip_prefix("http_server_request_duration_seconds_count{"))
        .filter(|rest| rest.contains(&route_label))
        .filter_map(|rest| rest.split_once("} "))
        .map(|(labels, value)| {
            let count = value
                .split_whitespace()
                .next()
                .and_then(|count| count.parse().ok())
                .unwrap_or_else(|| panic!("a count after {labels}: {value:?}"));
            (labels.to_owned(), count)
        })
        .collect()
}

#[test]
fn made_up_methods_are_one_other_series_and_keep_their_name_on_the_span() {
    // Fifty inventions, and `get`: methods are case-sensitive, so it is no
    // GET. One real GET to tell the two apart.
    let unknown: Vec<String> = (0..50)
        .map(|n| format!("BREW{n}"))
        .chain(["get".to_owned()])
        .collect();
    let exporter = InMemorySpanExporter::default();
    let provider = telemetry::tracer_provider("brewery", Some(exporter.clone()));
    let (subscriber, _log_writers) = telemetry::subscriber(&Settings::quiet("brewery"), &provider);
    let default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let app = Router::new()
            .route("/brew", any(|| async { "brewed" }))
            .layer(telemetry::http::trace_layer());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let url = format!("http://{}/brew", listener.local_addr().expect("bound"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        for method in unknown.iter().map(String::as_str).chain(["GET"]) {
            let method = Method::from_bytes(method.as_bytes()).expect("a method token");
            let response = client
                .request(method.clone(), &url)
                .send()
                .await
                .unwrap_or_else(|err| panic!("{method} /brew was not answered: {err}"));
            assert_eq!(response.status(), 200, "{method} /brew is served");
        }
    });
    // The server's tasks end with the runtime, and with them every request's
    // span: only then is each one counted and handed to the exporter.
    drop(runtime);
    drop(default);
    provider.force_flush().expect("the spans are exported");

    let spans = exporter.get_finished_spans().expect("the exported spans");
    let server: Vec<&SpanData> = spans
        .iter()
        .filter(|span| span.span_kind == SpanKind::Server)
        .collect();
    assert_eq!(server.len(), 52, "one server span per request");
    let (other, known): (Vec<&SpanData>, Vec<&SpanData>) = server
        .into_iter()
        .partition(|span| attr(span, "http.request.method").as_deref() == Some("_OTHER"));
    let originals: BTreeSet<String> = other
        .iter()
        .map(|span| {
            assert_eq!(span.name, "HTTP /brew", "no made-up method in a span name");
            attr(span, "http.request.method_original")
                .unwrap_or_else(|| panic!("an _OTHER span keeps the method as sent: {span:?}"))
        })
        .collect();
    assert_eq!(
        originals,
        unknown.iter().cloned().collect::<BTreeSet<_>>(),
        "every unknown method is _OTHER, each with its own original"
    );
    let [get] = known.as_slice() else {
        panic!("only the GET keeps its method: {known:?}");
    };
    assert_eq!(attr(get, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(get.name, "GET /brew");
    assert_eq!(
        attr(get, "http.request.method_original"),
        None,
        "a known method has no original apart from itself"
    );

    let text = telemetry::metrics::encode();
    let mut counts = request_counts(&text, "/brew");
    counts.sort_by(|a, b| a.0.cmp(&b.0));
    let series = |method: &str| format!("http_request_method=\"{method}\",{ANSWERED_BREW}");
    assert_eq!(
        counts,
        [(series("GET"), 1.0), (series("_OTHER"), 51.0)],
        "one _OTHER series for every unknown method:\n{text}"
    );
    assert!(
        !text.contains("BREW") && !text.contains(r#"http_request_method="get""#),
        "a made-up method became a label:\n{text}"
    );
}
