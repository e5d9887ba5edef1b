//! Lab 02, subscribers and structured output: another correct design. Each
//! layer is built on its own line and stacked on a `Registry`: the console
//! lines are tracing-subscriber's compact format; the OpenTelemetry layer is
//! made with `OpenTelemetryLayer::new`; the JSON layer is assembled from its
//! parts (`JsonFields` for the span fields, the JSON event format wrapped in
//! `telemetry::WithTraceIds` by hand) instead of `.json()` and
//! `map_event_format`.

// The scenario is given, not part of the exercise: the lab's own file.
pub use lab02_given::scenario;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::fmt::{self, MakeWriter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Registry};

// The default filter is the reference solution's.
pub use reference::DEFAULT_FILTER;

/// The filter directive to use: what `RUST_LOG` holds, or
/// [`DEFAULT_FILTER`] when it is unset or empty.
pub fn filter_directive(rust_log: Option<String>) -> String {
    match rust_log.as_deref().map(str::trim) {
        Some(directive) if !directive.is_empty() => directive.to_owned(),
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
    // A directive that does not parse should not silence the service.
    let filter = match EnvFilter::try_new(filter) {
        Ok(filter) => filter,
        Err(err) => {
            eprintln!("ignoring the filter {filter:?}: {err}");
            EnvFilter::new(DEFAULT_FILTER)
        }
    };
    let console_lines = fmt::layer().compact().with_ansi(false).with_writer(console);
    let span_ids = OpenTelemetryLayer::new(provider.tracer("lab02"));
    let json_lines = fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(telemetry::WithTraceIds(
            fmt::format().json().with_current_span(true),
        ))
        .with_writer(json);
    Registry::default()
        .with(filter)
        .with(console_lines)
        .with(span_ids)
        // After the OpenTelemetry layer, which gives the ids; before the JSON
        // lines, which write them.
        .with(telemetry::TraceIdLayer::default())
        .with(json_lines)
}

/// For a real program: the filter from `RUST_LOG`, human lines on standard
/// error, JSON lines on standard output.
pub fn init(provider: &SdkTracerProvider) {
    let filter = filter_directive(std::env::var("RUST_LOG").ok());
    let subscriber = subscriber(&filter, std::io::stderr, std::io::stdout, provider);
    tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
}
