//! Lab 06, export, and losing nothing.
//!
//! Spans are only useful where someone can look at them: in a collector.
//! OpenTelemetry sends them over OTLP, here OTLP/HTTP to the workshop's
//! collector, which speaks what Jaeger and Tempo speak. Sending each span
//! as it ends would cost a request per span; a *batch processor* queues them
//! and sends them in batches, from a thread of its own. The price of a queue
//! is that spans wait in it: a service that exits without flushing the queue
//! loses its last spans, the ones about how it ended.
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
    #[expect(dead_code, reason = "step 5 reads it, to shut it down")]
    provider: SdkTracerProvider,
}

/// Sets up span export for `service`: every span goes, in batches, over
/// OTLP/HTTP to the collector at `endpoint` (for example
/// `http://127.0.0.1:4318`). Returns the subscriber to install and the
/// handle that flushes at shutdown.
#[expect(unused_variables, reason = "steps 1 and 2 use the arguments")]
pub fn telemetry(
    service: &str,
    endpoint: &str,
) -> Result<(impl Subscriber + Send + Sync, Telemetry), ExporterBuildError> {
    // TODO(step 1): an exporter that sends spans over OTLP/HTTP to the
    //               collector, which takes them at `{endpoint}/v1/traces`.
    //               Where to look: `opentelemetry_otlp::SpanExporter`'s
    //               builder, and the `WithExportConfig` trait for the endpoint.
    // TODO(step 2): a provider that sends the spans through that exporter in
    //               batches, from a thread of its own, saying where they come
    //               from (`resource(service)`). Where to look:
    //               `SdkTracerProvider`'s builder.
    // TODO(step 4): the subscriber: a registry whose layer hands every span
    //               to OpenTelemetry, with a tracer from the provider. Where
    //               to look: the crate docs of `tracing_opentelemetry`.
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
        // TODO(step 5): shut the provider down: that flushes its queue.
        Ok(())
    }
}
