//! Lab 09: metrics that point at traces. The reference solution.

pub use lab09_given::*;

pub mod red_metrics;

pub use red_metrics::RedMetrics;
