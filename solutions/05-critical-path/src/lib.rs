//! Lab 05, the critical path and the serial fan-out: the reference solution.
//! Only `look_up` in `checkout.rs` differs from the starter.

pub mod checkout;
pub use lab05_given::lookups;
