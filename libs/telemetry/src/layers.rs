//! The pieces `init` is made of, for those who compose a subscriber of
//! their own (lab 02 does): each is one layer of a `tracing_subscriber`
//! registry.
//!
//! ```no_run
//! # use tracing_subscriber::prelude::*;
//! let provider = telemetry::tracer_provider::<opentelemetry_sdk::trace::InMemorySpanExporter>("svc", None);
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracing_subscriber::EnvFilter::new("info"))
//!     .with(telemetry::layers::spans(&provider, "svc"));
//! ```

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use crate::sampling::SampledTraces;

/// Hands every span of a sampled trace to OpenTelemetry (`provider`),
/// which gives it its trace and span ids and exports it, with the warnings
/// and errors inside it.
///
/// The sampler (`OTEL_TRACES_SAMPLER`) decides at the trace's first span
/// in this process, and the layer never sees the other spans of a trace it
/// dropped ([`crate::sampling`]): tracing-opentelemetry (0.34) would build
/// each one's `SpanBuilder`, recording every field as an attribute, and
/// ask the sampler only as it ends (`just bench`, `span_cost`:
/// `otel_sampled_out` for such a trace's root, `otel_sampled_out_child`
/// for any other of its spans). Such a trace still propagates, with the
/// flag `00` ([`crate::propagation::inject`]). A span the sampler drops
/// reaches no span processor: no CPU-time attribute, no place in the
/// export queue, no export (`tests/sampled_out.rs`,
/// `tests/sampled_traces.rs`).
///
/// `RemembersDispatch` hands the filter its dispatcher: compose the layer
/// directly, not behind an `Option` or in a `Vec` of layers, which do not
/// pass the dispatcher on (debug builds then panic at the first span).
pub fn spans<S>(provider: &SdkTracerProvider, service: &str) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let (sampled_traces, remembers_dispatch) = SampledTraces::new_pair();
    let otel = opentelemetry_layer(provider, service).with_filter(sampled_traces);
    Layer::<S>::and_then(remembers_dispatch, otel)
}

/// [`spans`], each with its own CPU time ([`crate::cpu_time`]) measured
/// under the same filter: the spans of a trace the sampler dropped are
/// not measured either, as nothing would export their figure.
pub fn spans_with_cpu_time<S>(provider: &SdkTracerProvider, service: &str) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let (sampled_traces, remembers_dispatch) = SampledTraces::new_pair();
    // The CPU-time layer first: on a close it runs before the
    // OpenTelemetry layer, and leaves the span's figure for the span
    // processor that the layer's close hands the span to.
    let measured = Layer::<S>::and_then(
        crate::cpu_time::measuring(),
        opentelemetry_layer(provider, service),
    )
    .with_filter(sampled_traces);
    Layer::<S>::and_then(remembers_dispatch, measured)
}

/// tracing-opentelemetry's layer, set up as the workshop's spans need it.
fn opentelemetry_layer<S>(
    provider: &SdkTracerProvider,
    service: &str,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer::<S>()
        .with_tracer(provider.tracer(service.to_owned()))
        // Busy/idle time per span costs two clock reads on every enter and
        // exit; thread names cost an allocation per span. Neither is worth
        // it here: the span's own duration is what the workshop reads.
        .with_tracked_inactivity(false)
        // Making each span's OpenTelemetry context the thread's current one
        // on every enter (a context clone, a thread-local push and pop, on
        // every poll of an instrumented future) serves code that asks
        // OpenTelemetry for its current context; here nothing does: parents
        // come from `tracing`'s current span, and propagation reads the
        // span's own context. It was the largest single cost of the spans
        // under load.
        .with_context_activation(false)
        .with_threads(false)
        // Source file and line of each span: three more attributes to encode,
        // send and store for every span, and the span name already says
        // where it comes from.
        .with_location(false)
    // The filter (`SampledTraces`) lets through spans of sampled traces,
    // and the events that say something went wrong; the rest is for the
    // logs. Events recorded on spans are exported with them, so keeping
    // INFO chatter out of traces is most of what export costs beyond the
    // spans themselves.
}

/// What the log lines leave out: sqlx's statement events (the database
/// spans carry them) and tokio's own instrumentation.
pub(crate) fn for_logs(meta: &tracing::Metadata<'_>) -> bool {
    meta.target() != crate::db::STATEMENTS && !is_tokio_runtime(meta)
}

/// tokio's own instrumentation (its tasks and resources, for tokio-console
/// with the `console` feature): never part of a trace or a log. A filter
/// that reads only the metadata is decided once per call site, so this
/// costs nothing per span.
pub(crate) fn is_tokio_runtime(meta: &tracing::Metadata<'_>) -> bool {
    meta.target().starts_with("tokio") || meta.target().starts_with("runtime")
}
