//! Lab 05, the critical path and the serial fan-out: the reference solution.
//! Only `look_up` in `checkout.rs` differs from the starter.

pub mod checkout;
#[path = "../../../labs/05-critical-path/src/lookups.rs"]
pub mod lookups;
