//! Lab 06, export, and losing nothing: another correct design. The batch
//! processor is built explicitly and given to the provider as a span
//! processor (what `with_batch_exporter` does for you), and `shutdown`
//! flushes before it shuts down. The resource is the reference's.

pub use lab06_given::service;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{ExporterBuildError, WithExportConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
use reference::resource;
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
    let batches = BatchSpanProcessor::builder(exporter).build();
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
        self.provider.force_flush()?;
        self.provider.shutdown()
    }
}
