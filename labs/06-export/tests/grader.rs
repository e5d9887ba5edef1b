//! The grader of lab 06. `just lab 6` runs it and explains each result.
//!
//! Each check starts the workshop's collector on a free port, runs the
//! service with your telemetry under a name the check draws at random,
//! through a burst of requests (how many, in what bursts, for which talks:
//! drawn at random too), shuts it down as a service would (serve the last
//! request, then `shutdown`), and reads what the collector received: every
//! span, its resource, and how many export requests carried them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::Request;
use axum::middleware::{self, Next};
use collector::store::{Store, TraceQuery};
use futures_util::future::join_all;
use grader_kit::scenario::{self, Rng};
use grader_kit::services::Service;
use lab06::{service, telemetry};
use trace_analysis::model::{Span, Value};

grader_kit::checks![
    spans_reach_the_collector,
    service_name_is_set,
    resource_attributes_are_set,
    every_span_arrives,
    spans_travel_in_batches,
];

/// The environment the README names.
const ENVIRONMENT: &str = "workshop";

/// The requests of one run: the talk each asks a quote for, sent in
/// bursts of the given sizes (the requests of a burst at once).
struct Plan {
    talks: Vec<u32>,
    bursts: Vec<usize>,
}

impl Plan {
    fn draw(rng: &mut Rng, requests: std::ops::RangeInclusive<usize>) -> Self {
        let count = rng.usize(requests);
        let talks = (0..count).map(|_| rng.u32(1..=60)).collect();
        let mut bursts = Vec::new();
        let mut left = count;
        while left > 0 {
            let burst = rng.usize(1..=15).min(left);
            bursts.push(burst);
            left -= burst;
        }
        Plan { talks, bursts }
    }
}

/// A service name no constant can match.
fn service_name(rng: &mut Rng) -> String {
    let len = rng.usize(5..=10);
    scenario::word(rng, len)
}

struct Received {
    /// What the collector held when `shutdown` returned.
    spans: Vec<Span>,
    /// Spans that arrived only later, when the provider was dropped: made
    /// and exported, but not flushed by `shutdown`.
    late: usize,
    /// OTLP requests the collector answered.
    exports: usize,
    /// How `telemetry` or `shutdown` failed, or the service with them, if
    /// they did.
    error: Option<String>,
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic with a value that is not text)".to_owned())
}

/// The collector, the service with your telemetry, a burst of requests,
/// a shutdown, and what arrived.
fn run_burst(service: &str, plan: &Plan) -> Received {
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
        let (service, talks, bursts) =
            (service.to_owned(), plan.talks.clone(), plan.bursts.clone());
        move || serve_burst(&service, &endpoint, &store, &talks, &bursts)
    })
    .join()
    .unwrap_or_else(|payload| {
        Err(format!(
            "The service panicked while it ran with your telemetry: {}",
            panic_text(&*payload)
        ))
    });
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
fn serve_burst(
    service: &str,
    endpoint: &str,
    store: &Store,
    talks: &[u32],
    bursts: &[usize],
) -> Result<Vec<Span>, String> {
    let (subscriber, telemetry) =
        telemetry(service, endpoint).map_err(|err| format!("`telemetry` failed: {err}"))?;
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, service::app())
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        let client = reqwest::Client::new();
        let mut talks = talks.iter();
        for &burst in bursts {
            let requests = talks
                .by_ref()
                .take(burst)
                .map(|talk| client.get(format!("{url}/quote/{talk}")).send());
            for response in join_all(requests).await {
                assert!(response.expect("the service answers").status().is_success());
            }
        }
        let _ = stop.send(());
        server
            .await
            .expect("the server task ends")
            .expect("the server stops cleanly");
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
         provider was dropped. A service that exits right after `shutdown` loses them: \
         when `shutdown` returns, nothing may still wait in the queue (README step 5)."
    )
}

/// What the collector received from the service named `service`, or a
/// failure that says why nothing arrived.
fn received_from(service: &str, plan: &Plan) -> Received {
    let received = run_burst(service, plan);
    if let Some(error) = &received.error {
        panic!("{error}");
    }
    if received.spans.is_empty() && received.late > 0 {
        panic!("{}", not_flushed(received.late));
    }
    assert!(
        !received.spans.is_empty(),
        "No span reached the collector, before `shutdown` returned or after. On their way \
         there, spans go from `tracing` to OpenTelemetry's layer, to the provider's tracer \
         and processor, to the OTLP/HTTP exporter, and to the collector's \
         `{{endpoint}}/v1/traces`: the way is broken at one of those steps (README steps 1, 2 \
         and 4). (A span handed to the exporter the moment it ends is exported on the thread \
         that ends it, the service's async runtime, where the exporter's blocking HTTP client \
         cannot run.)"
    );
    received
}

/// A span's attribute as text.
fn text(span: &Span, key: &str) -> Option<String> {
    span.attribute(key).map(ToString::to_string)
}

/// Names of the spans received, with how many of each, for messages.
fn census(spans: &[Span]) -> BTreeMap<&str, usize> {
    let mut names = BTreeMap::new();
    for span in spans {
        *names.entry(span.name.as_str()).or_insert(0) += 1;
    }
    names
}

fn spans_reach_the_collector() {
    let mut rng = scenario::rng();
    let name = service_name(&mut rng);
    let plan = Plan::draw(&mut rng, 10..=40);
    let received = received_from(&name, &plan);
    let names = census(&received.spans);
    assert!(
        names.contains_key("quote") && names.contains_key("price_lookup"),
        "The service's spans, `quote` and `price_lookup`, should reach the collector; it \
         received {names:?}."
    );
    // Whole traces: every price lookup arrives as the child of its quote.
    for lookup in received.spans.iter().filter(|s| s.name == "price_lookup") {
        let parent = received.spans.iter().find(|s| {
            Some(&s.span_id) == lookup.parent_span_id.as_ref() && s.trace_id == lookup.trace_id
        });
        assert!(
            parent.is_some_and(|p| p.name == "quote"),
            "A `price_lookup` span arrived without its parent `quote` span (its parent is {:?}): \
             the service makes each price lookup inside its request's span, and the trace \
             should arrive whole.",
            lookup.parent_span_id
        );
    }
}

fn service_name_is_set() {
    let mut rng = scenario::rng();
    // Two services of other names: only the name given to `telemetry` passes.
    let names = scenario::distinct(&mut rng, 2, service_name);
    for name in names {
        let plan = Plan::draw(&mut rng, 5..=20);
        let received = received_from(&name, &plan);
        let services: std::collections::BTreeSet<&str> =
            received.spans.iter().map(|s| s.service.as_str()).collect();
        assert!(
            services.len() == 1 && services.contains(name.as_str()),
            "`telemetry` was called for the service {name:?}, so every span should say it comes \
             from {name:?} (the resource's `service.name`, a string); the spans came from \
             {services:?}: the name given to `telemetry` did not reach the spans' resource \
             (README steps 2 and 3)."
        );
    }
}

/// Where the crate's own code writes the version out as text: a version
/// typed in the code says the same today and something false at the next
/// release. Comments aside.
fn version_written_out(version: &str) -> Vec<String> {
    fn visit(dir: &Path, literal: &str, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                visit(&path, literal, found);
            } else if path.extension().is_some_and(|e| e == "rs")
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or_default();
                    if code.contains(literal) {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    visit(&src, &format!("\"{version}\""), &mut found);
    found
}

fn resource_attributes_are_set() {
    let mut rng = scenario::rng();
    let name = service_name(&mut rng);
    let plan = Plan::draw(&mut rng, 10..=40);
    let received = received_from(&name, &plan);
    let version = env!("CARGO_PKG_VERSION");
    // Every span carries the resource of the export that brought it.
    for span in &received.spans {
        let attribute = |key: &str| {
            span.resource
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let found = attribute("service.version");
        assert!(
            found == Some(Value::Str(version.to_owned())),
            "Every span's resource should have `service.version` = \"{version}\", the crate's \
             version, as a string (README step 3). The `{}` span's resource has {}: {:?}.",
            span.name,
            found.map_or("no `service.version`".to_owned(), |v| format!("{v:?}")),
            span.resource
        );
        let found = attribute("deployment.environment.name");
        assert!(
            found == Some(Value::Str(ENVIRONMENT.to_owned())),
            "Every span's resource should have `deployment.environment.name` = \
             \"{ENVIRONMENT}\", as a string (README step 3). The `{}` span's resource has {}.",
            span.name,
            found.map_or("none".to_owned(), |v| format!("{v:?}"))
        );
    }
    let typed = version_written_out(version);
    assert!(
        typed.is_empty(),
        "`service.version` says \"{version}\", and your code writes that version out as text:\n  \
         {}\nIt is right today and wrong at the next release, when the crate's version moves \
         and this text does not (README step 3).",
        typed.join("\n  ")
    );
}

fn every_span_arrives() {
    let mut rng = scenario::rng();
    let name = service_name(&mut rng);
    let plan = Plan::draw(&mut rng, 40..=120);
    let requests = plan.talks.len();
    let received = received_from(&name, &plan);
    for kind in ["quote", "price_lookup"] {
        let count = received.spans.iter().filter(|s| s.name == kind).count();
        if count < requests && received.late > 0 {
            panic!("{}", not_flushed(received.late));
        }
        assert!(
            count == requests,
            "{requests} requests make {requests} `{kind}` spans, but the collector received \
             {count}. Spans still in the batch queue when the service stops are lost unless \
             `shutdown` flushes them (README step 5)."
        );
    }
    // Each request's own span, once: the talks quoted, as many times as asked.
    let mut asked: Vec<String> = plan.talks.iter().map(ToString::to_string).collect();
    let mut quoted: Vec<String> = received
        .spans
        .iter()
        .filter(|s| s.name == "quote")
        .map(|s| text(s, "talk_id").unwrap_or_default())
        .collect();
    asked.sort();
    quoted.sort();
    assert!(
        asked == quoted,
        "The collector received {requests} `quote` spans, but not one per request: the talks \
         quoted differ from the talks asked (a span sent twice, another lost)."
    );
    let mut ids: Vec<&str> = received.spans.iter().map(|s| s.span_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert!(
        ids.len() == received.spans.len(),
        "The collector received {} spans but only {} distinct ones: some were sent twice.",
        received.spans.len(),
        ids.len()
    );
}

fn spans_travel_in_batches() {
    let mut rng = scenario::rng();
    let name = service_name(&mut rng);
    let plan = Plan::draw(&mut rng, 40..=120);
    let received = received_from(&name, &plan);
    let spans = received.spans.len();
    assert!(
        received.exports * 10 <= spans,
        "{spans} spans arrived in {} export requests: fewer than ten spans a request, about \
         one request per span: the spans left nearly one by one, at the cost of an HTTP \
         request each (README step 2).",
        received.exports
    );
}
