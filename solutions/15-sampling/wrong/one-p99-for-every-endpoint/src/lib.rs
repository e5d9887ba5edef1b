//! Lab 15, a wrong solution: a trace is slow when its root took longer
//! than the p99 of the traffic's last 1,000 traces, whatever their
//! endpoint, believing that slow is slow. But that p99 is the slowest
//! endpoint's: a search seven times slower than its usual is still faster
//! than most checkouts, and is dropped. The head sampler is the
//! reference's.

pub use reference::{allowance, budget, completed, head, keep, recent};
pub mod tail;
