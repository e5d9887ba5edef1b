//! The grader of lab 11. `just lab 11` runs it and explains each result.
//!
//! Each check starts the ticket service on a loopback port, under the
//! subscriber a service has: the learner's layer, and the OpenTelemetry
//! layer exporting every span (here to memory). It sends requests with
//! reqwest, then scrapes `GET /metrics` as Prometheus would and reads the
//! OpenMetrics text: series, counts, buckets, exemplars. The spans the
//! OpenTelemetry layer exported are the truth the metrics must agree with.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use grader_kit::checks::evidence;
use grader_kit::openmetrics::{self, Exposition, Histogram};
use lab11::{NewOrder, Order, RedMetrics, Shop};
use opentelemetry::trace::{SpanKind, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use prometheus_client::registry::Registry;
use tracing_subscriber::prelude::*;

grader_kit::checks![
    requests_are_counted_by_route_and_status,
    durations_are_each_requests_own,
    labels_are_route_templates_not_paths,
    exemplars_point_at_the_requests_traces,
];

const FAMILY: &str = "http_server_request_duration_seconds";
const LABELS: [&str; 3] = [
    "http_request_method",
    "http_route",
    "http_response_status_code",
];

/// A request the grader sent, as its series should count it.
#[derive(Clone, Debug)]
struct Sent {
    method: &'static str,
    /// The route template, or `""` for a path no route matches.
    route: &'static str,
    path: String,
    status: u16,
    /// The trace id of the `traceparent` it carried, if it carried one.
    trace_id: Option<String>,
}

impl Sent {
    /// Its server span's name: `METHOD /route`, or the method alone.
    fn span_name(&self) -> String {
        if self.route.is_empty() {
            self.method.to_owned()
        } else {
            format!("{} {}", self.method, self.route)
        }
    }

    fn series(&self) -> (String, String, String) {
        series_key(self.method, self.route, self.status)
    }
}

fn series_key(method: &str, route: &str, status: u16) -> (String, String, String) {
    (method.to_owned(), route.to_owned(), status.to_string())
}

/// Sends requests to the service and keeps what it sent.
struct Shopper {
    http: reqwest::Client,
    base: String,
    sent: Vec<Sent>,
    /// When set, every request carries a `traceparent` with a trace id of
    /// its own, counting up from this one.
    next_trace: Option<u128>,
}

impl Shopper {
    fn trace_header(&mut self) -> Option<(String, String)> {
        let trace = self.next_trace.as_mut()?;
        *trace += 1;
        let trace_id = TraceId::from(*trace).to_string();
        let header = format!("00-{trace_id}-00f067aa0ba902b7-01");
        Some((trace_id, header))
    }

    async fn send(
        &mut self,
        method: &'static str,
        route: &'static str,
        path: String,
        body: Option<&NewOrder>,
    ) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        let mut request = match body {
            Some(body) => self.http.post(url).json(body),
            None => self.http.get(url),
        };
        let trace = self.trace_header();
        if let Some((_, header)) = &trace {
            request = request.header("traceparent", header);
        }
        let response = request.send().await.expect("the ticket service answers");
        self.sent.push(Sent {
            method,
            route,
            path,
            status: response.status().as_u16(),
            trace_id: trace.map(|(id, _)| id),
        });
        response
    }

    async fn talk(&mut self, talk_id: u32) {
        self.send("GET", "/talks/{talk_id}", format!("/talks/{talk_id}"), None)
            .await;
    }

    async fn unknown_page(&mut self, path: String) {
        self.send("GET", "", path, None).await;
    }

    /// Places an order; its id, when the shop took it.
    async fn order(&mut self, talk_id: u32) -> Option<u64> {
        let new = NewOrder { talk_id, seats: 2 };
        let response = self
            .send("POST", "/orders", "/orders".to_owned(), Some(&new))
            .await;
        if !response.status().is_success() {
            return None;
        }
        let order: Order = response.json().await.expect("an order as JSON");
        Some(order.id)
    }

    async fn look_up(&mut self, order_id: u64) {
        let path = format!("/orders/{order_id}");
        self.send("GET", "/orders/{order_id}", path, None).await;
    }
}

/// What one run of the service left: the metrics it served, the requests
/// sent, and the spans the OpenTelemetry layer exported.
struct Scrape {
    metrics: Exposition,
    /// The series of the request histogram, read once from `metrics`.
    histograms: Vec<Histogram>,
    sent: Vec<Sent>,
    spans: Vec<SpanData>,
}

impl Scrape {
    /// The series of requests like `sent`'s, if there is one.
    fn series_of(&self, key: &(String, String, String)) -> Option<&Histogram> {
        self.histograms.iter().find(|h| &labels_of(h) == key)
    }

    fn server_spans(&self) -> impl Iterator<Item = &SpanData> {
        self.spans
            .iter()
            .filter(|s| s.span_kind == SpanKind::Server)
    }
}

fn labels_of(histogram: &Histogram) -> (String, String, String) {
    let get = |name: &str| histogram.labels.get(name).cloned().unwrap_or_default();
    (
        get("http_request_method"),
        get("http_route"),
        get("http_response_status_code"),
    )
}

fn describe_key((method, route, status): &(String, String, String)) -> String {
    let route = if route.is_empty() {
        "(no route)"
    } else {
        route
    };
    format!("{method} {route} → {status}")
}

/// Runs the service with the learner's layer, lets `shop` send its
/// requests, then scrapes `/metrics` once every request's span has closed.
fn run<F>(first_order_id: u64, traced_callers: Option<u128>, shop: F) -> Scrape
where
    F: AsyncFnOnce(&Shop, &mut Shopper),
{
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let mut registry = Registry::default();
    let metrics = RedMetrics::register(&mut registry);
    // The metrics layer sits beneath the OpenTelemetry layer, as in a
    // service: it sees each span close first, while the span's trace
    // context is still there to read.
    let subscriber = tracing_subscriber::registry()
        .with(metrics)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("lab11")));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let state = Shop::new(first_order_id);
    let app = lab11::app(Arc::clone(&state), Arc::new(registry));
    let (text, sent) = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            let address = listener.local_addr().expect("its address");
            tokio::spawn(async move { axum::serve(listener, app).await });
            let mut shopper = Shopper {
                http: reqwest::Client::new(),
                base: format!("http://{address}"),
                sent: Vec::new(),
                next_trace: traced_callers,
            };
            shop(&state, &mut shopper).await;
            // A response reaches the client a moment before the server
            // closes its span: wait for every span to close (the exporter
            // has them all), never for a length of time.
            let expected = shopper.sent.len();
            let closed = tokio::time::timeout(Duration::from_secs(10), async {
                while server_spans(&exporter) < expected {
                    tokio::task::yield_now().await;
                }
            })
            .await;
            assert!(
                closed.is_ok(),
                "only {} of the {expected} requests' server spans closed within 10 s",
                server_spans(&exporter)
            );
            let response = shopper
                .http
                .get(format!("{}/metrics", shopper.base))
                .send()
                .await
                .expect("GET /metrics answers");
            let text = response.text().await.expect("the metrics as text");
            (text, shopper.sent)
        })
    });
    let spans = exporter.get_finished_spans().expect("the spans");
    evidence("what GET /metrics served", excerpt(&text));
    let metrics = openmetrics::parse(&text).unwrap_or_else(|error| {
        panic!("GET /metrics served text that is not OpenMetrics ({error})")
    });
    Scrape {
        histograms: metrics.histograms(FAMILY),
        metrics,
        sent,
        spans,
    }
}

fn server_spans(exporter: &InMemorySpanExporter) -> usize {
    exporter
        .get_finished_spans()
        .map(|spans| {
            spans
                .iter()
                .filter(|s| s.span_kind == SpanKind::Server)
                .count()
        })
        .unwrap_or(0)
}

/// The request histogram's lines, enough to see what went wrong.
fn excerpt(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(FAMILY))
        .filter(|line| !line.contains("_bucket") || line.contains(" # {"))
        .take(40)
        .collect();
    if lines.is_empty() {
        format!("(nothing named {FAMILY})\n{}", text.trim_end())
    } else {
        lines.join("\n")
    }
}

/// The series a learner must have registered, with its type, unit and labels.
fn assert_histogram_registered(scrape: &Scrape) {
    assert_eq!(
        scrape.metrics.types.get(FAMILY).map(String::as_str),
        Some("histogram"),
        "GET /metrics serves no histogram named `{FAMILY}`. Step 1: register the family in the \
         registry with `register_with_unit(\"http_server_request_duration\", …, Unit::Seconds, …)`; \
         then steps 2 to 4 fill it."
    );
    let histograms = &scrape.histograms;
    assert!(
        !histograms.is_empty(),
        "`{FAMILY}` is registered but holds no series after {} requests: every finished \
         server span must be observed in it (steps 2 to 4).",
        scrape.sent.len()
    );
    for histogram in histograms {
        let names: BTreeSet<&str> = histogram.labels.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            BTreeSet::from(LABELS),
            "a series is labelled {names:?}; each must have exactly {LABELS:?} (OpenTelemetry's \
             attribute names, with `_` for `.`). Step 1."
        );
    }
}

/// The sent requests per series.
fn expected_counts(sent: &[Sent]) -> BTreeMap<(String, String, String), usize> {
    let mut counts = BTreeMap::new();
    for request in sent {
        *counts.entry(request.series()).or_default() += 1;
    }
    counts
}

async fn mixed_traffic(shop: &Shop, shopper: &mut Shopper, scale: u32) {
    for talk in 1..=3 * scale {
        shopper.talk(talk * 7 % Shop::TALKS + 1).await;
    }
    for _ in 0..scale {
        shopper.talk(Shop::TALKS + 1).await;
    }
    let mut orders = Vec::new();
    for talk in 0..2 * scale {
        orders.extend(shopper.order(talk + 1).await);
    }
    shop.set_payments_up(false);
    for talk in 0..(4 - scale) {
        shopper.order(talk + 1).await;
    }
    shop.set_payments_up(true);
    for order in orders {
        shopper.look_up(order).await;
    }
}

/// Each kind of request is counted in its own series, by route and status.
fn requests_are_counted_by_route_and_status() {
    for (first_order, scale) in [(9_000, 1), (31_000, 3)] {
        let scrape = run(first_order, None, async |shop, shopper| {
            mixed_traffic(shop, shopper, scale).await;
        });
        assert_histogram_registered(&scrape);
        for (key, count) in expected_counts(&scrape.sent) {
            let Some(series) = scrape.series_of(&key) else {
                let found: Vec<String> = scrape
                    .histograms
                    .iter()
                    .take(5)
                    .map(|h| describe_key(&labels_of(h)))
                    .collect();
                panic!(
                    "there is no series for {}, though the grader sent {count} such requests \
                     (series found: {}). Label each request by its method, its route template \
                     (`http.route` on the span) and the status recorded as the response left \
                     (steps 1 to 3).",
                    describe_key(&key),
                    found.join(", ")
                );
            };
            assert_eq!(
                series.count,
                count as f64,
                "the series for {} counts {} requests; the grader sent {count}. Each finished \
                 server span is one observation, in the series of its own status (step 4).",
                describe_key(&key),
                series.count
            );
        }
    }
}

/// A request's duration is the time its server span was open, in seconds.
fn durations_are_each_requests_own() {
    const SLOW: Duration = Duration::from_millis(80);
    for (fast_talks, slow_orders) in [(6, 2), (2, 3)] {
        let scrape = run(52_000, None, async |shop, shopper| {
            let mut orders = Vec::new();
            for talk in 0..slow_orders {
                orders.extend(shopper.order(talk + 10).await);
            }
            for talk in 0..fast_talks {
                shopper.talk(talk + 1).await;
            }
            shop.set_think_time(SLOW);
            for order in orders {
                shopper.look_up(order).await;
            }
        });
        assert_histogram_registered(&scrape);
        let slow_key = series_key("GET", "/orders/{order_id}", 200);
        let slow = scrape
            .series_of(&slow_key)
            .unwrap_or_else(|| panic!("there is no series for {}", describe_key(&slow_key)));
        if let Some(too_low) = slow
            .buckets
            .iter()
            .find(|b| b.le < SLOW.as_secs_f64() && b.cumulative_count > 0.0)
        {
            panic!(
                "each GET /orders/{{order_id}} took at least {} ms, yet {} of them were observed \
                 at {} s or less. Observe the whole time the span was open, from when it was \
                 made (step 2) to when it closed (step 4), in seconds.",
                SLOW.as_millis(),
                too_low.cumulative_count,
                too_low.le
            );
        }
        // The exported spans say how long each request's span was open.
        let mut span_seconds: BTreeMap<(String, String, String), (f64, usize)> = BTreeMap::new();
        for span in scrape.server_spans() {
            // (The scrape's own span is no request the grader counts.)
            let Some(sent) = scrape.sent.iter().find(|s| span.name == s.span_name()) else {
                continue;
            };
            let seconds = span
                .end_time
                .duration_since(span.start_time)
                .unwrap_or_default()
                .as_secs_f64();
            let status = span
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == "http.response.status_code")
                .map(|kv| kv.value.to_string())
                .unwrap_or_default();
            let entry = span_seconds
                .entry((sent.method.into(), sent.route.into(), status))
                .or_default();
            entry.0 += seconds;
            entry.1 += 1;
        }
        for (key, (seconds, requests)) in span_seconds {
            let Some(series) = scrape.series_of(&key) else {
                panic!("there is no series for {}", describe_key(&key))
            };
            // Both measure the same interval; the margin allows for the
            // moments between the layers' hooks, not for a wrong clock.
            let margin = 0.2 * seconds + 0.002 * requests as f64;
            assert!(
                (series.sum - seconds).abs() <= margin,
                "the series for {} adds up to {:.4} s, but its {requests} requests' spans were \
                 open {:.4} s in all. Observe each request's own duration, from when its span was \
                 made to when it closed, in seconds (not milliseconds, not a constant).",
                describe_key(&key),
                series.sum,
                seconds
            );
        }
    }
}

/// One series per route and status, however many paths and ids.
fn labels_are_route_templates_not_paths() {
    for (talks, orders, unknown) in [(30, 8, 12), (45, 14, 6)] {
        let scrape = run(70_000, None, async |_shop, shopper| {
            for talk in 0..talks {
                shopper.talk(talk * 13 % Shop::TALKS + 1).await;
            }
            let mut placed = Vec::new();
            for talk in 0..orders {
                placed.extend(shopper.order(talk % 5 + 1).await);
            }
            for order in placed {
                shopper.look_up(order).await;
            }
            for page in 0..unknown {
                shopper.unknown_page(format!("/no-such-page/{page}")).await;
            }
        });
        assert_histogram_registered(&scrape);
        // The paths that are not a route template themselves.
        let paths: BTreeSet<&str> = scrape
            .sent
            .iter()
            .filter(|s| s.path != s.route)
            .map(|s| s.path.as_str())
            .collect();
        let histograms = &scrape.histograms;
        let path_labels: BTreeSet<&str> = histograms
            .iter()
            .flat_map(|h| h.labels.values())
            .map(String::as_str)
            .filter(|value| paths.contains(value) || value.starts_with("/no-such-page/"))
            .collect();
        let expected = expected_counts(&scrape.sent);
        if !path_labels.is_empty() {
            let shown: Vec<&str> = path_labels.iter().take(5).copied().collect();
            panic!(
                "{} requests of {} kinds made {} series: labels hold raw paths ({} …). Each \
                 distinct path is a series of its own, which this process and Prometheus keep \
                 in memory for good: one per talk, per order, per mistyped URL. Label by the \
                 route template (`http.route`), empty when no route matched (step 1).",
                scrape.sent.len(),
                expected.len(),
                histograms.len(),
                shown.join(", ")
            );
        }
        let found: BTreeSet<_> = histograms.iter().map(labels_of).collect();
        let wanted: BTreeSet<_> = expected.keys().cloned().collect();
        assert_eq!(
            found,
            wanted,
            "the series should be exactly {}; found {}. One series per method, route template \
             and status; every path that matches no route shares one, with an empty route.",
            wanted
                .iter()
                .map(describe_key)
                .collect::<Vec<_>>()
                .join(", "),
            found
                .iter()
                .map(describe_key)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// Each bucket's exemplar is the trace of a request in that bucket.
fn exemplars_point_at_the_requests_traces() {
    for callers in [Some(0x4bf9_2f35_77b3_4da6_a3ce_929d_0000_0000), None] {
        let scrape = run(88_000, callers, async |shop, shopper| {
            mixed_traffic(shop, shopper, 2).await;
        });
        assert_histogram_registered(&scrape);
        for histogram in &scrape.histograms {
            let key = labels_of(histogram);
            let requests: Vec<&Sent> = scrape.sent.iter().filter(|s| s.series() == key).collect();
            if requests.is_empty() {
                continue; // a series of an earlier scrape, say; nothing to compare
            }
            // The traces the series' requests belong to: the callers' when
            // they sent a `traceparent`, else the traces their spans began.
            let traces: BTreeSet<String> = match callers {
                Some(_) => requests.iter().filter_map(|s| s.trace_id.clone()).collect(),
                None => scrape
                    .server_spans()
                    .filter(|span| requests.iter().any(|s| span.name == s.span_name()))
                    .map(|span| span.span_context.trace_id().to_string())
                    .collect(),
            };
            let exemplars: Vec<_> = histogram
                .buckets
                .iter()
                .enumerate()
                .filter_map(|(at, bucket)| bucket.exemplar.clone().map(|e| (at, e)))
                .collect();
            assert!(
                !exemplars.is_empty(),
                "no bucket of the series for {} has an exemplar: observe each request with its \
                 trace id as the exemplar (`TraceLabels {{ trace_id }}`, step 4), so that a slow \
                 bucket points at a trace. (Asked for when the span is made, the trace id is \
                 not there yet: ask when the status is recorded, or as the span closes.)",
                describe_key(&key)
            );
            for (at, exemplar) in exemplars {
                let Some(trace_id) = exemplar.labels.get("trace_id") else {
                    panic!(
                        "an exemplar of {} has the labels {:?}; it should have `trace_id`, \
                         the label trace viewers and Prometheus look for",
                        describe_key(&key),
                        exemplar.labels
                    );
                };
                assert!(
                    traces.contains(trace_id),
                    "an exemplar of {} names the trace {trace_id}, which is not the trace of any \
                     such request ({}). {}",
                    describe_key(&key),
                    traces
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    if callers.is_some() {
                        "These requests carried their callers' `traceparent`: the span joins \
                         the caller's trace just after it is made, so ask for the trace id \
                         later, once the span has its parent (when the response is recorded, \
                         or as the span closes; step 4)."
                    } else {
                        "Ask the OpenTelemetry layer for the span's own trace id (step 4)."
                    }
                );
                let bucket = &histogram.buckets[at];
                let below = if at == 0 {
                    0.0
                } else {
                    histogram.buckets[at - 1].le
                };
                assert!(
                    exemplar.value <= bucket.le && exemplar.value >= below,
                    "an exemplar of {} has the value {} in the bucket ({below}, {}]: an \
                     exemplar is the observation it came with",
                    describe_key(&key),
                    exemplar.value,
                    bucket.le
                );
            }
        }
    }
}
