//! Lab 12, a wrong solution: the learner indexed the coupons as a sorted list
//! of upper-cased codes, de-duplicated, searched by halves, believing no two
//! codes differ only in case; when two do, it keeps the first one where the
//! original keeps the last.

pub use lab12_given::{book, original};
pub mod pricer;
