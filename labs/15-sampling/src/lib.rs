//! Lab 15, keep what matters: sampling.
//!
//! `head.rs` is the sampler the services are built with: it decides when a
//! trace's first span starts, before anything has happened in it, whether
//! the trace is recorded at all. `tail.rs` decides once a trace is
//! complete, when what happened in it is known, whether it is stored. Both
//! have one budget of spans per second to keep within.
//!
//! `head.rs` and `tail.rs` are yours; `budget`, `completed` and `keep` are
//! given (`given/src/`).
//!
//! Run `just lab 15` to check your work, `just hint 15` when stuck.

pub use lab15_given::{budget, completed, keep};
pub mod head;
pub mod tail;
