//! The cost of observability, side by side: one operation, instrumented in
//! each of the ways lab 13 talks about, each under the subscriber that makes
//! it cost what it costs in a service.
//!
//! Read the results as ratios to `uninstrumented`: the absolute numbers
//! belong to this machine, the order of the rows does not.
//!
//! The `span_cost` group prices one span under each kind of subscriber, and
//! the OpenTelemetry SDK's own span without tracing; `just bench` writes it
//! out as a table beside the published figures (`src/span_costs.rs`).

use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::testing::trace::NoopSpanExporter;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::Level;
use tracing::subscriber::NoSubscriber;
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
                .with(telemetry::layers::spans_with_cpu_time(&provider, "bench")),
        );
        group.bench_function("with", |b| b.iter(|| pass(black_box(7))));
    }
    group.finish();
    provider.shutdown().ok();
}

/// The workshop's collector, served on loopback for as long as the
/// returned runtime lives, and a tracer provider that exports to it over
/// OTLP/HTTP in batches, as a service's does.
fn loopback_export() -> (tokio::runtime::Runtime, SdkTracerProvider) {
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
    (runtime, telemetry::tracer_provider("bench", Some(exporter)))
}

/// Spans exported over OTLP/HTTP, in batches, to the workshop's collector
/// on loopback: what the request path pays is queueing the span.
fn otlp(c: &mut Criterion) {
    let (_collector, provider) = loopback_export();
    let settings = telemetry::Settings::quiet("bench");
    let (subscriber, _log_writers) = telemetry::subscriber(&settings, &provider);
    with(subscriber, c, "span_otlp_batch_export", |n| {
        tracing::info_span!("pass", n).in_scope(|| work(n))
    });
    provider.shutdown().ok();
}

/// One span around the work: the same call site in every tracing row of
/// `span_cost`, so that the rows differ only by their subscriber.
fn one_span(n: u64) -> u64 {
    tracing::info_span!("pass", n).in_scope(|| work(n))
}

/// One row of `span_cost`: [`one_span`] under `subscriber`.
fn span_under<S>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, subscriber: S)
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    let _default = tracing::subscriber::set_default(subscriber);
    group.bench_function(name, |b| b.iter(|| one_span(black_box(7))));
}

/// One row of `span_cost`: [`one_span`] under `subscriber`, inside a
/// parent entered around the whole measurement, so that each timed span
/// is a child in the parent's trace. The parent's first child reads the
/// trace's sampling decision before the timing starts.
fn child_span_under<S>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, subscriber: S)
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    let _default = tracing::subscriber::set_default(subscriber);
    let parent = tracing::info_span!("request");
    let _entered = parent.enter();
    one_span(0);
    group.bench_function(name, |b| b.iter(|| one_span(black_box(7))));
}

/// One row of `span_cost` without tracing: the SDK's own span, started and
/// ended around the same work, as the SDK's `benches/span.rs` makes one
/// (it sets its attributes only on a span that records; this one sets the
/// one field the tracing rows carry).
fn sdk_span_under(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    provider: &SdkTracerProvider,
) {
    let tracer = provider.tracer("bench");
    let _default = tracing::subscriber::set_default(NoSubscriber::new());
    group.bench_function(name, |b| {
        b.iter(|| {
            let n = black_box(7_u64);
            let mut span = tracer.start("pass");
            if span.is_recording() {
                span.set_attribute(KeyValue::new("n", n as i64));
            }
            let out = work(n);
            span.end();
            out
        });
    });
}

/// A provider as the SDK's own span benchmark builds it: `sampler`, and a
/// simple processor handing each span to a no-op exporter.
fn sdk_provider(sampler: Sampler) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_simple_exporter(NoopSpanExporter::new())
        .build()
}

/// One span, side by side in one process, under each kind of subscriber,
/// and the OpenTelemetry SDK's own span without tracing, sampled and
/// sampled out. The table `just bench` writes from it reads each row as a
/// ratio to `registry`.
fn span_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("span_cost");
    // The call site disabled: its cached interest says no subscriber
    // wants it.
    span_under(&mut group, "no_subscriber", NoSubscriber::new());
    span_under(&mut group, "registry", tracing_subscriber::registry());
    // The log layers keep each span's fields, formatted, though no event
    // is written inside it.
    span_under(
        &mut group,
        "console_layer",
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink)),
    );
    span_under(
        &mut group,
        "json_layer",
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(std::io::sink),
        ),
    );
    let noop = telemetry::tracer_provider("bench", Some(NoopSpanExporter::new()));
    span_under(
        &mut group,
        "otel_noop_exporter",
        tracing_subscriber::registry().with(telemetry::layers::spans(&noop, "bench")),
    );
    let (_collector, loopback) = loopback_export();
    let (subscriber, _log_writers) =
        telemetry::subscriber(&telemetry::Settings::quiet("bench"), &loopback);
    span_under(&mut group, "otel_otlp_loopback", subscriber);
    let sampled = sdk_provider(Sampler::AlwaysOn);
    sdk_span_under(&mut group, "otel_sdk_span", &sampled);
    // What `OTEL_TRACES_SAMPLER=parentbased_traceidratio` with
    // `OTEL_TRACES_SAMPLER_ARG=0` configures: no new trace is kept. A span
    // sampled out reaches no span processor, so that this provider's is
    // not the services' changes nothing in its rows.
    let sampled_out = sdk_provider(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
        0.0,
    ))));
    sdk_span_under(&mut group, "otel_sdk_span_sampled_out", &sampled_out);
    span_under(
        &mut group,
        "otel_sampled_out",
        tracing_subscriber::registry().with(telemetry::layers::spans(&sampled_out, "bench")),
    );
    // Any other span of that trace: the layer's filter keeps it away from
    // OpenTelemetry once the root's decision is known.
    child_span_under(
        &mut group,
        "otel_sampled_out_child",
        tracing_subscriber::registry().with(telemetry::layers::spans(&sampled_out, "bench")),
    );
    group.finish();
    for provider in [noop, loopback, sampled, sampled_out] {
        provider.shutdown().ok();
    }
}

criterion_group!(benches, cost, span_cpu_time, span_cost);
criterion_main!(benches);
