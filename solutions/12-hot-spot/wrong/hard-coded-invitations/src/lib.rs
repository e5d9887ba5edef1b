//! Lab 12, find and fix the hot spot.
//!
//! Believed: the book's thousands of codes are `guest-NNNNN` invitations, each
//! 100 % off talk N % 8 + 1, so an invitation is computed from its code and
//! only the handful of public codes is indexed.

pub use reference::{book, original};
pub mod pricer;
