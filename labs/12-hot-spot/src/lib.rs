//! Lab 12, find and fix the hot spot.
//!
//! The demo's pricing service is slow under load, and a profile of it is
//! one wide tower: pricing a quote. `pricer.rs` is that code, as it
//! shipped; make it at least five times faster without changing a single
//! result. `given/src/original.rs` keeps the shipped version, for the grader to
//! compare against; `given/src/book.rs` is the data.
//!
//! `pricer.rs` is yours; `book` and `original` are given (in `given/`, outside
//! your `src/`).
//!
//! Run `just lab 12` to check your work, `just hint 12` when stuck.

pub use lab12_given::{book, original};
pub mod pricer;
