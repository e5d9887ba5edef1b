//! Lab 11's given code: the ticket service the learner's metrics layer
//! watches. Not the learner's to edit; the grader relies on it as it is.
//!
//! - [`app`]: the service's routes, each request in a server span made by
//!   tower-http's `TraceLayer` (the span the learner's layer reads), and
//!   `GET /metrics`, which serves a Prometheus registry as OpenMetrics text.
//! - [`Shop`]: the talks and orders behind the routes, with two switches
//!   for the grader: the payment provider's state and a think time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Json, MatchedPath, Path, State};
use axum::http::{Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Router, body::Body};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tower_http::trace::TraceLayer;
use tracing::{Span, field, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The name of every server span. A layer knows a request's span by it
/// (the span's `otel.name`, what a trace viewer shows, is `METHOD /route`).
pub const SERVER_SPAN: &str = "http.server";

/// The content type of OpenMetrics text, which Prometheus asks for.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The service: its routes under server spans, and `GET /metrics`
/// serving `registry`.
pub fn app(shop: Arc<Shop>, registry: Arc<Registry>) -> Router {
    let metrics = get(move || async move {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        ([(header::CONTENT_TYPE, OPENMETRICS)], text)
    });
    Router::new()
        .route("/talks/{talk_id}", get(talk))
        .route("/orders", post(place_order))
        .route("/orders/{order_id}", get(order))
        .route("/metrics", metrics)
        .with_state(shop)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(server_span)
                .on_response(record_status),
        )
}

/// A request's server span, with OpenTelemetry's HTTP attributes, in the
/// caller's trace when the request carries a `traceparent`.
fn server_span(request: &Request<Body>) -> Span {
    let method = request.method().as_str();
    // The route template (`/talks/{talk_id}`), when a route matched: axum
    // puts it in the request's extensions before this layer runs.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let span = info_span!(
        SERVER_SPAN,
        otel.name = route.map_or_else(|| method.to_owned(), |route| format!("{method} {route}")),
        otel.kind = "server",
        http.request.method = method,
        http.route = route,
        url.path = request.uri().path(),
        http.response.status_code = field::Empty,
    );
    let caller = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    // Fails only for a span that has started, which a new one has not.
    let _ = span.set_parent(caller);
    span
}

/// Records the status on the request's span as the response leaves.
fn record_status(response: &Response<Body>, _latency: Duration, span: &Span) {
    span.record("http.response.status_code", response.status().as_u16());
}

/// A talk, as `GET /talks/{talk_id}` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Talk {
    pub id: u32,
    pub title: String,
    pub price_cents: u64,
}

/// What `POST /orders` takes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewOrder {
    pub talk_id: u32,
    pub seats: u32,
}

/// An order, as `POST /orders` and `GET /orders/{order_id}` answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub talk_id: u32,
    pub seats: u32,
    pub total_cents: u64,
}

/// The talks (ids 1 to [`Shop::TALKS`]) and the orders placed.
#[derive(Debug)]
pub struct Shop {
    orders: Mutex<HashMap<u64, Order>>,
    next_order: AtomicU64,
    payments_up: AtomicBool,
    think_time_ms: AtomicU64,
}

impl Shop {
    /// How many talks there are.
    pub const TALKS: u32 = 100;

    /// A shop with its payment provider up, answering at once. Order ids
    /// start at `first_order_id`.
    pub fn new(first_order_id: u64) -> Arc<Self> {
        Arc::new(Self {
            orders: Mutex::new(HashMap::new()),
            next_order: AtomicU64::new(first_order_id),
            payments_up: AtomicBool::new(true),
            think_time_ms: AtomicU64::new(0),
        })
    }

    /// While the payment provider is down, `POST /orders` answers 503.
    pub fn set_payments_up(&self, up: bool) {
        self.payments_up.store(up, Ordering::SeqCst);
    }

    /// How long every route takes before it answers.
    pub fn set_think_time(&self, think_time: Duration) {
        let millis = u64::try_from(think_time.as_millis()).unwrap_or(u64::MAX);
        self.think_time_ms.store(millis, Ordering::SeqCst);
    }

    async fn think(&self) {
        let millis = self.think_time_ms.load(Ordering::SeqCst);
        if millis > 0 {
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
    }

    fn talk(id: u32) -> Option<Talk> {
        (1..=Self::TALKS).contains(&id).then(|| Talk {
            id,
            title: format!("Talk number {id}"),
            price_cents: 1_000 + u64::from(id) * 50,
        })
    }
}

async fn talk(State(shop): State<Arc<Shop>>, Path(talk_id): Path<u32>) -> impl IntoResponse {
    shop.think().await;
    match Shop::talk(talk_id) {
        Some(talk) => Json(talk).into_response(),
        None => (StatusCode::NOT_FOUND, format!("there is no talk {talk_id}")).into_response(),
    }
}

async fn place_order(
    State(shop): State<Arc<Shop>>,
    Json(new): Json<NewOrder>,
) -> impl IntoResponse {
    shop.think().await;
    let Some(talk) = Shop::talk(new.talk_id) else {
        let reason = format!("there is no talk {}", new.talk_id);
        return (StatusCode::NOT_FOUND, reason).into_response();
    };
    if !shop.payments_up.load(Ordering::SeqCst) {
        let reason = "the payment provider is not answering; try again later";
        return (StatusCode::SERVICE_UNAVAILABLE, reason).into_response();
    }
    let order = Order {
        id: shop.next_order.fetch_add(1, Ordering::SeqCst),
        talk_id: talk.id,
        seats: new.seats,
        total_cents: talk.price_cents * u64::from(new.seats),
    };
    let mut orders = shop.orders.lock().expect("no handler panics holding it");
    orders.insert(order.id, order.clone());
    (StatusCode::CREATED, Json(order)).into_response()
}

async fn order(State(shop): State<Arc<Shop>>, Path(order_id): Path<u64>) -> impl IntoResponse {
    shop.think().await;
    let found = shop
        .orders
        .lock()
        .expect("no handler panics holding it")
        .get(&order_id)
        .cloned();
    match found {
        Some(order) => Json(order).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("there is no order {order_id}"),
        )
            .into_response(),
    }
}
