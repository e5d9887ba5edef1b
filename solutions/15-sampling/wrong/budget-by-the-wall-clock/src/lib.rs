//! Lab 15, a wrong solution: the spans the budget allows are counted by the
//! clock's seconds since the policy began, as a rate limiter would,
//! believing that a budget of spans per second is one of the clock's. But
//! the policy decides on a trace when the collector gets to it, not when
//! the trace ended: a backlog of minutes of traffic, decided in a second,
//! is allowed a second's worth of spans, and what the failed and the slow
//! take leaves the rest nothing. The head sampler and the recent latencies
//! are the reference's.

pub use reference::{budget, completed, head, keep, recent};
pub mod allowance;
pub mod tail;
