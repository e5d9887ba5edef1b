//! Lab 15, a wrong solution: each endpoint's root durations are gathered in
//! batches of 1,000, and the p99 of the last full batch judges every trace
//! until the next batch is full, believing that a p99 over 1,000 of the
//! endpoint's traces, the latest that make a whole batch, is recent. But
//! the batch a trace is judged by began up to 2,000 traces before it: once
//! an endpoint has become faster, the batch that straddles the change
//! judges the next 1,000 traces by durations from before it, and a trace
//! several times slower than its new usual is dropped. The head sampler
//! and the budget's count are the reference's.

pub use reference::{allowance, budget, completed, head, keep};
pub mod recent;
pub mod tail;
