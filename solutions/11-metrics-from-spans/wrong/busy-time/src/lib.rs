//! Lab 11: metrics that point at traces.
//!
//! Believed: a request's duration is the time its span was busy, entered
//! (`on_enter` to `on_exit`, summed), as fmt's `time.busy` shows it; the
//! time it waited with the span exited is not the request's.

pub use lab11_given::*;

pub mod red_metrics;

pub use red_metrics::RedMetrics;
