//! Lab 15, a wrong solution: each endpoint's p99 is read from an HDR
//! histogram of every root duration it has ever had, believing that a
//! histogram's fixed size is all "bounded memory" asks, and that more
//! durations only make the p99 more exact. But latency moves: once an
//! endpoint has become faster, its old durations hold the p99 up for as long
//! as they are more than a hundredth of its history, and a trace many times
//! slower than its new usual is judged ordinary. The head sampler and the
//! budget's count are the reference's.

pub use reference::{allowance, budget, completed, head, keep};
pub mod recent;
pub mod tail;
