//! Lab 13, the cost of observability.
//!
//! Believed: a big batch (ten thousand readings and more) is a bulk import;
//! its anomalies are counted in the summary instead of a WARN each, and only
//! smaller batches say everything.

pub use reference::readings;
pub mod summarize;
