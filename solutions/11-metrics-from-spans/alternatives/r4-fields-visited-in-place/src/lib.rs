//! Lab 11: metrics that point at traces. Another correct design: `red_metrics.rs`
//! keeps a server span's `HttpFields` whole, visits each later record into
//! them, and registers the histogram in a sub-registry with a prefix.

pub use lab11_given::*;

pub mod red_metrics;

pub use red_metrics::RedMetrics;
