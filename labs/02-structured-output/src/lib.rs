//! Lab 02, subscribers and structured output.
//!
//! Spans and events are only recorded; what becomes of them is decided by
//! the *subscriber*. In `tracing_subscriber` a subscriber is a registry with
//! layers stacked on it: a filter decides what is recorded at all, and each
//! output is a layer with its own format and its own writer. Here you build
//! the one a service needs: human lines for the developer at the console,
//! JSON lines (with the trace ids) for log aggregation.
//!
//! Run `just lab 2` to check your work, `just hint 2` when stuck.

pub use lab02_given::scenario;

use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::registry::LookupSpan;

/// The filter when `RUST_LOG` says nothing: INFO and above, from everyone.
pub const DEFAULT_FILTER: &str = "info";

/// The filter directive to use: what `RUST_LOG` holds, or
/// [`DEFAULT_FILTER`] when it says nothing.
#[expect(unused_variables, reason = "step 1 uses `rust_log`")]
pub fn filter_directive(rust_log: Option<String>) -> String {
    // TODO(step 1): decide when `rust_log` says nothing (README step 1);
    // any other directive is the operator's, passed on unchanged.
    todo!("choose the filter directive")
}

/// The workshop's subscriber.
///
/// - `filter`: an `EnvFilter` directive, such as `info` or `lab02=debug`;
/// - `console`: where the human-readable lines go;
/// - `json`: where the JSON lines go, one per event, each with the fields of
///   the span the event happened in, and the trace and span ids;
/// - `provider`: the OpenTelemetry tracer provider that gives spans ids.
#[expect(unused_variables, reason = "steps 2 to 5 use the arguments")]
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
    // TODO(step 2): a filter built from `filter`, in `RUST_LOG`'s syntax,
    //               that decides for both outputs. Decide where it stands, and
    //               what a directive that does not parse does to the service
    //               (README step 2). Where to look: `EnvFilter`, and how
    //               layers compose.
    // TODO(step 3): a console layer (tracing-subscriber's `fmt`) writing to
    //               `console`: one line per event, as readable in a file or a
    //               pipe as in a terminal (README step 3).
    // TODO(step 4): the OpenTelemetry layer, from tracing-opentelemetry's own
    //               API, with a tracer named "lab02": it gives every span its
    //               ids. Which provider must the tracer come from (README
    //               step 4)?
    // TODO(step 5): JSON lines to `json`, in tracing-subscriber's own JSON
    //               format, carrying the fields of the span each event
    //               happened in; plus the project's trace-id pieces,
    //               `telemetry::TraceIdLayer` and `telemetry::WithTraceIds`.
    //               Where each must stand is yours to work out from their doc
    //               comments and the order in which layers see an event
    //               (README step 5).
    tracing_subscriber::registry()
}

/// For a real program: the filter from `RUST_LOG`, human lines on standard
/// error, JSON lines on standard output.
pub fn init(provider: &SdkTracerProvider) {
    let filter = filter_directive(std::env::var("RUST_LOG").ok());
    let subscriber = subscriber(&filter, std::io::stderr, std::io::stdout, provider);
    tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
}
