//! Lab 11: metrics that point at traces. Another correct design: a server
//! span is known by its `otel.kind`, each fact about a request (its start,
//! its route, its status) is an extension type of its own, and the buckets
//! are the ones OpenTelemetry recommends for HTTP durations.

pub use lab11_given::*;

pub mod red_metrics;

pub use red_metrics::RedMetrics;
