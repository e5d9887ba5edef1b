//! The waterfall, rendered by a real browser: Debian's Chromium, headless.
//!
//! Chromium loads the trace page, runs its script, and dumps the resulting
//! DOM, in which the rows are counted; it also takes a screenshot, which is
//! checked to be a real PNG of the requested size (and kept under
//! `target/` for a person to look at).

use std::path::Path;

use chromium::{Chromium, png_size};
use prost::Message;

use crate::common::{self, failed, request, span};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waterfall_renders_one_row_per_span_in_chromium() {
    let collector = common::start(100).await;
    let spans = super::known_trace();
    let expected_rows = spans.len();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", collector.otlp))
        .header("content-type", "application/x-protobuf")
        .body(request("shop", spans).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let page = format!("{}/trace/{}", collector.ui, "07".repeat(16));

    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("waterfall");
    std::fs::create_dir_all(&scratch).unwrap();
    let Some(browser) = Chromium::find_or_skip(scratch.join("profile")) else {
        return;
    };
    let (dom, screenshot) = tokio::task::spawn_blocking(move || {
        let dom = browser.dump_dom(&page).expect("chromium dumps the DOM");
        let png = browser
            .screenshot(&page, (1280, 720), &scratch.join("waterfall.png"))
            .expect("chromium takes a screenshot");
        (dom, png)
    })
    .await
    .unwrap();

    // Count in the rendered page only, not in the script that renders it.
    let main = dom
        .split("<main")
        .nth(1)
        .and_then(|m| m.split("</main>").next())
        .unwrap_or("");
    let rows = main.matches("class=\"span-row").count();
    assert_eq!(
        rows, expected_rows,
        "one waterfall row per span; the page was:\n{dom}"
    );
    let on_path = main.matches("class=\"span-row on-path").count();
    assert_eq!(on_path, 3, "root, b and b1 are on the critical path");
    assert!(
        main.contains("class=\"critical\""),
        "the critical path is drawn"
    );
    assert_eq!(
        png_size(&screenshot),
        Some((1280, 720)),
        "a real 1280×720 PNG"
    );
    assert!(
        screenshot.len() > 10_000,
        "the screenshot has content, not a blank page"
    );
}

/// Loads `url` in headless Chromium: the `<main>` of the page its scripts
/// built, and a 1280×800 screenshot (kept as `target/tmp/ui/{name}.png` for
/// a person to look at). `None` when there is no Chromium here (never on
/// CI).
async fn look_at(url: String, name: &'static str) -> Option<String> {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui");
    std::fs::create_dir_all(&scratch).unwrap();
    let browser = Chromium::find_or_skip(scratch.join(format!("profile-{name}")))?;
    let (dom, png) = tokio::task::spawn_blocking(move || {
        let dom = browser.dump_dom(&url).expect("chromium dumps the DOM");
        let png = browser
            .screenshot(&url, (1280, 800), &scratch.join(format!("{name}.png")))
            .expect("chromium takes a screenshot");
        (dom, png)
    })
    .await
    .unwrap();
    assert_eq!(png_size(&png), Some((1280, 800)), "{name}: a real PNG");
    assert!(png.len() > 10_000, "{name}: the screenshot has content");
    let main = dom
        .split("<main")
        .nth(1)
        .and_then(|m| m.split("</main>").next())
        .unwrap_or("")
        .to_owned();
    assert!(
        !main.contains("<p class=\"error\">"),
        "{name}: the page shows an error:\n{main}"
    );
    Some(main)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_page_filters_as_its_form_says() {
    let collector = common::start(1_000).await;
    super::post_traces(&collector, 4).await;
    // Root spans last 1.1, 2.1, 3.1 and 4.1 ms; only the first one's root failed.
    let page = format!(
        "{}/?service=svc&operation=op1&minDuration=2ms&maxDuration=3500us",
        collector.ui
    );
    let Some(main) = look_at(page, "search").await else {
        return;
    };
    assert_eq!(main.matches("class=\"trace-row\"").count(), 2, "{main}");
    assert!(
        main.contains("name=\"minDuration\" size=\"8\" placeholder=\"100ms\" value=\"2ms\""),
        "the form shows the search it made: {main}"
    );
    let page = format!("{}/?service=svc&operation=op1&error=true", collector.ui);
    let main = look_at(page, "search-errors").await.unwrap();
    assert_eq!(main.matches("class=\"trace-row\"").count(), 1, "{main}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_traces_compare_span_by_span() {
    let collector = common::start(1_000).await;
    // A: root op1 10 ms, op2 2 ms, op3 1 ms. B: root 20 ms, op2 8 ms, no
    // op3, and an op4 A does not have.
    let a = vec![
        span(11, 1, None, 0, 10_000, 2),
        span(11, 2, Some(1), 1_000, 3_000, 3),
        span(11, 3, Some(1), 4_000, 5_000, 3),
    ];
    let b = vec![
        span(12, 1, None, 0, 20_000, 2),
        span(12, 2, Some(1), 1_000, 9_000, 3),
        span(12, 4, Some(1), 10_000, 11_000, 3),
    ];
    for spans in [a, b] {
        post_spans(&collector, "svc", spans).await;
    }
    let page = format!(
        "{}/compare/{}/{}",
        collector.ui,
        "0b".repeat(16),
        "0c".repeat(16)
    );
    let Some(main) = look_at(page, "compare").await else {
        return;
    };
    let count = |kind: &str| {
        main.matches(&format!("class=\"compare-row {kind}\""))
            .count()
    };
    assert_eq!(
        (
            count("slower"),
            count("only-a"),
            count("only-b"),
            count("same")
        ),
        (2, 1, 1, 0),
        "{main}"
    );
    assert!(main.contains("B is 10.0 ms slower than A"), "{main}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dependency_graph_is_built_from_the_spans() {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    let collector = common::start(1_000).await;
    // gw calls inv (which fails), and inv reads its SQLite database.
    let mut statement = span(20, 4, Some(3), 40, 60, 3);
    statement.attributes.push(KeyValue {
        key: "db.system.name".to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue("sqlite".to_owned())),
        }),
        ..KeyValue::default()
    });
    post_spans(
        &collector,
        "gw",
        vec![
            span(20, 1, None, 0, 100, 2),
            span(20, 2, Some(1), 10, 90, 3),
        ],
    )
    .await;
    post_spans(
        &collector,
        "inv",
        vec![failed(span(20, 3, Some(2), 20, 80, 2)), statement],
    )
    .await;
    let (status, edges) = super::get(&format!("{}/api/dependencies", collector.ui)).await;
    assert_eq!(status, 200);
    assert_eq!(
        edges["data"],
        serde_json::json!([
            {"parent": "gw", "child": "inv", "callCount": 1, "errorCount": 1},
            {"parent": "inv", "child": "sqlite", "callCount": 1, "errorCount": 0}
        ])
    );
    let Some(main) = look_at(format!("{}/dependencies", collector.ui), "dependencies").await else {
        return;
    };
    assert_eq!(main.matches("class=\"dep-row\"").count(), 2, "{main}");
    assert_eq!(main.matches("class=\"dep-node\"").count(), 3, "{main}");
    assert!(main.contains("1 calls, 1 errors"), "{main}");
    assert_eq!(
        main.matches("class=\"dep-edge failing\"").count(),
        1,
        "{main}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoints_critical_paths_show_bands_heat_map_and_flame_graph() {
    let collector = common::start(1_000).await;
    super::post_traces(&collector, 4).await;
    let flame = format!(
        "{}/api/critical-paths/flame.svg?service=svc&operation=op1&band=p99",
        collector.ui
    );
    let response = reqwest::get(&flame).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert!(svg.contains("<svg") && svg.contains("svc op4"), "{svg}");
    let (status, _) = super::get(&format!("{flame}x")).await;
    assert_eq!(status, 400, "an unknown band is refused with a reason");

    let page = format!(
        "{}/critical-paths?service=svc&operation=op1&band=p99",
        collector.ui
    );
    let Some(main) = look_at(page, "critical-paths").await else {
        return;
    };
    assert_eq!(main.matches("class=\"band-row\"").count(), 4, "{main}");
    // On the path: the root (op1), b (op4) and b1 (op5).
    assert_eq!(main.matches("class=\"heat-row\"").count(), 3, "{main}");
    assert_eq!(main.matches("class=\"heat\"").count(), 3 * 5, "{main}");
    assert!(
        main.contains(
            "data=\"/api/critical-paths/flame.svg?service=svc&amp;operation=op1&amp;band=p99\""
        ),
        "the flame graph of the p99 band is on the page: {main}"
    );
}

async fn post_spans(collector: &common::Collector, service: &str, spans: Vec<common::Span>) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", collector.otlp))
        .header("content-type", "application/x-protobuf")
        .body(request(service, spans).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spans_details_show_its_attributes_events_and_process() {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    let collector = common::start(1_000).await;
    let text = |key: &str, value: &str| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    };
    let mut call = span(30, 2, Some(1), 100, 900, 3);
    call.attributes.push(text("http.route", "/orders"));
    call.events.push(Event {
        time_unix_nano: call.start_time_unix_nano + 200_000,
        name: "retrying".to_owned(),
        attributes: vec![text("reason", "payments timed out")],
        ..Event::default()
    });
    post_spans(
        &collector,
        "gw",
        vec![span(30, 1, None, 0, 1_000, 2), failed(call)],
    )
    .await;
    let page = format!(
        "{}/trace/{}?span={}",
        collector.ui,
        "1e".repeat(16),
        "02".repeat(8)
    );
    let Some(main) = look_at(page, "span-details").await else {
        return;
    };
    let details = main
        .split("id=\"details\"")
        .nth(1)
        .expect("the details panel");
    for expected in [
        "gw: op2",
        "http.route",
        "<td>http.route</td><td>/orders</td>",
        "retrying",
        "payments timed out",
        "otel.status_code",
        "service.name",
    ] {
        assert!(details.contains(expected), "{expected} in {details}");
    }
    assert!(
        main.contains("selected\" data-span=\"0202020202020202\""),
        "the span's row is selected: {main}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spans_cpu_time_shows_in_its_details_and_beside_its_operation() {
    let collector = common::start(1_000).await;
    post_spans(&collector, "svc", super::trace_on_cpu()).await;
    let page = format!(
        "{}/trace/{}?span={}",
        collector.ui,
        "09".repeat(16),
        "01".repeat(8)
    );
    let Some(main) = look_at(page, "cpu-details").await else {
        return;
    };
    assert!(
        main.contains("<span id=\"cpu-time\">on a CPU 0.03 ms</span>"),
        "the root's details: {main}"
    );
    assert!(
        main.contains("title=\"lasts 0.10 ms · on a CPU 0.03 ms\""),
        "the root's row: {main}"
    );
    assert_eq!(
        main.matches("on a CPU").count(),
        2,
        "nothing for the span that records none: {main}"
    );

    let page = format!("{}/critical-paths?service=svc&operation=op1", collector.ui);
    let Some(main) = look_at(page, "cpu-critical-paths").await else {
        return;
    };
    assert!(
        main.contains("<td class=\"num cpu\">0.03 ms</td>"),
        "the root's operation: {main}"
    );
    assert!(
        main.contains("<td class=\"num cpu\">—</td>"),
        "op2's spans record none: {main}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operations_link_leads_to_its_cpu_flame_graph_in_that_band() {
    use crate::common::profiles::{ProfileExport, frames};
    let collector = common::start(1_000).await;
    super::post_traces(&collector, 4).await;
    // Span b (op4) took samples in the slowest trace (4, the p99 band) and
    // in the fastest (1, of no band but all), in functions of their own.
    let export = ProfileExport::new("svc")
        .sample(4, 4, &["main", "price_quote"], 5)
        .sample(1, 4, &["main", "cold_start"], 3);
    let response = reqwest::Client::new()
        .post(format!("{}/v1development/profiles", collector.otlp))
        .header("content-type", "application/x-protobuf")
        .body(export.encoded())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());

    let page = format!(
        "{}/critical-paths?service=svc&operation=op1&band=p99",
        collector.ui
    );
    let Some(main) = look_at(page, "cpu-flame-links").await else {
        return;
    };
    assert!(
        main.contains(
            "CPU samples taken inside this operation's spans (services run with PROFILE=1)"
        ),
        "the legend: {main}"
    );
    let link = "/api/profiles/flame.svg?service=svc&amp;operation=op4&amp;endpointService=svc&amp;endpointOperation=op1&amp;band=p99";
    assert!(
        main.contains(&format!("href=\"{link}\"")),
        "op4 of the p99 band links to its CPU flame graph: {main}"
    );
    let pprof = link.replace("/flame.svg?", "/profile.pb.gz?");
    assert!(
        main.contains(&format!("href=\"{pprof}\"")),
        "and beside it, to its samples as a pprof file: {main}"
    );
    let svg = reqwest::get(format!("{}{}", collector.ui, link.replace("&amp;", "&")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let frames = frames(&svg);
    assert!(
        frames
            .iter()
            .any(|f| f.starts_with("price_quote (5 samples")),
        "the p99 band's sampled function: {frames:?}"
    );
    assert!(
        !frames.iter().any(|f| f.contains("cold_start")),
        "not the p50 band's: {frames:?}"
    );

    // A span's details link to its own flame graph.
    let page = format!(
        "{}/trace/{}?span={}",
        collector.ui,
        "04".repeat(16),
        "04".repeat(8)
    );
    let main = look_at(page, "span-flame-link").await.unwrap();
    let span_link = format!(
        "href=\"/api/traces/{}/spans/{}/flame.svg\"",
        "04".repeat(16),
        "04".repeat(8)
    );
    assert!(main.contains(&span_link), "{span_link} in {main}");
    let span_pprof = span_link.replace("/flame.svg", "/profile.pb.gz");
    assert!(main.contains(&span_pprof), "{span_pprof} in {main}");
}
