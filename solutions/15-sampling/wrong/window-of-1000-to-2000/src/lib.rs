//! Lab 15, a wrong solution: each endpoint's p99 is read from two HDR
//! histograms of 1,000 durations each, turned as they fill, as the
//! collector's tail sampler does, believing that a p99 over the last 1,000
//! to 2,000 traces is recent, since it always covers the last 1,000. But
//! recent is no older than the last 1,000: once an endpoint has become
//! faster, the window still holds durations from before the change for up
//! to 1,000 traces after its last 1,000 are all new, and a trace several
//! times slower than its new usual is judged by the old speed and dropped.
//! The head sampler and the budget's count are the reference's.

pub use reference::{allowance, budget, completed, head, keep};
pub mod recent;
pub mod tail;
