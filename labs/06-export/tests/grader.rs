//! The grader of lab 06. `just lab 6` runs it and explains each result.
//!
//! Each check starts the workshop's collector on a free port, runs the
//! service with your telemetry through a burst of requests, shuts it down
//! as a service would (serve the last request, then `shutdown`), and reads
//! what the collector received.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::Request;
use axum::middleware::{self, Next};
use collector::model::{Span, Value};
use collector::store::{Store, TraceQuery};
use futures_util::future::join_all;
use grader_kit::services::Service;
use lab06::{service, telemetry};

grader_kit::checks![
    spans_reach_the_collector,
    service_name_is_set,
    resource_attributes_are_set,
    every_span_arrives,
    spans_travel_in_batches,
];

const SERVICE: &str = "quotes";
/// A second name, so that only the `service` argument passes for it.
const OTHER_SERVICE: &str = "tickets";
const REQUESTS: usize = 100;

struct Received {
    /// What the collector held when `shutdown` returned.
    spans: Vec<Span>,
    /// Spans that arrived only later, when the provider was dropped: made
    /// and exported, but not flushed by `shutdown`.
    late: usize,
    /// OTLP requests the collector answered.
    exports: usize,
    /// How `telemetry` or `shutdown` failed, if they did.
    error: Option<String>,
}

/// The collector, the service with your telemetry, a burst of requests,
/// a shutdown, and what arrived.
fn run_burst(service: &'static str) -> Received {
    let store = Arc::new(Store::in_memory(100_000));
    let exports = Arc::new(AtomicUsize::new(0));
    let counter = exports.clone();
    let ingest = collector::ingest::router(store.clone()).layer(middleware::from_fn(
        move |request: Request, next: Next| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                next.run(request).await
            }
        },
    ));
    let collector = Service::spawn("collector", ingest);

    let outcome = std::thread::spawn({
        let (endpoint, store) = (collector.url(), store.clone());
        move || serve_burst(service, &endpoint, &store)
    })
    .join()
    .expect("the service thread finishes");
    // The thread has dropped the subscriber and with it the provider, whose
    // drop exports what is still queued: anything new came too late.
    let held_at_the_end = all_spans(&store).len();
    drop(collector.stop());
    let (spans, error) = match outcome {
        Ok(spans) => (spans, None),
        Err(error) => (Vec::new(), Some(error)),
    };
    Received {
        late: held_at_the_end.saturating_sub(spans.len()),
        spans,
        exports: exports.load(Ordering::Relaxed),
        error,
    }
}

/// What a service's `main` does: set telemetry up, serve, shut down. Returns
/// what the collector holds right after `shutdown` returned (and before the
/// subscriber is dropped, which would flush too, but too late for a service
/// that is exiting).
fn serve_burst(service: &str, endpoint: &str, store: &Store) -> Result<Vec<Span>, String> {
    let (subscriber, telemetry) =
        telemetry(service, endpoint).map_err(|err| format!("`telemetry` failed: {err}"))?;
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, service::app())
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        let client = reqwest::Client::new();
        // In bursts of ten at once.
        for batch in 0..REQUESTS / 10 {
            let requests = (0..10).map(|i| {
                client
                    .get(format!("{url}/quote/{}", (batch * 10 + i) % 8 + 1))
                    .send()
            });
            for response in join_all(requests).await {
                assert!(response.expect("the service answers").status().is_success());
            }
        }
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
    drop(runtime);
    telemetry
        .shutdown()
        .map_err(|err| format!("`shutdown` failed: {err}"))?;
    Ok(all_spans(store))
}

fn all_spans(store: &Store) -> Vec<Span> {
    let all = TraceQuery {
        limit: 0,
        ..TraceQuery::default()
    };
    store.traces(&all).into_iter().flatten().collect()
}

/// What to say when spans were made and exported, but only after
/// `shutdown` had returned.
fn not_flushed(late: usize) -> String {
    format!(
        "Your spans were created and exported, but not flushed: when `shutdown` returned, \
         {late} of them were still queued, and reached the collector only later, when the \
         provider was dropped. A service that exits right after `shutdown` loses them. In \
         `Telemetry::shutdown`, shut the provider down, which flushes its queue (README \
         step 5)."
    )
}

fn received() -> Received {
    received_from(SERVICE)
}

/// What the collector received from the service named `service`, or a
/// failure that says why nothing arrived.
fn received_from(service: &'static str) -> Received {
    let received = run_burst(service);
    if let Some(error) = &received.error {
        panic!("{error}");
    }
    if received.spans.is_empty() && received.late > 0 {
        panic!("{}", not_flushed(received.late));
    }
    assert!(
        !received.spans.is_empty(),
        "No span reached the collector. Build an OTLP/HTTP exporter to `{{endpoint}}/v1/traces` \
         (README step 1), put it behind the provider with a batch processor (step 2), give \
         the subscriber the OpenTelemetry layer with the provider's tracer (step 4), and \
         flush at shutdown (step 5). (A simple processor would export each span on the \
         thread that ends it, the service's async runtime, where the exporter's blocking \
         HTTP client cannot run: that is one more reason for the batch processor.)"
    );
    received
}

fn spans_reach_the_collector() {
    let received = received();
    let names: std::collections::BTreeSet<&str> =
        received.spans.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains("quote") && names.contains("price_lookup"),
        "The service's spans, `quote` and `price_lookup`, should reach the collector; it \
         received {names:?}."
    );
}

fn service_name_is_set() {
    for service in [SERVICE, OTHER_SERVICE] {
        let received = received_from(service);
        let services: std::collections::BTreeSet<&str> =
            received.spans.iter().map(|s| s.service.as_str()).collect();
        assert_eq!(
            services.into_iter().collect::<Vec<_>>(),
            [service],
            "Every span should say it comes from the service {service:?}, the name \
             `telemetry` was given: build the resource with `.with_service_name(service)` \
             (README step 3), and give it to the provider (`.with_resource(...)`, step 2)."
        );
    }
}

fn resource_attributes_are_set() {
    let received = received();
    let span = &received.spans[0];
    let attribute = |key: &str| {
        span.resource
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        attribute("service.version"),
        Some(Value::Str(env!("CARGO_PKG_VERSION").to_owned())),
        "The resource should have `service.version` = {:?}, the crate's version \
         (`env!(\"CARGO_PKG_VERSION\")`), README step 3. It has {:?}.",
        env!("CARGO_PKG_VERSION"),
        span.resource
    );
    assert_eq!(
        attribute("deployment.environment.name"),
        Some(Value::Str("workshop".to_owned())),
        "The resource should have `deployment.environment.name` = \"workshop\" (README step 3)."
    );
}

fn every_span_arrives() {
    let received = received();
    for name in ["quote", "price_lookup"] {
        let count = received.spans.iter().filter(|s| s.name == name).count();
        if count < REQUESTS && received.late > 0 {
            panic!("{}", not_flushed(received.late));
        }
        assert_eq!(
            count, REQUESTS,
            "{REQUESTS} requests make {REQUESTS} `{name}` spans, but the collector received \
             {count}. Spans still in the batch queue when the service stops are lost unless \
             `shutdown` flushes them: shut the provider down there (README step 5)."
        );
    }
}

fn spans_travel_in_batches() {
    let received = received();
    let spans = received.spans.len();
    assert!(
        received.exports <= spans / 10,
        "{spans} spans arrived in {} requests: about one request per span. Put the exporter \
         behind a batch processor (`.with_batch_exporter(exporter)`, README step 2), which \
         sends them many at a time from a thread of its own.",
        received.exports
    );
}
