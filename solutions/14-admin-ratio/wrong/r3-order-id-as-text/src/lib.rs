//! Lab 14, raise the ratio without losing a fact: a wrong solution. Only
//! `orders.rs` differs from the reference: its spans record `order_id`
//! with the `%` sigil, as the id's text rather than as a number.

pub mod orders;
pub use reference::shop;
