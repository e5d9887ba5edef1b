//! Lab 15, keep what matters: sampling. Another correct design: each
//! endpoint's recent latencies in HDR histograms (`recent.rs`). The tail
//! policy is the reference's, written out again because it holds this
//! design's `RecentLatency`; the rest is the reference's.

pub use reference::{allowance, budget, completed, head, keep};
pub mod recent;
pub mod tail;
