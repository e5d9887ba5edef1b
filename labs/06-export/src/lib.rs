//! Lab 06, export, and losing nothing.
//!
//! Spans are only useful where someone can look at them: in a collector.
//! OpenTelemetry sends them over OTLP, here OTLP/HTTP to the workshop's
//! collector, which speaks what Jaeger and Tempo speak. When each span
//! leaves, and what the service must do before it exits so that none is
//! lost, is this lab's question (README, Background and steps 2 and 5).
//!
//! Run `just lab 6` to check your work, `just hint 6` when stuck.

pub use lab06_given::service;

use opentelemetry_otlp::ExporterBuildError;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;

/// Flushes and stops the span export when the service is done.
pub struct Telemetry {
    #[expect(dead_code, reason = "step 5 uses it")]
    provider: SdkTracerProvider,
}

/// Sets up span export for `service`: every span goes over OTLP/HTTP to
/// the collector at `endpoint` (for example `http://127.0.0.1:4318`).
/// Returns the subscriber to install and the handle that makes sure, at
/// shutdown, that no span is lost.
#[expect(unused_variables, reason = "steps 1 and 2 use the arguments")]
pub fn telemetry(
    service: &str,
    endpoint: &str,
) -> Result<(impl Subscriber + Send + Sync, Telemetry), ExporterBuildError> {
    // TODO(step 1): an exporter that sends spans over OTLP/HTTP to the
    //               collector, which takes them at `{endpoint}/v1/traces`.
    //               Does the exporter add that path to an endpoint set in
    //               code (README step 1)? Where to look:
    //               `opentelemetry_otlp::SpanExporter`'s builder, and the
    //               `WithExportConfig` trait for the endpoint.
    // TODO(step 2): a provider that sends the spans through that exporter,
    //               saying where they come from (`resource`). Decide whether
    //               it hands each span over as it ends or queues them
    //               (README step 2). Where to look: `SdkTracerProvider`'s
    //               builder, and the span processors of the SDK
    //               specification.
    // TODO(step 4): the subscriber: a registry whose layer hands every span
    //               to OpenTelemetry, with a tracer from a provider: which
    //               one, for your choices of steps 2 and 3 to apply (README
    //               step 4)? Where to look: the crate docs of
    //               `tracing_opentelemetry`.
    let provider = SdkTracerProvider::builder().build();
    Ok((tracing_subscriber::registry(), Telemetry { provider }))
}

/// What every span says about where it comes from: the service's name,
/// version and environment.
#[expect(unused_variables, reason = "step 3 uses `service`")]
pub fn resource(service: &str) -> Resource {
    // TODO(step 3): a resource that names the service and says which
    //               version (this crate's, as Cargo knows it when compiling)
    //               runs in which environment ("workshop"), under the
    //               attribute names OpenTelemetry's semantic conventions give
    //               them (README step 3). Where to look: `Resource`'s builder.
    Resource::builder_empty().build()
}

impl Telemetry {
    /// Sends every span still queued, then stops the export. Call it last,
    /// once the service has served its last request.
    pub fn shutdown(self) -> OTelSdkResult {
        // TODO(step 5): when this returns, no span may still wait to be
        //               sent, even if the process exits right after (README
        //               step 5). Where to look: the methods of
        //               `SdkTracerProvider`, and what the SDK specification
        //               asks of a provider's shutdown.
        Ok(())
    }
}
