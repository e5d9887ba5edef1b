//! Lab 02, subscribers and structured output: the reference solution.
//!
//! A subscriber is a registry with layers stacked on it. The filter comes
//! first, so that nothing it rejects costs the layers after it anything. The
//! JSON lines are tracing-subscriber's own format; the one addition is the
//! trace ids on them, which the OpenTelemetry layer assigns, so it comes
//! before them.

// The scenario is given, not part of the exercise: the lab's own file.
pub use lab02_given::scenario;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// The filter when `RUST_LOG` says nothing: INFO and above, from everyone.
pub const DEFAULT_FILTER: &str = "info";

/// The filter directive to use: what `RUST_LOG` holds, or
/// [`DEFAULT_FILTER`] when it is unset or empty.
pub fn filter_directive(rust_log: Option<String>) -> String {
    rust_log
        .filter(|directive| !directive.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_FILTER.to_owned())
}

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
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(console)
                .with_ansi(false),
        )
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("lab02")))
        // The project's addition: look each span's ids up for the JSON lines.
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
