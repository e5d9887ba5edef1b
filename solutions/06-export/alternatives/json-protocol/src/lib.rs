//! Lab 06, export, and losing nothing: another correct design. The exporter
//! speaks OTLP/HTTP with JSON bodies (`Protocol::HttpJson`, which the
//! collector takes as well as protobuf), the layer is made with
//! `OpenTelemetryLayer::new`, the resource is built attribute by attribute,
//! and `shutdown` gives the flush a time limit.

pub use reference::service;

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{ExporterBuildError, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::SubscriberExt;

/// How long `shutdown` waits for the last batches to be sent.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

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
    let traces_url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(traces_url)
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_resource(resource(service))
        .with_batch_exporter(exporter)
        .build();
    let tracer = provider.tracer(service.to_owned());
    let subscriber = Registry::default().with(OpenTelemetryLayer::new(tracer));
    Ok((subscriber, Telemetry { provider }))
}

/// What every span says about where it comes from: the service's name,
/// version and environment.
pub fn resource(service: &str) -> Resource {
    Resource::builder()
        .with_service_name(service.to_owned())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attribute(KeyValue::new("deployment.environment.name", "workshop"))
        .build()
}

impl Telemetry {
    /// Sends every span still queued, then stops the export. Call it last,
    /// once the service has served its last request.
    pub fn shutdown(self) -> OTelSdkResult {
        self.provider.shutdown_with_timeout(SHUTDOWN_LIMIT)
    }
}
