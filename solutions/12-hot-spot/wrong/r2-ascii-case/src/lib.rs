//! Lab 12, a wrong solution: the learner built the coupon index once, but
//! keyed it by `to_ascii_uppercase`, believing it is the same as the
//! original's `to_uppercase` for codes, only cheaper; a code with a letter
//! outside ASCII no longer matches as it did.

pub use lab12_given::{book, original};
pub mod pricer;
