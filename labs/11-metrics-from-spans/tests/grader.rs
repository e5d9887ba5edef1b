//! The grader of lab 11. `just lab 11` runs it and explains each result.
//!
//! Each check starts the ticket service on a loopback port, under the
//! subscriber a service has: the learner's layer, and the OpenTelemetry
//! layer exporting every span (here to memory). It sends requests drawn
//! afresh on each run (`grader_kit::scenario::rng()`), then scrapes
//! `GET /metrics` as Prometheus would and reads the OpenMetrics text:
//! series, counts, buckets, exemplars.
//!
//! The truth the metrics must agree with is what the service's own server
//! spans recorded, seen by two witness layers of the grader's, one beneath
//! the learner's layer and one above the OpenTelemetry layer: each span's
//! method, route, status (none when the client went away) and trace, and
//! when it was made and closed, from both sides of the learner's layer. So
//! a request's duration is known to lie between two bounds that a busy
//! machine can only widen, never break: no check assumes how long anything
//! takes. Some requests are held open by the grader itself (a
//! `POST /orders` whose body it withholds), so that durations differ by a
//! known factor, and overlap.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use grader_kit::checks::evidence;
use grader_kit::openmetrics::{self, Exposition, Histogram};
use grader_kit::scenario::{self, Rng};
use lab11::{Order, RedMetrics, SERVER_SPAN, Shop};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

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
/// The service's route templates: the values `http_route` may take, besides
/// the empty one of a path no route matches.
const ROUTES: [&str; 4] = [
    "/talks/{talk_id}",
    "/orders",
    "/orders/{order_id}",
    "/metrics",
];
/// A series: method, route template, status (as the label's text).
type Key = (String, String, String);

fn key(method: &str, route: &str, status: u16) -> Key {
    (method.to_owned(), route.to_owned(), status.to_string())
}

fn labels_of(histogram: &Histogram) -> Key {
    let get = |name: &str| histogram.labels.get(name).cloned().unwrap_or_default();
    (
        get("http_request_method"),
        get("http_route"),
        get("http_response_status_code"),
    )
}

fn describe_key((method, route, status): &Key) -> String {
    let route = if route.is_empty() {
        "(no route)"
    } else {
        route
    };
    format!("{method} {route} → {status}")
}

// ---------------------------------------------------------------------------
// The witnesses: what the service's server spans recorded, and when.

/// One server span's life, as the grader's two witness layers saw it.
#[derive(Clone, Debug)]
struct Life {
    method: String,
    /// The route template, empty when no route matched.
    route: String,
    path: String,
    /// None when the span closed without one (the client went away).
    status: Option<u16>,
    /// The trace the span ended in, from the OpenTelemetry layer.
    trace_id: Option<String>,
    /// Just before the learner's layer saw the span made, and just after.
    made_before: Instant,
    made_after: Option<Instant>,
    /// Just before the learner's layer saw the span close, and just after.
    closed_before: Option<Instant>,
    closed_after: Option<Instant>,
}

impl Life {
    /// The least and the most, in seconds, a layer can measure as this
    /// span's time open: it was made between `made_before` and
    /// `made_after`, and closed between `closed_before` and `closed_after`.
    /// A busy machine widens the bounds; nothing makes a correct layer's
    /// measurement fall outside them.
    fn bounds(&self) -> (f64, f64) {
        let made_after = self.made_after.unwrap_or(self.made_before);
        match (self.closed_before, self.closed_after) {
            (Some(closed_before), Some(closed_after)) => (
                closed_before
                    .saturating_duration_since(made_after)
                    .as_secs_f64(),
                closed_after
                    .saturating_duration_since(self.made_before)
                    .as_secs_f64(),
            ),
            _ => (0.0, f64::INFINITY),
        }
    }
}

/// The bounds, widened for the text the numbers travel as and for a layer
/// that reads another clock than `Instant`.
fn widen((least, most): (f64, f64)) -> (f64, f64) {
    (least * (1.0 - 1e-3) - 1e-6, most * (1.0 + 1e-3) + 1e-6)
}

/// Every server span's life, in the order the spans were made.
#[derive(Clone, Default)]
struct Lives(Arc<Mutex<Vec<Life>>>);

impl Lives {
    fn lock(&self) -> MutexGuard<'_, Vec<Life>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn made(&self) -> usize {
        self.lock().len()
    }

    fn closed(&self, at: usize) -> bool {
        self.lock()
            .get(at)
            .is_some_and(|life| life.closed_after.is_some())
    }

    /// Whether every span made so far has closed, but those at `open`.
    fn all_closed_but(&self, open: &[usize]) -> bool {
        self.lock()
            .iter()
            .enumerate()
            .all(|(at, life)| open.contains(&at) || life.closed_after.is_some())
    }

    fn snapshot(&self) -> Vec<Life> {
        self.lock().clone()
    }
}

/// Where a server span's life is kept, in the span's extensions.
struct LifeAt(usize);

fn life_at<S>(ctx: &Context<'_, S>, id: &Id) -> Option<usize>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.span(id)?.extensions().get::<LifeAt>().map(|at| at.0)
}

/// The fields of a server span the grader reads.
#[derive(Default)]
struct SpanFields {
    method: String,
    route: String,
    path: String,
    status: Option<u16>,
}

impl Visit for SpanFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "http.request.method" => value.clone_into(&mut self.method),
            "http.route" => value.clone_into(&mut self.route),
            "url.path" => value.clone_into(&mut self.path),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "http.response.status_code" {
            self.status = u16::try_from(value).ok();
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

/// The witness beneath the learner's layer: it sees each server span made
/// before the learner's layer does, and closed before it does; it reads the
/// status, and the trace as the span closes.
struct Beneath {
    lives: Lives,
    dispatch: OnceLock<WeakDispatch>,
}

impl Beneath {
    fn trace_id(&self, id: &Id) -> Option<String> {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let context = tracing_opentelemetry::get_otel_context(id, &dispatch)?;
        let span_context = context.span().span_context().clone();
        span_context
            .is_valid()
            .then(|| span_context.trace_id().to_string())
    }
}

impl<S> Layer<S> for Beneath
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let now = Instant::now();
        if attrs.metadata().name() != SERVER_SPAN {
            return;
        }
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        let Some(span) = ctx.span(id) else { return };
        let mut lives = self.lives.lock();
        span.extensions_mut().insert(LifeAt(lives.len()));
        lives.push(Life {
            method: fields.method,
            route: fields.route,
            path: fields.path,
            status: None,
            trace_id: None,
            made_before: now,
            made_after: None,
            closed_before: None,
            closed_after: None,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = SpanFields::default();
        values.record(&mut fields);
        if let (Some(status), Some(at)) = (fields.status, life_at(&ctx, id)) {
            self.lives.lock()[at].status = Some(status);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let now = Instant::now();
        let Some(at) = life_at(&ctx, &id) else { return };
        // Asked as the span closes, when it is in its final trace, and with
        // no lock on its extensions held (the OpenTelemetry layer takes it).
        let trace_id = self.trace_id(&id);
        let mut lives = self.lives.lock();
        lives[at].closed_before = Some(now);
        lives[at].trace_id = trace_id;
    }
}

/// The witness above the OpenTelemetry layer: it sees each server span made
/// and closed after the learner's layer has.
struct Above {
    lives: Lives,
}

impl<S> Layer<S> for Above
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let now = Instant::now();
        if let Some(at) = life_at(&ctx, id) {
            self.lives.lock()[at].made_after = Some(now);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let now = Instant::now();
        if let Some(at) = life_at(&ctx, &id) {
            self.lives.lock()[at].closed_after = Some(now);
        }
    }
}

// ---------------------------------------------------------------------------
// The requests.

/// A request the grader sent.
#[derive(Clone, Debug)]
struct Sent {
    method: String,
    /// The path, without the query.
    path: String,
    query: Option<String>,
    /// The caller's trace, when the request carried a `traceparent`.
    caller_trace: Option<String>,
    /// Held open by the grader, its body withheld for a while.
    held: bool,
}

/// A request, with its server span's life.
#[derive(Debug)]
struct Request {
    sent: Sent,
    life: Life,
}

impl Request {
    /// Its series, if the service answered it.
    fn key(&self) -> Option<Key> {
        let status = self.life.status?;
        Some(key(&self.life.method, &self.life.route, status))
    }

    /// The trace it belongs to: its caller's when it carried a
    /// `traceparent`, else the one its span began.
    fn trace(&self) -> Option<&str> {
        self.sent
            .caller_trace
            .as_deref()
            .or(self.life.trace_id.as_deref())
    }
}

/// Sends requests to the service and keeps what it sent.
struct Shopper {
    http: reqwest::Client,
    address: SocketAddr,
    lives: Lives,
    sent: Vec<Sent>,
    /// How likely a request is to carry a caller's `traceparent`.
    traced: f64,
    rng: Rng,
}

/// A `POST /orders` the grader holds open: its head is sent, its body not.
struct Held {
    stream: TcpStream,
    body: String,
}

impl Held {
    /// Sends the body, and reads the answer to its end.
    async fn release(mut self) {
        self.stream
            .write_all(self.body.as_bytes())
            .await
            .expect("the held request's body is sent");
        let mut answer = Vec::new();
        self.stream
            .read_to_end(&mut answer)
            .await
            .expect("the held request is answered");
    }
}

fn order_json(talk_id: u32, seats: u32) -> String {
    format!(r#"{{"talk_id":{talk_id},"seats":{seats}}}"#)
}

impl Shopper {
    /// A caller's trace context for the next request, if it carries one: a
    /// trace drawn afresh, sometimes with a `tracestate`.
    fn caller(&mut self) -> Option<(String, Vec<(&'static str, String)>)> {
        if self.rng.f64() >= self.traced {
            return None;
        }
        let trace_id = format!("{:032x}", self.rng.u128(1..));
        let parent = format!("{:016x}", self.rng.u64(1..));
        let mut headers = vec![("traceparent", format!("00-{trace_id}-{parent}-01"))];
        if self.rng.bool() {
            let vendor = scenario::word(&mut self.rng, 4);
            let value = scenario::word(&mut self.rng, 8);
            headers.push(("tracestate", format!("{vendor}={value}")));
        }
        Some((trace_id, headers))
    }

    /// A query string, now and then.
    fn query(&mut self) -> Option<String> {
        if self.rng.u8(..3) != 0 {
            return None;
        }
        let pairs: Vec<String> = (0..self.rng.usize(1..=2))
            .map(|_| {
                let name = scenario::word(&mut self.rng, 4);
                let value = self.rng.u32(..10_000);
                format!("{name}={value}")
            })
            .collect();
        Some(pairs.join("&"))
    }

    /// Sends a request, and waits for its answer.
    async fn send(
        &mut self,
        method: &str,
        path: String,
        json: Option<String>,
    ) -> reqwest::Response {
        let query = self.query();
        let url = match &query {
            Some(query) => format!("http://{}{path}?{query}", self.address),
            None => format!("http://{}{path}", self.address),
        };
        let verb = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = self.http.request(verb, url);
        if let Some(json) = json {
            request = request
                .header("content-type", "application/json")
                .body(json);
        }
        let caller = self.caller();
        if let Some((_, headers)) = &caller {
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
        }
        let response = request.send().await.expect("the ticket service answers");
        self.sent.push(Sent {
            method: method.to_owned(),
            path,
            query,
            caller_trace: caller.map(|(trace, _)| trace),
            held: false,
        });
        response
    }

    async fn talk(&mut self, talk: String) {
        self.send("GET", format!("/talks/{talk}"), None).await;
    }

    /// Places an order; its id, when the shop took it.
    async fn order(&mut self, talk_id: u32) -> Option<u64> {
        let body = order_json(talk_id, self.rng.u32(1..=4));
        let response = self.send("POST", "/orders".to_owned(), Some(body)).await;
        if !response.status().is_success() {
            return None;
        }
        let order: Order = response.json().await.expect("an order as JSON");
        Some(order.id)
    }

    async fn look_up(&mut self, order_id: u64) {
        self.send("GET", format!("/orders/{order_id}"), None).await;
    }

    /// A request the service answers at once: a talk, or an order placed.
    async fn quick(&mut self) {
        let talk = self.rng.u32(1..=Shop::TALKS);
        if self.rng.bool() {
            self.talk(talk.to_string()).await;
        } else {
            self.order(talk).await;
        }
    }

    /// Opens a connection and sends a request's head, with `extra` headers;
    /// returns once the service has made the request's span.
    async fn open(&mut self, method: &str, path: &str, extra: &str) -> TcpStream {
        let query = self.query();
        let target = match &query {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let caller = self.caller();
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n{extra}",
            self.address
        );
        if let Some((_, headers)) = &caller {
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str("\r\n");
        let mut stream = TcpStream::connect(self.address)
            .await
            .expect("a connection to the ticket service");
        stream
            .write_all(head.as_bytes())
            .await
            .expect("the request's head is sent");
        self.sent.push(Sent {
            method: method.to_owned(),
            path: path.to_owned(),
            query,
            caller_trace: caller.map(|(trace, _)| trace),
            held: false,
        });
        let (lives, made) = (self.lives.clone(), self.sent.len());
        wait_until(
            move || lives.made() >= made,
            "the ticket service to take a request",
        )
        .await;
        stream
    }

    /// Starts a `POST /orders` whose body the grader withholds: the request,
    /// and its server span, stay open until it is released.
    async fn hold(&mut self, talk_id: u32) -> Held {
        let body = order_json(talk_id, self.rng.u32(1..=4));
        let extra = format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        let stream = self.open("POST", "/orders", &extra).await;
        if let Some(sent) = self.sent.last_mut() {
            sent.held = true;
        }
        Held { stream, body }
    }

    /// A `GET /talks/{talk_id}` whose client goes away before its answer:
    /// the service thinks a while, and the grader closes the connection once
    /// the span is made. The span closes with no status.
    async fn leave(&mut self, shop: &Shop) {
        shop.set_think_time(Duration::from_secs(2));
        let talk = self.rng.u32(1..=Shop::TALKS);
        let stream = self.open("GET", &format!("/talks/{talk}"), "").await;
        drop(stream);
        let (lives, at) = (self.lives.clone(), self.sent.len() - 1);
        wait_until(
            move || lives.closed(at),
            "the span of a request whose client went away to close",
        )
        .await;
        shop.set_think_time(Duration::ZERO);
    }
}

/// Waits, letting the service run, until `done`. Ten seconds stand for
/// "never": the grader waits for what it can observe, not for a time.
async fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !done() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(waited.is_ok(), "waited 10 s for {what}, in vain");
}

/// A path no route matches.
fn unmatched_path(rng: &mut Rng) -> String {
    let len = rng.usize(4..=9);
    let word = scenario::word(rng, len);
    match rng.u8(..5) {
        0 => format!("/{word}"),
        1 => format!("/{word}/{}", rng.u32(..100_000)),
        2 => "/talks".to_owned(),
        3 => format!("/talks/{}/{word}", rng.u32(1..=Shop::TALKS)),
        _ => format!("/orders/{}/{word}", rng.u32(..100_000)),
    }
}

/// `visits` requests of every kind, in a random order: talks that exist and
/// that do not, ids that are no number, orders placed, refused (no such
/// talk, a malformed body, the payment provider down) and looked up (placed
/// or not), paths no route matches, methods a route does not allow, query
/// strings and callers' trace contexts here and there, and one client that
/// goes away before its answer.
async fn varied_traffic(shop: &Shop, shopper: &mut Shopper, visits: usize) {
    let mut placed: Vec<u64> = Vec::new();
    let leave_at = shopper.rng.usize(..visits.max(1));
    for at in 0..visits {
        if at == leave_at {
            shopper.leave(shop).await;
            continue;
        }
        let talk = shopper.rng.u32(1..=Shop::TALKS);
        let no_such_talk = Shop::TALKS + 1 + shopper.rng.u32(..1_000);
        match shopper.rng.u8(..13) {
            0..=2 => shopper.talk(talk.to_string()).await,
            3 => shopper.talk(no_such_talk.to_string()).await,
            4 => {
                let word = scenario::word(&mut shopper.rng, 5);
                shopper.talk(word).await;
            }
            5 | 6 => placed.extend(shopper.order(talk).await),
            7 => {
                shop.set_payments_up(false);
                shopper.order(talk).await;
                shop.set_payments_up(true);
            }
            8 => {
                shopper.order(no_such_talk).await;
            }
            9 => {
                let body = Some("{}".to_owned());
                shopper.send("POST", "/orders".to_owned(), body).await;
            }
            10 => {
                let order = if !placed.is_empty() && shopper.rng.bool() {
                    placed[shopper.rng.usize(..placed.len())]
                } else {
                    shopper.rng.u64(1..1_000) // below every id the shop gives
                };
                shopper.look_up(order).await;
            }
            11 => {
                let path = unmatched_path(&mut shopper.rng);
                shopper.send("GET", path, None).await;
            }
            _ => {
                let (method, path) = match shopper.rng.u8(..3) {
                    0 => ("DELETE", format!("/talks/{talk}")),
                    1 => ("GET", "/orders".to_owned()),
                    _ => ("PUT", format!("/orders/{}", shopper.rng.u64(1..1_000))),
                };
                shopper.send(method, path, None).await;
            }
        }
    }
}

/// Requests the grader holds open, overlapping each other and requests
/// answered at once; released in a random order once each has been open at
/// least a drawn time, and four times as long as the slowest request
/// answered at once so far.
async fn held_traffic(shopper: &mut Shopper) {
    let mut held = Vec::new();
    let mut open = Vec::new();
    for _ in 0..shopper.rng.usize(2..=4) {
        let talk = shopper.rng.u32(1..=Shop::TALKS);
        held.push(shopper.hold(talk).await);
        open.push(shopper.sent.len() - 1);
        for _ in 0..shopper.rng.usize(1..=3) {
            shopper.quick().await;
        }
    }
    // One answered at once in the held ones' series, for sure.
    let talk = shopper.rng.u32(1..=Shop::TALKS);
    shopper.order(talk).await;
    let lives = shopper.lives.clone();
    wait_until(
        || lives.all_closed_but(&open),
        "the requests answered at once to close",
    )
    .await;
    let seen = lives.snapshot();
    let slowest_answer = seen
        .iter()
        .enumerate()
        .filter(|(at, _)| !open.contains(at))
        .map(|(_, life)| life.bounds().1)
        .fold(0.0, f64::max);
    let least = shopper.rng.u64(100..=250) as f64 / 1_000.0;
    let hold = Duration::from_secs_f64((4.0 * slowest_answer).max(least).min(3.0));
    let last_made = open
        .iter()
        .filter_map(|&at| seen[at].made_after)
        .max()
        .unwrap_or_else(Instant::now);
    tokio::time::sleep_until(tokio::time::Instant::from_std(last_made + hold)).await;
    shopper.rng.shuffle(&mut held);
    for request in held {
        request.release().await;
        for _ in 0..shopper.rng.usize(0..=2) {
            shopper.quick().await;
        }
    }
}

/// Varied traffic while a few requests are held open, released afterwards
/// in a random order.
async fn traffic_around_held_requests(shop: &Shop, shopper: &mut Shopper, visits: usize) {
    let mut held = Vec::new();
    for _ in 0..shopper.rng.usize(2..=3) {
        let talk = shopper.rng.u32(1..=Shop::TALKS);
        held.push(shopper.hold(talk).await);
    }
    varied_traffic(shop, shopper, visits).await;
    shopper.rng.shuffle(&mut held);
    for request in held {
        request.release().await;
        shopper.quick().await;
    }
}

// ---------------------------------------------------------------------------
// A run of the service.

/// What one run of the service left: the metrics it served, and the
/// requests sent, each with its server span's life.
struct Scrape {
    metrics: Exposition,
    /// The series of the request histogram, read once from `metrics`.
    histograms: Vec<Histogram>,
    requests: Vec<Request>,
}

impl Scrape {
    fn series_of(&self, key: &Key) -> Option<&Histogram> {
        self.histograms.iter().find(|h| &labels_of(h) == key)
    }

    /// The requests the service answered, by series. A request whose span
    /// closed with no status (its client went away) is in none.
    fn by_series(&self) -> BTreeMap<Key, Vec<&Request>> {
        let mut series: BTreeMap<Key, Vec<&Request>> = BTreeMap::new();
        for request in &self.requests {
            if let Some(key) = request.key() {
                series.entry(key).or_default().push(request);
            }
        }
        series
    }

    fn unanswered(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| r.life.status.is_none())
            .count()
    }
}

/// Runs the service with the learner's layer, lets `shop` send its
/// requests (callers' `traceparent` on a `traced` share of them), then
/// scrapes `/metrics` once every request's span has closed.
fn run<F>(rng: &mut Rng, traced: f64, shop: F) -> Scrape
where
    F: AsyncFnOnce(&Shop, &mut Shopper),
{
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .build();
    let mut registry = Registry::default();
    let metrics = RedMetrics::register(&mut registry);
    let lives = Lives::default();
    // The metrics layer sits beneath the OpenTelemetry layer, as in a
    // service: it sees each span close first, while the span's trace
    // context is still there to read. The grader's witnesses stand just
    // beneath it and above both.
    let subscriber = tracing_subscriber::registry()
        .with(Beneath {
            lives: lives.clone(),
            dispatch: OnceLock::new(),
        })
        .with(metrics)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("lab11")))
        .with(Above {
            lives: lives.clone(),
        });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let state = Shop::new(rng.u64(10_000..1_000_000));
    let app = lab11::app(Arc::clone(&state), Arc::new(registry));
    let shopper_rng = rng.fork();
    let (text, sent, seen) = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            let address = listener.local_addr().expect("its address");
            tokio::spawn(async move { axum::serve(listener, app).await });
            let mut shopper = Shopper {
                http: reqwest::Client::new(),
                address,
                lives: lives.clone(),
                sent: Vec::new(),
                traced,
                rng: shopper_rng,
            };
            shop(&state, &mut shopper).await;
            // A response reaches the client a moment before the server
            // closes its span: wait for every span to close.
            let (all, expected) = (lives.clone(), shopper.sent.len());
            wait_until(
                move || all.made() >= expected && all.all_closed_but(&[]),
                "every request's server span to close",
            )
            .await;
            let seen = lives.snapshot();
            let response = shopper
                .http
                .get(format!("http://{address}/metrics"))
                .send()
                .await
                .expect("GET /metrics answers");
            let text = response.text().await.expect("the metrics as text");
            (text, shopper.sent, seen)
        })
    });
    evidence("what GET /metrics served", excerpt(&text));
    let metrics = openmetrics::parse(&text).unwrap_or_else(|error| {
        panic!("GET /metrics served text that is not OpenMetrics ({error})")
    });
    // The spans were made in the order the requests were sent: the grader
    // sends one at a time, and waits for the span of one it holds open.
    let requests = sent
        .into_iter()
        .zip(seen)
        .enumerate()
        .map(|(at, (sent, life))| {
            assert!(
                life.method == sent.method && life.path == sent.path,
                "the grader lost track of its requests: its request {at} was {} {}, the server \
                 span {at} is {} {}",
                sent.method,
                sent.path,
                life.method,
                life.path
            );
            Request { sent, life }
        })
        .collect();
    Scrape {
        histograms: metrics.histograms(FAMILY),
        metrics,
        requests,
    }
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

/// The family a learner must have registered, with its type and labels,
/// and every status label an integer.
fn assert_histogram_registered(scrape: &Scrape) {
    assert_eq!(
        scrape.metrics.types.get(FAMILY).map(String::as_str),
        Some("histogram"),
        "GET /metrics serves no histogram named `{FAMILY}`: the registry it encodes holds no \
         histogram family of that name, unit suffix included, so no request can show there \
         (step 1; `just hint 11`)."
    );
    let histograms = &scrape.histograms;
    assert!(
        !histograms.is_empty(),
        "`{FAMILY}` is registered but holds no series after {} requests: every finished \
         server span must be observed in it (steps 2 to 4).",
        scrape.requests.len()
    );
    for histogram in histograms {
        let names: BTreeSet<&str> = histogram.labels.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            BTreeSet::from(LABELS),
            "a series is labelled {names:?}; each must have exactly {LABELS:?} (OpenTelemetry's \
             attribute names, with `_` for `.`). Step 1."
        );
        let status = &histogram.labels["http_response_status_code"];
        assert!(
            status
                .parse::<u16>()
                .is_ok_and(|code| code.to_string() == *status),
            "a series is labelled `http_response_status_code=\"{status}\"`: a status is an \
             integer, as OpenTelemetry's `http.response.status_code` is (`200`, not `200 OK`, \
             not `OK`). Step 1."
        );
    }
}

// ---------------------------------------------------------------------------
// The checks.

/// Every series counts exactly the answered requests of its method, route
/// and status; a request left with no status is counted nowhere.
fn requests_are_counted_by_route_and_status() {
    let mut rng = scenario::rng();
    for _ in 0..2 {
        let visits = rng.usize(12..=24);
        let traced = rng.f64();
        let scrape = run(&mut rng, traced, async |shop, shopper| {
            varied_traffic(shop, shopper, visits).await;
        });
        assert_histogram_registered(&scrape);
        let expected = scrape.by_series();
        for (key, requests) in &expected {
            let Some(series) = scrape.series_of(key) else {
                let found: Vec<String> = scrape
                    .histograms
                    .iter()
                    .take(6)
                    .map(|h| describe_key(&labels_of(h)))
                    .collect();
                panic!(
                    "there is no series for {}, though the service answered {} such requests \
                     (series found: {}): those requests were counted under other label values, \
                     or not at all. A series is one method, route template and status, as the \
                     request's server span recorded them by the time it closed (steps 1 to 3).",
                    describe_key(key),
                    requests.len(),
                    found.join(", ")
                );
            };
            assert!(
                series.count == requests.len() as f64,
                "the series for {} counts {} requests; the service answered {} such requests. \
                 Each finished server span with a status is one observation, in the series of \
                 its own method, route and status (step 4).",
                describe_key(key),
                series.count,
                requests.len()
            );
        }
        let unanswered = scrape.unanswered();
        for histogram in &scrape.histograms {
            let key = labels_of(histogram);
            assert!(
                expected.contains_key(&key),
                "there is a series for {} ({} requests), but the service answered no such \
                 request. {}Each series counts the requests answered with its method, route and \
                 status (steps 1 to 4).",
                describe_key(&key),
                histogram.count,
                if unanswered > 0 {
                    format!(
                        "{unanswered} of the grader's requests were left by their client before \
                         an answer: their spans closed with no status, and such a request is \
                         counted nowhere (step 4). "
                    )
                } else {
                    String::new()
                }
            );
        }
    }
}

/// Each request's observation is its own server span's time open, in
/// seconds, in buckets laid out in seconds.
fn durations_are_each_requests_own() {
    let mut rng = scenario::rng();
    for _ in 0..2 {
        let traced = rng.f64();
        let scrape = run(&mut rng, traced, async |_shop, shopper| {
            held_traffic(shopper).await;
        });
        assert_histogram_registered(&scrape);
        let by_series = scrape.by_series();
        for (key, requests) in &by_series {
            let Some(series) = scrape.series_of(key) else {
                panic!(
                    "there is no series for {}, though the service answered {} such requests",
                    describe_key(key),
                    requests.len()
                )
            };
            assert_own_durations(key, series, requests);
        }
        for (key, requests) in &by_series {
            if let Some(series) = scrape.series_of(key) {
                assert_buckets_in_seconds(key, series, requests);
            }
        }
    }
}

/// How long the grader held a series' held requests open, for messages.
fn held_note(requests: &[&Request]) -> String {
    let held: Vec<f64> = requests
        .iter()
        .filter(|r| r.sent.held)
        .map(|r| r.life.bounds().0)
        .collect();
    if held.is_empty() {
        return String::new();
    }
    let least = held.iter().copied().fold(f64::INFINITY, f64::min);
    format!(
        "; the grader held {} of them open, withholding their bodies, each for at least {:.0} ms",
        held.len(),
        least * 1_000.0
    )
}

/// A series' sum, and every bucket's count, agree with its requests' spans.
fn assert_own_durations(key: &Key, series: &Histogram, requests: &[&Request]) {
    let bounds: Vec<(f64, f64)> = requests.iter().map(|r| widen(r.life.bounds())).collect();
    let least: f64 = bounds.iter().map(|b| b.0).sum();
    let most: f64 = bounds.iter().map(|b| b.1).sum();
    let note = held_note(requests);
    assert!(
        series.sum <= most,
        "the series for {} adds up to {:.4} s, but its {} requests' spans were open {:.4} s to \
         {:.4} s in all{note}. Each observation is one request's own time open, in seconds: not \
         milliseconds, not a running total, not the time since another request began (step 4).",
        describe_key(key),
        series.sum,
        requests.len(),
        least,
        most
    );
    assert!(
        series.sum >= least,
        "the series for {} adds up to {:.4} s, but its {} requests' spans were open at least \
         {:.4} s in all{note}. Each observation is the whole time its span was open, from when \
         it was made to when it closed, waiting included; another request made meanwhile does \
         not cut it short (steps 2 and 4).",
        describe_key(key),
        series.sum,
        requests.len(),
        least
    );
    for bucket in series.buckets.iter().filter(|b| b.le.is_finite()) {
        let at_most = bounds.iter().filter(|b| b.0 <= bucket.le).count() as f64;
        let at_least = bounds.iter().filter(|b| b.1 <= bucket.le).count() as f64;
        assert!(
            bucket.cumulative_count <= at_most,
            "{} requests of {} were observed at {} s or less, but only {at_most} of them were \
             open that briefly{note}: a request was observed as shorter than its span was open. \
             Observe each request's whole time open, its own (steps 2 and 4).",
            bucket.cumulative_count,
            describe_key(key),
            bucket.le
        );
        assert!(
            bucket.cumulative_count >= at_least,
            "only {} requests of {} were observed at {} s or less, but {at_least} of them were \
             over in that time{note}: a request was observed as longer than its span was open. \
             Observe each request's own time open, in seconds (step 4).",
            bucket.cumulative_count,
            describe_key(key),
            bucket.le
        );
    }
}

/// Where a series has both requests answered at once and requests the
/// grader held at least four times longer, a bucket bound lies between:
/// the buckets are laid out in seconds, as the family's unit says.
fn assert_buckets_in_seconds(key: &Key, series: &Histogram, requests: &[&Request]) {
    let held_least = requests
        .iter()
        .filter(|r| r.sent.held)
        .map(|r| r.life.bounds().0)
        .fold(f64::INFINITY, f64::min);
    let quick_most = requests
        .iter()
        .filter(|r| !r.sent.held)
        .map(|r| r.life.bounds().1)
        .filter(|most| 4.0 * most <= held_least)
        .fold(0.0, f64::max);
    if !held_least.is_finite() || quick_most <= 0.0 {
        return;
    }
    let bounds: Vec<String> = series.buckets.iter().map(|b| b.le.to_string()).collect();
    assert!(
        series
            .buckets
            .iter()
            .any(|b| quick_most <= b.le && b.le < held_least),
        "the series for {} has no bucket bound between {:.1} ms (a request of it answered at \
         once) and {:.0} ms (the quickest of those the grader held open): requests four times \
         apart and more fall in one bucket. Its bounds are {}, and they are read as seconds, the \
         family's unit: where a web request's time falls, from about a millisecond to a few \
         seconds, they must tell such requests apart.",
        describe_key(key),
        quick_most * 1_000.0,
        held_least * 1_000.0,
        bounds.join(", ")
    );
}

/// One series per method, route template and status, however many paths,
/// ids and queries; no label holds a path.
fn labels_are_route_templates_not_paths() {
    let mut rng = scenario::rng();
    for _ in 0..2 {
        let visits = rng.usize(40..=60);
        let traced = rng.f64();
        let scrape = run(&mut rng, traced, async |shop, shopper| {
            varied_traffic(shop, shopper, visits).await;
        });
        assert_histogram_registered(&scrape);
        // What only a path or a query can put in a label.
        let paths: BTreeSet<&str> = scrape
            .requests
            .iter()
            .map(|r| r.sent.path.as_str())
            .filter(|path| !ROUTES.contains(path))
            .collect();
        let queries: BTreeSet<&str> = scrape
            .requests
            .iter()
            .filter_map(|r| r.sent.query.as_deref())
            .collect();
        let histograms = &scrape.histograms;
        let leaked: BTreeSet<&str> = histograms
            .iter()
            .flat_map(|h| h.labels.values())
            .map(String::as_str)
            .filter(|value| {
                paths.contains(value) || queries.iter().any(|query| value.contains(query))
            })
            .collect();
        let expected = scrape.by_series();
        if !leaked.is_empty() {
            let shown: Vec<&str> = leaked.iter().take(5).copied().collect();
            panic!(
                "{} requests of {} kinds made {} series: labels hold raw paths or queries ({} …). \
                 Each distinct path is a series of its own, which this process and Prometheus \
                 keep in memory for good: one per talk, per order, per mistyped URL, matched by a \
                 route or not. A label must take a bounded set of values, however many paths \
                 the traffic tries (step 1).",
                scrape.requests.len(),
                expected.len(),
                histograms.len(),
                shown.join(", ")
            );
        }
        // Nor anything else that is no route template.
        let routes: BTreeSet<&str> = histograms
            .iter()
            .map(|h| h.labels["http_route"].as_str())
            .filter(|route| !route.is_empty() && !ROUTES.contains(route))
            .collect();
        assert!(
            routes.is_empty(),
            "series are labelled with the routes {routes:?}, which are none of the service's \
             route templates ({ROUTES:?}): `http_route` is the template the span recorded as \
             `http.route`, and empty when no route matched (step 1)."
        );
        let found: BTreeSet<Key> = histograms.iter().map(labels_of).collect();
        let wanted: BTreeSet<Key> = expected.keys().cloned().collect();
        let list =
            |keys: &BTreeSet<Key>| keys.iter().map(describe_key).collect::<Vec<_>>().join(", ");
        assert!(
            found == wanted,
            "the series should be exactly {}; found {}. One series per method, route template \
             and status the service answered; every path that matches no route shares one, with \
             an empty route; a request left with no status is in none.",
            list(&wanted),
            list(&found)
        );
    }
}

/// Every bucket that counts a request has an exemplar, and each exemplar
/// is one request of its series: its trace, and its own duration.
fn exemplars_point_at_the_requests_traces() {
    let mut rng = scenario::rng();
    // Mostly callers with a trace of their own, then mostly none.
    let shares = [0.65 + 0.3 * rng.f64(), 0.05 + 0.3 * rng.f64()];
    for traced in shares {
        let visits = rng.usize(10..=18);
        let scrape = run(&mut rng, traced, async |shop, shopper| {
            traffic_around_held_requests(shop, shopper, visits).await;
        });
        assert_histogram_registered(&scrape);
        let by_series = scrape.by_series();
        for histogram in &scrape.histograms {
            let key = labels_of(histogram);
            // A series of no answered request is the counting check's.
            if by_series.contains_key(&key) {
                assert_exemplars(&scrape, &key, histogram);
            }
        }
    }
}

fn assert_exemplars(scrape: &Scrape, key: &Key, histogram: &Histogram) {
    let mut below = (0.0, 0.0); // (bound, cumulative count) of the bucket before
    for bucket in &histogram.buckets {
        let counted = bucket.cumulative_count - below.1;
        let Some(exemplar) = &bucket.exemplar else {
            assert!(
                counted <= 0.0,
                "the bucket up to {} s of the series for {} counts {counted} requests, but has \
                 no exemplar: every request is observed with its trace id as the exemplar \
                 (step 4), so that every bucket points at a trace.",
                bucket.le,
                describe_key(key)
            );
            below = (bucket.le, bucket.cumulative_count);
            continue;
        };
        let Some(trace_id) = exemplar.labels.get("trace_id") else {
            panic!(
                "an exemplar of {} has the labels {:?}; it should have `trace_id`, the label \
                 trace viewers and Prometheus look for",
                describe_key(key),
                exemplar.labels
            );
        };
        let named = scrape
            .requests
            .iter()
            .find(|r| r.trace() == Some(trace_id.as_str()));
        let Some(request) = named else {
            let own_trace_of_a_caller = scrape.requests.iter().any(|r| {
                r.sent.caller_trace.is_some()
                    && r.life.trace_id.as_deref() == Some(trace_id.as_str())
            });
            panic!(
                "an exemplar of {} names the trace {trace_id}, which no request the grader sent \
                 belongs to. {}",
                describe_key(key),
                if own_trace_of_a_caller {
                    "It is the trace a request's span began on its own, though that request \
                     carried its caller's `traceparent`: the trace id was read before the span \
                     joined its caller's trace, which happens just after the span is made (and \
                     reading it that early also keeps the span from joining). (Step 4; README, \
                     \"The trace id\".)"
                } else {
                    "The exemplar's `trace_id` is not the trace of any of the service's server \
                     spans: it is not the id the OpenTelemetry layer gave the request's own \
                     span (step 4)."
                }
            );
        };
        let request_key = request.key();
        assert!(
            request_key.as_ref() == Some(key),
            "an exemplar of {} names the trace of a request of another series ({}): each \
             request's trace id goes with its own observation (step 4).",
            describe_key(key),
            request_key
                .as_ref()
                .map_or_else(|| "no series".to_owned(), describe_key)
        );
        let (least, most) = widen(request.life.bounds());
        assert!(
            least <= exemplar.value && exemplar.value <= most,
            "an exemplar of {} names the trace of a request whose span was open {:.1} to {:.1} \
             ms, but carries the value {} s: an exemplar is one request's own observation, its \
             trace and its duration together (step 4).",
            describe_key(key),
            least * 1_000.0,
            most * 1_000.0,
            exemplar.value
        );
        assert!(
            exemplar.value <= bucket.le && exemplar.value >= below.0,
            "an exemplar of {} has the value {} in the bucket ({}, {}]: an exemplar is the \
             observation it came with",
            describe_key(key),
            exemplar.value,
            below.0,
            bucket.le
        );
        below = (bucket.le, bucket.cumulative_count);
    }
}
