//! Lab 15's given code: what the starter and the solution both build on.
//! It is not part of the exercise: the grader relies on it, so it lives
//! outside your `src/` and `labs/checksums.txt` guards it. Your crate
//! re-exports it, so `crate::budget`, `crate::completed` and `crate::keep`
//! work there as if they were your own.

pub mod budget;
pub mod completed;
pub mod keep;
