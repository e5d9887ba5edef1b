//! Lab 07, a wrong solution: the lookups run at once, but a failing loyalty
//! service is taken as "no discount" rather than an error, believing a
//! checkout should not fail for want of a discount. The README asks for a
//! 502 naming the service that failed.

pub mod checkout;
pub use lab07_given::lookups;
