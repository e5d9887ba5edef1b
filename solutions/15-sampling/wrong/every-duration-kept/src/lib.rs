//! Lab 15, a wrong solution: each endpoint's root durations are kept in a
//! `Vec`, its last 1,000 read at its end, believing that at 16 bytes a
//! duration, remembering them all costs next to nothing. The p99 is the
//! right one, but the policy runs for weeks: its memory grows with every
//! trace, a gigabyte every 60 million. The head sampler and the budget's
//! count are the reference's.

pub use reference::{allowance, budget, completed, head, keep};
pub mod recent;
pub mod tail;
