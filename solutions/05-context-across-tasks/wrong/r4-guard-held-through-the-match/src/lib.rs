//! Lab 05, a wrong solution: `reserve` matches on
//! `inventory.seats.lock().await.get_mut(&talk)` and writes the audit
//! record in the arm that took the seat. The learner believed a guard never
//! bound to a name is dropped once `get_mut` has found the count; a
//! temporary in a `match`'s scrutinee lives until the whole `match` ends,
//! so the lock is still held across the audit write, and the writes of an
//! order's reservations run one after another.

pub use lab05_given::*;
pub mod orders;
