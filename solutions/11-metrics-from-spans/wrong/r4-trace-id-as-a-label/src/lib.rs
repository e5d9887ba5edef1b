//! Lab 11: metrics that point at traces. A wrong solution: `red_metrics.rs`
//! labels each series with the request's trace id too, besides the exemplar.

pub use lab11_given::*;

pub mod red_metrics;

pub use red_metrics::RedMetrics;
