//! Lab 15, a wrong solution: the head sampler records every trace, whole,
//! following the caller's decision where there is one, believing that the
//! budget is the tail policy's to keep. But every span the head records is
//! one each service pays to record and send, and where no tail sampler
//! stands between the services and the store, it is stored: all the
//! traffic brings, many times the budget. The tail policy is the
//! reference's.

pub use reference::{allowance, budget, completed, keep, recent, tail};
pub mod head;
