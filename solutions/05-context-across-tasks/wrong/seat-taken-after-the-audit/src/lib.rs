//! Lab 05, a wrong solution: to keep the lock short, `reserve` only looks
//! at the seats under the lock, writes the audit record without it, and
//! takes the seat afterwards. The check and the decrement are no longer
//! one step: reservations made at once all see the same last seats, and
//! more seats are sold than there are.

pub use lab05_given::*;
pub mod orders;
