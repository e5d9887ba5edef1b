//! Lab 02, a wrong solution. The learner adds `telemetry::TraceIdLayer` after
//! the JSON layer, believing layers are independent and their order does not
//! matter; each layer sees an event after those before it, so the first line in
//! each span is written before its ids are looked up.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

pub use reference::*;

/// The workshop's subscriber.
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
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|err| {
        eprintln!("ignoring the filter {filter:?}: {err}");
        EnvFilter::new(DEFAULT_FILTER)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(console)
                .with_ansi(false),
        )
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("lab02")))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(json)
                .map_event_format(telemetry::WithTraceIds),
        )
        .with(telemetry::TraceIdLayer::default())
}

/// For a real program: the filter from `RUST_LOG`, human lines on standard
/// error, JSON lines on standard output.
pub fn init(provider: &SdkTracerProvider) {
    let filter = filter_directive(std::env::var("RUST_LOG").ok());
    let subscriber = subscriber(&filter, std::io::stderr, std::io::stdout, provider);
    tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
}
