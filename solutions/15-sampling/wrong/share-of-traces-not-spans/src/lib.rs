//! Lab 15, a wrong solution: the head sampler keeps the spans per second
//! the store takes over the traces per second the traffic brings, believing
//! that share of the traces fits the budget. It leaves out the spans each
//! trace has: every trace kept costs all of them, so the store receives the
//! budget times the spans per trace. The tail policy is the reference's.

pub use reference::{allowance, budget, completed, keep, recent, tail};
pub mod head;
