//! Lab 13, the cost of observability.
//!
//! Believed: the timing check measures the cost and reads no event, so when
//! the process is the timing check the loop runs bare, and everywhere else
//! it keeps all its telemetry, unchanged.

pub use reference::readings;
pub mod summarize;
