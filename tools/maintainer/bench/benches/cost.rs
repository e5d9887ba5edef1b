//! The cost of observability, side by side: one operation, instrumented in
//! each of the ways lab 13 talks about, each under the subscriber that makes
//! it cost what it costs in a service.
//!
//! Read the results as ratios to `uninstrumented`: the absolute numbers
//! belong to this machine, the order of the rows does not.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::testing::trace::NoopSpanExporter;
use tracing::Level;
use tracing_subscriber::prelude::*;

/// The work being observed: small, like one pass of a hot loop.
fn work(n: u64) -> u64 {
    (0..16).fold(n, |acc, i| acc.rotate_left(5) ^ i)
}

fn with<S>(subscriber: S, c: &mut Criterion, name: &str, mut pass: impl FnMut(u64) -> u64)
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    let _default = tracing::subscriber::set_default(subscriber);
    c.benchmark_group("cost_of_observability")
        .bench_function(name, |b| b.iter(|| pass(black_box(7))));
}

fn info_only() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::INFO)
}

fn cost(c: &mut Criterion) {
    with(info_only(), c, "uninstrumented", work);
    with(info_only(), c, "disabled_span", |n| {
        tracing::debug_span!("pass", n).in_scope(|| work(n))
    });
    // A registry with no layers: the span is enabled and stored, nobody
    // reads it.
    with(
        tracing_subscriber::registry(),
        c,
        "span_noop_subscriber",
        |n| tracing::info_span!("pass", n).in_scope(|| work(n)),
    );
    let fmt = || {
        tracing_subscriber::fmt()
            .with_max_level(Level::INFO)
            .with_writer(std::io::sink)
    };
    with(fmt().finish(), c, "event_fmt", |n| {
        let out = work(n);
        tracing::info!(n, out, "pass");
        out
    });
    with(fmt().json().finish(), c, "event_json", |n| {
        let out = work(n);
        tracing::info!(n, out, "pass");
        out
    });
    // Something dear to format: a reading's raw payload.
    let payload = vec![42_u8; 64];
    with(fmt().finish(), c, "disabled_event_formatted_eagerly", |n| {
        let details = format!("{payload:?}");
        tracing::trace!(details, "pass");
        work(n)
    });
    with(fmt().finish(), c, "disabled_event_lazy_field", |n| {
        tracing::trace!(?payload, "pass");
        work(n)
    });
    otlp(c);
}

/// What measuring each span's own CPU time (`telemetry::cpu_time`: a read
/// of the thread's CPU clock at every enter and exit) adds to a span
/// handed to OpenTelemetry, side by side with the same span without it.
fn span_cpu_time(c: &mut Criterion) {
    let provider = telemetry::tracer_provider("bench", Some(NoopSpanExporter::new()));
    let pass = |n| tracing::info_span!("pass", n).in_scope(|| work(n));
    let mut group = c.benchmark_group("span_cpu_time");
    {
        let _default = tracing::subscriber::set_default(
            tracing_subscriber::registry().with(telemetry::layers::spans(&provider, "bench")),
        );
        group.bench_function("without", |b| b.iter(|| pass(black_box(7))));
    }
    {
        let _default = tracing::subscriber::set_default(
            tracing_subscriber::registry()
                .with(telemetry::cpu_time::layer())
                .with(telemetry::layers::spans(&provider, "bench")),
        );
        group.bench_function("with", |b| b.iter(|| pass(black_box(7))));
    }
    group.finish();
    provider.shutdown().ok();
}

/// Spans exported over OTLP/HTTP, in batches, to the workshop's collector
/// on loopback: what the request path pays is queueing the span.
fn otlp(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let store = Arc::new(collector::store::Store::in_memory(100_000));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a port on loopback");
    let endpoint = format!(
        "{}{}",
        collector_client::loopback(listener.local_addr().unwrap().port()),
        collector_client::routes::OTLP_TRACES
    );
    runtime.spawn(async move {
        axum::serve(listener, collector::ingest::router(store))
            .await
            .ok()
    });
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()
        .expect("an OTLP exporter");
    let provider = telemetry::tracer_provider("bench", Some(exporter));
    let settings = telemetry::Settings::quiet("bench");
    let (subscriber, _log_writers) = telemetry::subscriber(&settings, &provider);
    with(subscriber, c, "span_otlp_batch_export", |n| {
        tracing::info_span!("pass", n).in_scope(|| work(n))
    });
    provider.shutdown().ok();
}

criterion_group!(benches, cost, span_cpu_time);
criterion_main!(benches);
