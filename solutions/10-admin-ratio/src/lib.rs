//! Lab 10, raise the ratio without losing a fact: the reference solution.
//! Only `orders.rs` differs from the starter.

pub mod orders;
#[path = "../../../labs/10-admin-ratio/src/shop.rs"]
pub mod shop;
