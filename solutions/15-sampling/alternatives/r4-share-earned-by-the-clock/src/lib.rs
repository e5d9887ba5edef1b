//! Lab 15, keep what matters: sampling. Another correct design: the rest
//! kept as a share of the ordinary traces, chosen by trace id, the share
//! worked out from the budget the traces' own clock has earned
//! (`allowance.rs`). The tail policy is the reference's, written out again
//! because it holds this design's `Allowance`; the rest is the
//! reference's.

pub use reference::{budget, completed, head, keep, recent};
pub mod allowance;
pub mod tail;
