//! Lab 15, a wrong solution: the failed and the slow are kept whatever the
//! budget says, so they are left out of its count, believing that the
//! budget is the ordinary traces' alone. But the store takes every span
//! kept: the ordinary traces spend nine tenths of the budget on their own,
//! and what the failed and the slow take comes on top. The head sampler,
//! the recent latencies and the budget's count are the reference's.

pub use reference::{allowance, budget, completed, head, keep, recent};
pub mod tail;
