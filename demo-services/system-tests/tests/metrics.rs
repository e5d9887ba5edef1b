//! `GET /metrics`: RED metrics from the server spans and the actions the
//! services already make, as OpenMetrics text, with bounded labels and an
//! exemplar that leads from a bucket to a trace.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use in_process::{Service, Spans};
use opentelemetry::trace::SpanKind;

/// A service with the shop's defaults, asked each of `paths`; its spans and
/// its `/metrics` text.
fn scrape(paths: &[&str]) -> (Spans, String, String) {
    // Route names of this test's own, so that the process's other tests
    // (which share the process's metrics) do not count here.
    let routes = Router::new()
        .route("/metered/{talk_id}", get(|| async { "a talk" }))
        .route(
            "/metered-broken",
            get(|| async {
                actions::run("metered_step", |act| {
                    act.fail("on purpose");
                    Err::<(), _>("failed")
                })
                .ok();
                (StatusCode::INTERNAL_SERVER_ERROR, "it broke")
            }),
        );
    let service = Service::spawn("metered", shop::server::with_defaults("metered", routes));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (text, content_type) = runtime.block_on(async {
        for path in paths {
            reqwest::get(format!("{}{path}", service.url()))
                .await
                .expect("the service answers");
        }
        let response = reqwest::get(format!("{}/metrics", service.url()))
            .await
            .expect("/metrics answers");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (response.text().await.unwrap(), content_type)
    });
    (Spans::stop_all([service]), text, content_type)
}

/// The value of the sample line that starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line[series.len()..].split_whitespace().next())
        .and_then(|value| value.parse().ok())
}

#[test]
fn requests_are_counted_by_route_and_status_with_an_exemplar() {
    let (spans, text, content_type) =
        scrape(&["/metered/7", "/metered/8", "/metered/9", "/metered-broken"]);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics ends with # EOF:\n{text}"
    );
    assert!(text.contains("# TYPE http_server_request_duration_seconds histogram"));

    let ok = r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/metered/{talk_id}",http_response_status_code="200"}"#;
    assert_eq!(
        sample(&text, ok),
        Some(3.0),
        "three requests of one route:\n{text}"
    );
    let broken = r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/metered-broken",http_response_status_code="500"}"#;
    assert_eq!(
        sample(&text, broken),
        Some(1.0),
        "the error, by its status:\n{text}"
    );
    // The route template is the label, never the path.
    assert!(
        !text.contains("/metered/7"),
        "a raw path became a label:\n{text}"
    );

    // Exemplars lead to traces that exist.
    let trace_ids: Vec<String> = spans
        .of("metered")
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .map(|s| s.span_context.trace_id().to_string())
        .collect();
    let exemplars: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("/metered/{talk_id}") && line.contains("_bucket"))
        .filter_map(|line| line.split("trace_id=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(!exemplars.is_empty(), "a bucket with an exemplar:\n{text}");
    for exemplar in exemplars {
        assert!(
            trace_ids.iter().any(|id| id == exemplar),
            "the exemplar {exemplar} is the trace of a request: {trace_ids:?}"
        );
    }

    // Actions are counted too, by outcome.
    let failed = r#"actions_duration_seconds_count{action="metered_step",outcome="failure"}"#;
    assert_eq!(sample(&text, failed), Some(1.0), "{text}");
}
