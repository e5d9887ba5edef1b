//! Lab 06, export, and losing nothing: another correct design. The
//! resource's version and environment come from a `ResourceDetector` of the
//! crate's own, `ThisBuild`, given to the resource builder with
//! `with_detector`, as the SDK's own detectors are; the service's name is
//! set on the builder after it. The pipeline is the reference's, written
//! out again because it calls this `resource`; the handle that shuts it down
//! is taken from the reference.

pub use lab06_given::service;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{ExporterBuildError, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::ResourceDetector;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::prelude::*;

// The handle that flushes at shutdown is the reference solution's.
pub use reference::Telemetry;

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

/// Which build of this crate runs, and where: the version Cargo compiled it
/// as, and the workshop's environment.
#[derive(Debug)]
struct ThisBuild;

impl ResourceDetector for ThisBuild {
    fn detect(&self) -> Resource {
        Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                KeyValue::new("deployment.environment.name", "workshop"),
            ])
            .build()
    }
}

/// What every span says about where it comes from: the service's name, and
/// what `ThisBuild` detects.
pub fn resource(service: &str) -> Resource {
    Resource::builder()
        .with_detector(Box::new(ThisBuild))
        .with_service_name(service.to_owned())
        .build()
}
