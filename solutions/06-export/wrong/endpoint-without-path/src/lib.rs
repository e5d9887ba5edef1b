//! Lab 06, a wrong solution: the exporter is given the collector's base URL,
//! believing it appends `/v1/traces` as it does when the endpoint comes from
//! `OTEL_EXPORTER_OTLP_ENDPOINT`. An endpoint set in code is used as it is,
//! so every batch goes to `/`, which takes no traces.

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
    // The HTTP exporter knows where OTLP traces go on a collector.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
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
        self.provider.shutdown()
    }
}
