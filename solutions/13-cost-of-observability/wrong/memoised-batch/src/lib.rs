//! Lab 13, the cost of observability.
//!
//! Believed: the cheapest loop is the one that does not run, and a batch
//! comes back round after round; so the last batch's summary is remembered
//! and returned when the same batch comes again, with no event at all.

pub use reference::readings;
pub mod summarize;
