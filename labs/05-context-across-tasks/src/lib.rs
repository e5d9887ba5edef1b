//! Lab 05, context across tasks.
//!
//! A span is current on one task at a time. Work that moves to another
//! task (`tokio::spawn`, a `JoinSet`, `spawn_blocking`, a queue consumer)
//! starts with no current span, so its spans become the roots of traces of
//! their own: the trace of the order that caused them loses them. And a
//! lock held across an `.await` shows in a trace as work that never
//! overlaps, however many requests wait for it.
//!
//! `orders.rs` is yours; the shop is given (`given/src/lib.rs`).
//!
//! Run `just lab 5` to check your work, `just hint 5` when stuck.

pub use lab05_given::*;
pub mod orders;
