//! Lab 15, keep what matters: sampling. The reference solution.
//!
//! `head.rs` is the services' sampler: the parent's decision for a span
//! that has one, the budget's share of trace ids for a root. `tail.rs`
//! keeps every failed trace, every trace slower than its endpoint's recent
//! p99 (`recent.rs`), and of the rest what the budget leaves
//! (`allowance.rs`).

pub use lab15_given::{budget, completed, keep};
pub mod allowance;
pub mod head;
pub mod recent;
pub mod tail;
