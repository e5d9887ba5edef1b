//! Lab 15, keep what matters: sampling. Another correct design: the head
//! sampler's roots decided by a sampler of its own, which counts them
//! (`head.rs`); the rest is the reference's.

pub use reference::{allowance, budget, completed, keep, recent, tail};
pub mod head;
