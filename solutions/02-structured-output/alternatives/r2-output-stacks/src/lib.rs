//! Lab 02: subscribers and structured output, another correct design. Each
//! output is built as one stack of its own: the JSON lines are the trace-id
//! lookup joined to the JSON format with `Layer::and_then`, added after the
//! OpenTelemetry layer, and the console layer comes last. The filter is
//! parsed with `EnvFilter::builder()`.

pub use reference::{DEFAULT_FILTER, scenario};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// The filter directive to use: what `RUST_LOG` holds, or
/// [`DEFAULT_FILTER`] when it is unset or empty.
pub fn filter_directive(rust_log: Option<String>) -> String {
    match rust_log {
        Some(directive) if !directive.trim().is_empty() => directive,
        _ => DEFAULT_FILTER.to_owned(),
    }
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
    // What does not parse is not applied: the default is, so that errors
    // are still written.
    let filter = EnvFilter::builder().parse(filter).unwrap_or_else(|err| {
        eprintln!("the filter {filter:?} does not parse ({err}): using {DEFAULT_FILTER:?}");
        EnvFilter::new(DEFAULT_FILTER)
    });
    let spans = tracing_opentelemetry::layer().with_tracer(provider.tracer("lab02"));
    // The JSON output, whole: the ids looked up, then the line that shows them.
    let json_lines = telemetry::TraceIdLayer::default().and_then(
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(json)
            .map_event_format(telemetry::WithTraceIds),
    );
    let console_lines = tracing_subscriber::fmt::layer()
        .with_writer(console)
        .with_ansi(false);
    tracing_subscriber::registry()
        .with(filter)
        .with(spans)
        .with(json_lines)
        .with(console_lines)
}

/// For a real program: the filter from `RUST_LOG`, human lines on standard
/// error, JSON lines on standard output.
pub fn init(provider: &SdkTracerProvider) {
    let filter = filter_directive(std::env::var("RUST_LOG").ok());
    let subscriber = subscriber(&filter, std::io::stderr, std::io::stdout, provider);
    tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
}
