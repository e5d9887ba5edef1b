//! Lab 11: metrics that point at traces. A wrong solution: `red_metrics.rs`
//! keeps each request's start in a thread-local rather than in its span.

pub use lab11_given::*;

pub mod red_metrics;

pub use red_metrics::RedMetrics;
