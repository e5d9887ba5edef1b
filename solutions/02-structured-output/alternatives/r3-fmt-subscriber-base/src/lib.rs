//! Lab 02, another correct design: the base is `tracing_subscriber::fmt()`.
//!
//! The filter and the console lines come from the `fmt` subscriber builder
//! (`with_env_filter`, `with_writer`, `with_ansi`, `finish`), a subscriber
//! whose filter decides for everything stacked on it. The OpenTelemetry
//! layer, the trace-id lookup and the JSON lines are then layered onto that
//! subscriber instead of onto a bare registry. `filter_directive` and the
//! scenario are the reference's.

pub use reference::{DEFAULT_FILTER, filter_directive, scenario};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// The workshop's subscriber.
///
/// - `filter`: an `EnvFilter` directive, such as `info` or `lab02=debug`;
/// - `console`: where the human-readable lines go;
/// - `json`: where the JSON lines go, one per event, each with the current
///   span's fields and the trace and span ids;
/// - `provider`: the OpenTelemetry tracer provider that gives spans ids.
pub fn subscriber<C, J>(
    filter: &str,
    console: C,
    json: J,
    provider: &SdkTracerProvider,
) -> impl Subscriber + Send + Sync + for<'a> LookupSpan<'a>
where
    C: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    J: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // A directive that does not parse should not silence the service:
    // fall back to the default, and say so.
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|err| {
        eprintln!("ignoring the filter {filter:?}: {err}");
        EnvFilter::new(DEFAULT_FILTER)
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(console)
        .with_ansi(false)
        .finish()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("lab02")))
        .with(telemetry::TraceIdLayer::default())
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(json)
                .map_event_format(telemetry::WithTraceIds),
        )
}

/// For a real program: the filter from `RUST_LOG`, human lines on standard
/// error, JSON lines on standard output.
pub fn init(provider: &SdkTracerProvider) {
    let filter = filter_directive(std::env::var("RUST_LOG").ok());
    let subscriber = subscriber(&filter, std::io::stderr, std::io::stdout, provider);
    tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
}
