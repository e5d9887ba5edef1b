//! An action against a plain span, through the same subscriber: what the
//! outcome, the data map and the statistics cost on top of a span. Twice:
//! with a subscriber of action layers only, where nothing else hides that
//! cost, and with the demo services' own subscriber (`telemetry`), where
//! every span also goes to OpenTelemetry.

use std::hint::black_box;
use std::sync::Arc;

use actions::{ActionLayer, Levels, LineSink, Stats, StatsSink};
use criterion::{Criterion, criterion_group, criterion_main};
use tracing_subscriber::prelude::*;

// ANCHOR: span_and_action
fn span() {
    tracing::info_span!("reserve", talk_id = 3_u64).in_scope(|| black_box(2_u32));
}

fn action() {
    let seats: Result<u32, std::convert::Infallible> = actions::run("reserve", |act| {
        act.set("talk_id", 3_u64);
        Ok(black_box(2))
    });
    black_box(seats).ok();
}
// ANCHOR_END: span_and_action

fn compare(c: &mut Criterion, group: &str) {
    let mut group = c.benchmark_group(group);
    group.bench_function("span", |b| b.iter(span));
    group.bench_function("action", |b| b.iter(action));
    group.finish();
}

fn action_layers_only(c: &mut Criterion) {
    // Statistics of every action, and a human log that (with the default
    // levels) writes only failures and exceptions; one layer, both sinks.
    let sinks = (
        StatsSink::new(Arc::new(Stats::default())),
        LineSink::human(std::io::sink, Levels::default()),
    );
    let _default = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(ActionLayer::new(sinks)),
    );
    compare(c, "action_vs_span");
}

fn service_subscriber(c: &mut Criterion) {
    let provider =
        telemetry::tracer_provider::<opentelemetry_sdk::trace::InMemorySpanExporter>("bench", None);
    let settings = telemetry::Settings::quiet("bench");
    let (subscriber, _log_writers) = telemetry::subscriber(&settings, &provider);
    let _default = tracing::subscriber::set_default(subscriber);
    compare(c, "action_vs_span_in_a_service");
}

criterion_group!(benches, action_layers_only, service_subscriber);
criterion_main!(benches);
