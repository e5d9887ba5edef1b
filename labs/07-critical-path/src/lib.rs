//! Lab 07, the critical path and the serial fan-out.
//!
//! A checkout asks three services (stock, price, loyalty discount) before
//! it answers. The code makes the three lookups one after another, so the
//! checkout takes as long as all three together. The trace shows it: a
//! staircase of client spans, every one of them on the *critical path*, the
//! part of the trace its duration waited on. Must they wait for one another
//! (README step 1)?
//!
//! Your part is `look_up` in `checkout.rs`; the services are given.
//!
//! Run `just lab 7` to check your work, `just hint 7` when stuck.

pub mod checkout;
pub use lab07_given::lookups;
