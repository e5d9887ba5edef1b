//! Every service's server spans come from tower-http's `TraceLayer`, set up
//! once in `telemetry::http`: named by route, kind server, continuing the
//! caller's trace, with OpenTelemetry's HTTP semantic-convention attributes.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use in_process::{Service, Spans, attr};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;

/// A service with the shop's defaults around two routes, asked `paths`
/// with a caller's `traceparent`; its spans.
fn serve(paths: &[&str]) -> Spans {
    let routes = Router::new()
        .route("/talks/{talk_id}", get(|| async { "a talk" }))
        .route(
            "/broken",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "it broke") }),
        );
    let service = Service::spawn("probe", shop::server::with_defaults("probe", routes));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for path in paths {
            client
                .get(format!("{}{path}", service.url()))
                .header(
                    "traceparent",
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                )
                .send()
                .await
                .expect("the service answers");
        }
    });
    Spans::stop_all([service])
}

fn server_spans(spans: &Spans) -> Vec<&SpanData> {
    spans
        .of("probe")
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect()
}

#[test]
fn a_server_span_is_named_by_its_route_and_carries_the_conventions() {
    let spans = serve(&["/talks/7", "/talks/8"]);
    let server = server_spans(&spans);
    assert_eq!(server.len(), 2, "one server span per request");
    for (span, path) in server.iter().zip(["/talks/7", "/talks/8"]) {
        // The route template, not the path: two talks are one operation.
        assert_eq!(span.name, "GET /talks/{talk_id}");
        assert_eq!(attr(span, "http.request.method").as_deref(), Some("GET"));
        assert_eq!(
            attr(span, "http.route").as_deref(),
            Some("/talks/{talk_id}")
        );
        assert_eq!(attr(span, "url.path").as_deref(), Some(path));
        assert_eq!(attr(span, "server.address").as_deref(), Some("127.0.0.1"));
        assert!(
            attr(span, "server.port").is_some_and(|p| p.parse::<u16>().is_ok_and(|p| p > 0)),
            "server.port: {:?}",
            attr(span, "server.port")
        );
        assert_eq!(
            attr(span, "http.response.status_code").as_deref(),
            Some("200")
        );
        assert_eq!(attr(span, "error.type"), None, "a 200 is no error");
        // The caller's trace goes on.
        assert_eq!(
            span.span_context.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(span.parent_span_id.to_string(), "b7ad6b7169203331");
    }
}

#[test]
fn a_5xx_marks_the_span_failed_and_a_4xx_does_not() {
    let spans = serve(&["/broken", "/nowhere"]);
    let server = server_spans(&spans);
    let broken = server
        .iter()
        .find(|s| s.name == "GET /broken")
        .expect("the /broken span");
    assert_eq!(
        attr(broken, "http.response.status_code").as_deref(),
        Some("500")
    );
    assert_eq!(attr(broken, "error.type").as_deref(), Some("500"));
    assert!(
        matches!(broken.status, Status::Error { .. }),
        "{:?}",
        broken.status
    );

    // No route matched: the span is named by the method alone, as the
    // conventions say, and a 404 is the client's mistake, not ours.
    let missing = server
        .iter()
        .find(|s| attr(s, "url.path").as_deref() == Some("/nowhere"))
        .expect("the /nowhere span");
    assert_eq!(missing.name, "GET");
    assert_eq!(attr(missing, "http.route"), None);
    assert_eq!(
        attr(missing, "http.response.status_code").as_deref(),
        Some("404")
    );
    assert_eq!(attr(missing, "error.type"), None);
    assert!(!matches!(missing.status, Status::Error { .. }));
}
