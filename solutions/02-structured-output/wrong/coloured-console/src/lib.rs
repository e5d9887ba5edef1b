//! Lab 02, a wrong solution. The learner keeps the console layer's default
//! colours, believing they are cosmetic and a developer's terminal renders them;
//! the console output is then full of ANSI escape codes wherever it is written
//! to a file or a pipe.

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
        .with(tracing_subscriber::fmt::layer().with_writer(console))
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
