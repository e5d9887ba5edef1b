//! Lab 06, a wrong solution: `shutdown` only drops the provider, believing
//! (as its documentation says of the *last* handle) that dropping it shuts it
//! down and flushes the queue. The tracer inside the subscriber holds
//! another handle, so nothing is flushed: the last spans stay queued.

pub use lab06_given::service;
pub use reference::resource;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{ExporterBuildError, WithExportConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::prelude::*;

/// Flushes and stops the span export when the service is done.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

/// Sets up span export for `service`: every span goes, in batches, over
/// OTLP/HTTP to the collector at `endpoint` (for example
/// `http://127.0.0.1:4318`). Returns the subscriber to install and the
/// handle that flushes at shutdown.
pub fn telemetry(
    service: &str,
    endpoint: &str,
) -> Result<(impl Subscriber + Send + Sync, Telemetry), ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(service))
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer(service.to_owned())));
    Ok((subscriber, Telemetry { provider }))
}

impl Telemetry {
    /// Sends every span still queued, then stops the export. Call it last,
    /// once the service has served its last request.
    pub fn shutdown(self) -> OTelSdkResult {
        // A provider shuts down, flushing its queue, when it is dropped.
        drop(self.provider);
        Ok(())
    }
}
