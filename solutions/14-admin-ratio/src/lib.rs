//! Lab 14, raise the ratio without losing a fact: the reference solution.
//! Only `orders.rs` differs from the starter.

pub mod orders;
pub use lab14_given::shop;
