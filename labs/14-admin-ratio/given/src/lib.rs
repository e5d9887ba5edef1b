//! Lab 14's given code: what the starter and the solution both build on.
//! It is not part of the exercise: the grader relies on it, so it lives
//! outside your `src/` and `labs/checksums.txt` guards it. Your crate
//! re-exports it, so `crate::shop` works there as if it were your own.

pub mod shop;
