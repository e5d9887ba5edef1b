//! Lab 07, the critical path and the serial fan-out: another correct design.
//! Each lookup is a task of its own, spawned in the request's span, behind a
//! handle that aborts the task when it is dropped; `try_join!` waits on the
//! three handles, so the first error returns at once and cancels the others.

pub mod checkout;
pub use lab07_given::lookups;
