//! Lab 06, a wrong solution: so that no span waits in the queue, where it
//! could be lost, the batch processor exports every span the moment it
//! ends (batches of one). Nothing is lost, but every span costs an HTTP
//! request: the batching the lab asks for is gone.

pub use lab06_given::service;
pub use reference::resource;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{ExporterBuildError, WithExportConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
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
    // A span leaves as soon as it ends: none waits in the queue.
    let config = BatchConfigBuilder::default()
        .with_max_export_batch_size(1)
        .build();
    let batches = BatchSpanProcessor::builder(exporter)
        .with_batch_config(config)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(batches)
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
        self.provider.shutdown()
    }
}
